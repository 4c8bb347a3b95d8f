#!/usr/bin/env python3
"""SpotJax quickstart: a pretend training loop that checkpoints and resumes, no JAX needed.

It follows the SpotJax environment contract: checkpoints go to SPOT_CHECKPOINT_DIR (a local
folder or a gs:// prefix), SPOT_IS_RESTART=true means "resume from the newest checkpoint", and
SIGTERM (a preemption notice) means "save now and exit".
"""

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

CHECKPOINT_NAME = re.compile(r"step_(\d{8})\.json$")


class LocalCheckpoints:
    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def steps(self):
        return sorted(int(m.group(1)) for m in map(CHECKPOINT_NAME.match, os.listdir(self.folder)) if m)

    def read(self, name):
        with open(os.path.join(self.folder, name), "r", encoding="utf-8") as f:
            return json.load(f)

    def write(self, name, body):
        # Hidden temp name, then rename: a reader (or the control plane's watcher) never sees half a file.
        handle, temp = tempfile.mkstemp(prefix="." + name + ".", dir=self.folder)
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            json.dump(body, f)
        os.replace(temp, os.path.join(self.folder, name))


class GcsCheckpoints:
    """The same operations through gcloud, so the example also runs on Google Cloud."""

    def __init__(self, prefix):
        self.prefix = prefix.rstrip("/")

    def steps(self):
        listing = subprocess.run(["gcloud", "storage", "ls", self.prefix + "/step_*.json"],
                                 capture_output=True, text=True, check=False)
        names = (line.rsplit("/", 1)[-1] for line in listing.stdout.splitlines())
        return sorted(int(m.group(1)) for m in map(CHECKPOINT_NAME.match, names) if m)

    def read(self, name):
        with tempfile.TemporaryDirectory() as folder:
            local = os.path.join(folder, name)
            subprocess.run(["gcloud", "storage", "cp", self.prefix + "/" + name, local], check=True, capture_output=True)
            with open(local, "r", encoding="utf-8") as f:
                return json.load(f)

    def write(self, name, body):
        # An object upload is atomic: readers see the old object or the new one.
        with tempfile.TemporaryDirectory() as folder:
            local = os.path.join(folder, name)
            with open(local, "w", encoding="utf-8") as f:
                json.dump(body, f)
            subprocess.run(["gcloud", "storage", "cp", local, self.prefix + "/" + name], check=True, capture_output=True)


def loss_at(step):
    return round(2.0 * math.exp(-step / 15.0) + 0.1, 6)


def main():
    parser = argparse.ArgumentParser(description="SpotJax quickstart training loop")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--step-seconds", type=float, default=0.1)
    parser.add_argument("--checkpoint-every", type=int, default=5)
    parser.add_argument("--wait-for-preemption", action="store_true",
                        help="on the first attempt, wait at the last step for a preemption instead of finishing, "
                             "so that a recovery can be watched by hand however long it takes to preempt")
    options = parser.parse_args()

    checkpoint_dir = os.environ.get("SPOT_CHECKPOINT_DIR", "checkpoints")
    is_restart = os.environ.get("SPOT_IS_RESTART", "false").lower() == "true"
    attempt = os.environ.get("SPOT_ATTEMPT", "1")
    worker = int(os.environ.get("SPOT_WORKER_ID", "0"))
    # Every worker of a slice computes; one writer keeps checkpoints consistent.
    writer = worker == 0
    store = GcsCheckpoints(checkpoint_dir) if checkpoint_dir.startswith("gs://") else LocalCheckpoints(checkpoint_dir)

    stop = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))

    step = 0
    existing = store.steps() if is_restart else []
    if existing:
        step = store.read("step_%08d.json" % existing[-1])["step"]
        print("resumed from checkpoint step {}".format(step), flush=True)
    else:
        print("starting fresh", flush=True)

    def save(at):
        if writer:
            store.write("step_%08d.json" % at, {"step": at, "loss": loss_at(at)})
            print("saved checkpoint at step {}".format(at), flush=True)

    def preempted():
        print("preemption notice (SIGTERM) at step {}".format(step), flush=True)
        save(step)
        return 0

    while step < options.steps:
        deadline = time.monotonic() + options.step_seconds
        while not stop and time.monotonic() < deadline:
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        if stop:
            return preempted()
        step += 1
        print("step {}/{} loss {} (worker {}, attempt {})".format(step, options.steps, loss_at(step), worker, attempt), flush=True)
        if step % options.checkpoint_every == 0:
            save(step)

    if options.wait_for_preemption and not is_restart:
        print("reached step {}; waiting for a preemption (--wait-for-preemption)".format(step), flush=True)
        while not stop:
            time.sleep(0.05)
        return preempted()

    if writer:
        store.write("final.json", {"step": step})
    print("finished at step {}".format(step), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
