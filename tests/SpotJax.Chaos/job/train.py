#!/usr/bin/env python3
"""The chaos run's training job: a pretend training loop that leaves evidence.

Like examples/quickstart/train.py it follows the SpotJax environment contract (checkpoints in
SPOT_CHECKPOINT_DIR, resume when SPOT_IS_RESTART=true, save and exit on SIGTERM), and every start,
step, checkpoint and exit is appended as one JSON line to the file CHAOS_LEDGER names, so that the
chaos run can tell a script started twice for one attempt and worker, two attempts running at once,
and an attempt resuming below the last committed checkpoint.
"""

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import time

CHECKPOINT_NAME = re.compile(r"step_(\d{8})\.json$")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--step-seconds", type=float, default=0.2)
    parser.add_argument("--checkpoint-every", type=int, default=3)
    options = parser.parse_args()

    job = os.environ["SPOT_JOB_ID"]
    attempt = int(os.environ["SPOT_ATTEMPT"])
    worker = int(os.environ.get("SPOT_WORKER_ID", "0"))
    folder = os.environ["SPOT_CHECKPOINT_DIR"]
    ledger = os.open(os.environ["CHAOS_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(kind, **fields):
        # One write of one short line to an O_APPEND file: lines from many processes never interleave.
        line = dict(t=time.time(), kind=kind, job=job, attempt=attempt, worker=worker, pid=os.getpid(), **fields)
        os.write(ledger, (json.dumps(line) + "\n").encode())

    stop = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    os.makedirs(folder, exist_ok=True)
    steps = sorted(int(m.group(1)) for m in map(CHECKPOINT_NAME.match, os.listdir(folder)) if m)
    step = 0
    if os.environ.get("SPOT_IS_RESTART") == "true" and steps:
        with open(os.path.join(folder, "step_%08d.json" % steps[-1]), encoding="utf-8") as f:
            step = json.load(f)["step"]
    record("start", resumed=step)
    print("attempt {} worker {} starts at step {}".format(attempt, worker, step), flush=True)

    def save(at):
        if worker != 0:
            return
        name = "step_%08d.json" % at
        handle, temp = tempfile.mkstemp(prefix="." + name + ".", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            json.dump({"step": at}, f)
        os.replace(temp, os.path.join(folder, name))
        record("save", step=at)

    while step < options.steps:
        deadline = time.monotonic() + options.step_seconds
        while not stop and time.monotonic() < deadline:
            time.sleep(0.02)
        if stop:
            save(step)
            record("sigterm", step=step)
            return 0
        step += 1
        record("step", step=step)
        if step % options.checkpoint_every == 0:
            save(step)

    if worker == 0:
        with open(os.path.join(folder, "final.json"), "w", encoding="utf-8") as f:
            json.dump({"step": step}, f)
    record("finished", step=step)
    print("finished at step {}".format(step), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
