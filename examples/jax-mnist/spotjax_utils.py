"""SpotJax helpers for a JAX training script on Spot TPUs.

In the spirit of the original tool's helper: read the SpotJax environment contract, start
jax.distributed on multi-host slices, restore the newest Orbax checkpoint from
SPOT_CHECKPOINT_DIR, save when a preemption notice (SIGTERM) arrives, and report the preemption.

    env = spotjax_utils.SpotEnv.from_environ()
    spotjax_utils.initialize_distributed(env)
    checkpoints = spotjax_utils.Checkpointer(env.checkpoint_dir)
    state, step = checkpoints.restore(initial_state)
    stop = spotjax_utils.PreemptionWatcher().install()
    while step < steps and not stop.requested:
        ...
        checkpoints.save(step, state)
    if stop.requested:
        checkpoints.save(step, state, force=True)
        spotjax_utils.report_preemption(env, step)

jax and orbax are imported when first used, so the environment handling works without them.
"""

import json
import os
import signal
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass

DEFAULT_COORDINATOR_PORT = 8476


@dataclass(frozen=True)
class SpotEnv:
    """The variables SpotJax (and the original spotax) sets for every worker."""

    checkpoint_dir: str
    log_dir: str
    job_id: str
    is_restart: bool
    attempt: int
    worker_id: int
    num_workers: int
    coordinator_address: str

    @classmethod
    def from_environ(cls, environ=None, default_checkpoint_dir="checkpoints"):
        """Reads the contract; outside SpotJax (a laptop run) the defaults make a single worker."""
        environ = os.environ if environ is None else environ
        num_workers = int(environ.get("SPOT_NUM_WORKERS", "1"))
        worker_id = int(environ.get("SPOT_WORKER_ID", "0"))
        if num_workers < 1 or not 0 <= worker_id < num_workers:
            raise ValueError("SPOT_WORKER_ID={} is not a worker of SPOT_NUM_WORKERS={}".format(worker_id, num_workers))
        coordinator = environ.get("JAX_COORDINATOR_ADDRESS", "")
        if num_workers > 1 and not coordinator:
            raise ValueError("JAX_COORDINATOR_ADDRESS is required on a multi-host slice")
        if coordinator and ":" not in coordinator:
            coordinator = "{}:{}".format(coordinator, DEFAULT_COORDINATOR_PORT)
        return cls(
            checkpoint_dir=environ.get("SPOT_CHECKPOINT_DIR", default_checkpoint_dir),
            log_dir=environ.get("SPOT_LOG_DIR", "logs"),
            job_id=environ.get("SPOT_JOB_ID", "local"),
            is_restart=environ.get("SPOT_IS_RESTART", "false").lower() == "true",
            attempt=int(environ.get("SPOT_ATTEMPT", "1")),
            worker_id=worker_id,
            num_workers=num_workers,
            coordinator_address=coordinator,
        )

    @property
    def is_coordinator(self):
        return self.worker_id == 0

    @property
    def multi_host(self):
        return self.num_workers > 1


def initialize_distributed(env):
    """Joins the slice's processes with jax.distributed on multi-host slices; nothing on one host."""
    if not env.multi_host:
        return False
    import jax

    jax.distributed.initialize(
        coordinator_address=env.coordinator_address,
        num_processes=env.num_workers,
        process_id=env.worker_id,
    )
    return True


class PreemptionWatcher:
    """Turns SIGTERM (and, optionally, the metadata server's preempted flag) into a flag to poll."""

    METADATA_URL = "http://{}/computeMetadata/v1/instance/preempted?wait_for_change=true"

    def __init__(self):
        self._event = threading.Event()
        self.reason = None

    @property
    def requested(self):
        return self._event.is_set()

    def request(self, reason):
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def install(self, signals=(signal.SIGTERM,)):
        for signum in signals:
            signal.signal(signum, lambda number, frame: self.request("signal {}".format(signal.Signals(number).name)))
        return self

    def watch_metadata(self, host=None, timeout=3600):
        """Also watches instance/preempted in a daemon thread (the node agent does this too)."""
        host = host or os.environ.get("GCE_METADATA_HOST", "metadata.google.internal")

        def watch():
            while not self.requested:
                try:
                    request = urllib.request.Request(self.METADATA_URL.format(host), headers={"Metadata-Flavor": "Google"})
                    with urllib.request.urlopen(request, timeout=timeout) as answer:
                        if answer.read().decode().strip() == "TRUE":
                            self.request("metadata preempted")
                except OSError:
                    time.sleep(5)

        threading.Thread(target=watch, name="spotjax-preemption", daemon=True).start()
        return self


class Checkpointer:
    """Orbax checkpoints in SPOT_CHECKPOINT_DIR: one folder per step, the newest few kept."""

    def __init__(self, directory, save_every=100, keep=3):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = directory
        self.save_every = save_every
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, save_interval_steps=save_every, create=True)
        self._manager = ocp.CheckpointManager(directory, options=options)

    def latest_step(self):
        return self._manager.latest_step()

    def restore(self, template):
        """(state, step) of the newest checkpoint, or (template, 0) when there is none yet."""
        step = self._manager.latest_step()
        if step is None:
            return template, 0
        state = self._manager.restore(step, args=self._ocp.args.StandardRestore(template))
        return state, step

    def save(self, step, state, force=False):
        """Saves every save_every steps, or now with force (on a preemption notice); True when it saved."""
        return bool(self._manager.save(step, args=self._ocp.args.StandardSave(state), force=force))

    def close(self):
        """Waits for asynchronous saves to reach storage: call before the process exits."""
        self._manager.wait_until_finished()
        self._manager.close()


def report_preemption(env, step, reason="SIGTERM"):
    """Says in the log (and, for a local log folder, in a small JSON file) where the preemption hit."""
    record = {"job": env.job_id, "attempt": env.attempt, "worker": env.worker_id, "step": int(step),
              "reason": reason, "time": time.time()}
    print("preemption notice ({}) at step {}: checkpoint saved, exiting for the next attempt".format(reason, step), flush=True)
    if "://" not in env.log_dir:
        os.makedirs(env.log_dir, exist_ok=True)
        path = os.path.join(env.log_dir, "preemption-attempt-{}-worker-{}.json".format(env.attempt, env.worker_id))
        with open(path, "w", encoding="utf-8") as out:
            json.dump(record, out)
    sys.stdout.flush()
    return record
