"""SpotJax helpers for a JAX training script on Spot TPUs.

Two ways to use it. The original spotax tool's helper API, under the same names, so a project
written for spotax runs unchanged (`spotax_utils.py` beside this file re-exports all of it):

    config = spotjax_utils.get_config()
    spotjax_utils.setup_distributed()
    ckpt = spotjax_utils.CheckpointManager(config.checkpoint_dir, save_interval_steps=1000)
    state, start_step = ckpt.restore_or_init(initial_state)
    for step in range(start_step, max_steps):
        state = train_step(state, batch)
        ckpt.save(step, state)
        if ckpt.reached_preemption(step):
            break
    ckpt.close()

or SpotJax's own, which also reads the worker variables and watches SIGTERM itself:

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

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "SpotConfig", "get_config", "setup_distributed", "CheckpointManager",
    "SpotEnv", "initialize_distributed", "PreemptionWatcher", "Checkpointer", "report_preemption",
    "DEFAULT_COORDINATOR_PORT", "STATE_ITEM",
]

DEFAULT_COORDINATOR_PORT = 8476
# The one Orbax item the original tool's CheckpointManager saves: <dir>/<step>/state/...
STATE_ITEM = "state"

logger = logging.getLogger(__name__)
T = TypeVar("T")


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


@dataclass
class SpotConfig:
    """The SPOT_* variables of the original tool's contract, as its helper exposed them."""

    checkpoint_dir: str
    log_dir: str
    job_id: str
    is_restart: bool


def get_config() -> SpotConfig:
    """Reads SPOT_CHECKPOINT_DIR, SPOT_LOG_DIR, SPOT_JOB_ID and SPOT_IS_RESTART; the first is required."""
    checkpoint_dir = os.environ.get("SPOT_CHECKPOINT_DIR", "")
    if not checkpoint_dir:
        raise ValueError("SPOT_CHECKPOINT_DIR is not set: run the script with spotjax (run or submit), "
                         "or set it to a folder for a run by hand")
    return SpotConfig(
        checkpoint_dir=checkpoint_dir,
        log_dir=os.environ.get("SPOT_LOG_DIR", ""),
        job_id=os.environ.get("SPOT_JOB_ID", "unknown"),
        is_restart=os.environ.get("SPOT_IS_RESTART", "").lower() == "true",
    )


def setup_distributed() -> None:
    """Starts jax.distributed and logs the topology.

    On a multi-host slice SpotJax names the coordinator and this worker in the environment
    (JAX_COORDINATOR_ADDRESS, SPOT_NUM_WORKERS, SPOT_WORKER_ID), which also works off TPU (the
    local plane). Otherwise it calls jax.distributed.initialize() with no arguments, as the original
    does: on a TPU VM JAX finds everything in the TPU metadata, and with it Orbax's preemption
    check. Where no cluster can be found (one process on a machine without TPUs) JAX raises
    ValueError, and the script runs as the single process it is.
    """
    import jax

    env = SpotEnv.from_environ()
    if env.multi_host:
        initialize_distributed(env)
    else:
        try:
            jax.distributed.initialize()
        except ValueError as error:
            logger.info("no TPU cluster found (%s): running as one process", error)
            return
    if jax.process_count() == 1:
        logger.info("Single-node mode: %d devices", jax.device_count())
    else:
        logger.info("Multi-node mode: %d devices across %d hosts (process %d)",
                    jax.device_count(), jax.process_count(), jax.process_index())


class CheckpointManager:
    """The original tool's checkpoint manager: Orbax with one item named "state".

    Orbax decides by save_interval_steps whether save() writes, and always writes at the step
    where every host has agreed on a preemption (reached_preemption).
    """

    def __init__(self, checkpoint_dir: str, max_to_keep: int = 3, save_interval_steps: int = 1000):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.checkpoint_dir = checkpoint_dir
        self.save_interval_steps = save_interval_steps
        self._manager = ocp.CheckpointManager(
            directory=checkpoint_dir,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, save_interval_steps=save_interval_steps),
            item_names=(STATE_ITEM,),
        )
        self._current_state: Any = None
        self._current_step: int | None = None
        logger.info("CheckpointManager: %s (save every %d steps)", checkpoint_dir, save_interval_steps)

    @property
    def latest_step(self) -> int | None:
        """The newest saved step, or None when the folder has no checkpoint."""
        return self._manager.latest_step()

    def _save_args(self, state):
        return self._ocp.args.Composite(**{STATE_ITEM: self._ocp.args.StandardSave(state)})

    def save(self, step: int, state: T) -> bool:
        """Saves when Orbax says so (the interval, or a preemption); True when it saved."""
        self._current_state = state
        self._current_step = step
        saved = bool(self._manager.save(step, args=self._save_args(state)))
        if saved:
            logger.info("Saved checkpoint at step %d", step)
        return saved

    def restore(self, step: int | None = None, reference_state: Any = None) -> tuple[Any, int]:
        """(state, step) of the given step, or the newest; reference_state gives the tree to restore into."""
        if step is None:
            step = self.latest_step
        if step is None:
            raise ValueError("no checkpoint in {} to restore: use restore_or_init for a first run".format(self.checkpoint_dir))
        ocp = self._ocp
        restore = ocp.args.StandardRestore(reference_state) if reference_state is not None else ocp.args.StandardRestore()
        restored = self._manager.restore(step, args=ocp.args.Composite(**{STATE_ITEM: restore}))
        logger.info("Restored checkpoint from step %d", step)
        return restored[STATE_ITEM], step

    def restore_or_init(self, init_state: T, init_step: int = 0) -> tuple[T, int]:
        """The newest checkpoint restored into init_state's tree, or (init_state, init_step) when there is none."""
        if self.latest_step is None:
            return init_state, init_step
        return self.restore(reference_state=init_state)

    def reached_preemption(self, step: int) -> bool:
        """Whether every host has reached the step agreed on after a preemption notice.

        Orbax asks JAX's preemption sync point, so all hosts of a slice answer the same at the same
        step; when they do, this waits until the checkpoint of that step has reached storage.
        Without jax.distributed (one process off TPU) JAX answers False.
        """
        if self._manager.reached_preemption(step):
            logger.warning("Preemption detected at step %d: exiting after the checkpoint is saved", step)
            self._manager.wait_until_finished()
            return True
        return False

    def setup_preemption_handler(self) -> None:
        """Legacy: on SIGTERM save the state last given to save(), wait for it, and exit 0.

        reached_preemption() is the way that agrees across hosts; this is for scripts written
        against the original's fallback. Call it after the first save().
        """

        def on_sigterm(_signum, _frame):
            logger.warning("SIGTERM received: saving a checkpoint before exiting")
            if self._current_state is not None and self._current_step != self.latest_step:
                try:
                    self._manager.save(self._current_step, args=self._save_args(self._current_state), force=True)
                    logger.info("Emergency save completed at step %d", self._current_step)
                except Exception as error:  # noqa: BLE001  (the process exits either way; say why the save failed)
                    logger.error("Emergency save at step %s failed: %s", self._current_step, error)
            self._manager.wait_until_finished()
            sys.exit(0)

        signal.signal(signal.SIGTERM, on_sigterm)
        atexit.register(self._manager.wait_until_finished)
        logger.info("Preemption handler registered (legacy mode)")

    def wait(self) -> None:
        """Blocks until asynchronous saves have reached storage."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Waits for pending saves, then closes the Orbax manager."""
        self.wait()
        self._manager.close()


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
