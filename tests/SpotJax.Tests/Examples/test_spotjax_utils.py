"""The jax-mnist helper's environment, distributed, checkpoint and preemption handling, with jax and
orbax replaced by small stand-ins in sys.modules (neither is installed here). Run by
JaxMnistExampleTests with the example folder on PYTHONPATH."""

import json
import os
import signal
import sys
import tempfile
import types
import unittest


class FakeManager:
    """Orbax's CheckpointManager as the helper uses it: steps held in memory."""

    instances = []

    def __init__(self, directory, options=None):
        self.directory = directory
        self.options = options
        self.saved = {}
        self.closed = False
        FakeManager.instances.append(self)

    def latest_step(self):
        return max(self.saved) if self.saved else None

    def restore(self, step, args=None):
        return {"restored": self.saved[step], "template": args.item}

    def save(self, step, args=None, force=False):
        if force or step % self.options["save_interval_steps"] == 0:
            self.saved[step] = args.item
            return True
        return False

    def wait_until_finished(self):
        pass

    def close(self):
        self.closed = True


def install_stubs():
    calls = []
    jax = types.ModuleType("jax")
    jax.distributed = types.SimpleNamespace(initialize=lambda **kwargs: calls.append(kwargs))
    ocp = types.ModuleType("orbax.checkpoint")
    ocp.CheckpointManagerOptions = lambda **kwargs: kwargs
    ocp.CheckpointManager = FakeManager
    ocp.args = types.SimpleNamespace(StandardSave=lambda item: types.SimpleNamespace(item=item),
                                     StandardRestore=lambda item: types.SimpleNamespace(item=item))
    orbax = types.ModuleType("orbax")
    orbax.checkpoint = ocp
    sys.modules.update({"jax": jax, "orbax": orbax, "orbax.checkpoint": ocp})
    return calls


DISTRIBUTED_CALLS = install_stubs()
import spotjax_utils  # noqa: E402  (after the stand-ins, as the helper imports lazily anyway)


class SpotEnvTests(unittest.TestCase):
    def test_from_environ_multi_host_reads_every_variable(self):
        env = spotjax_utils.SpotEnv.from_environ({
            "SPOT_CHECKPOINT_DIR": "gs://b/job-1/ckpt", "SPOT_LOG_DIR": "gs://b/job-1/logs", "SPOT_JOB_ID": "job-1",
            "SPOT_IS_RESTART": "true", "SPOT_ATTEMPT": "3", "SPOT_WORKER_ID": "2", "SPOT_NUM_WORKERS": "4",
            "JAX_COORDINATOR_ADDRESS": "10.0.0.2:8476"})
        self.assertEqual(("gs://b/job-1/ckpt", "job-1", True, 3, 2, 4, "10.0.0.2:8476"),
                         (env.checkpoint_dir, env.job_id, env.is_restart, env.attempt, env.worker_id, env.num_workers,
                          env.coordinator_address))
        self.assertFalse(env.is_coordinator)
        self.assertTrue(env.multi_host)

    def test_from_environ_outside_spotjax_is_one_fresh_worker(self):
        env = spotjax_utils.SpotEnv.from_environ({})
        self.assertEqual(("checkpoints", False, 1, 0, 1), (env.checkpoint_dir, env.is_restart, env.attempt, env.worker_id, env.num_workers))
        self.assertTrue(env.is_coordinator)

    def test_from_environ_coordinator_without_port_gets_the_default_port(self):
        env = spotjax_utils.SpotEnv.from_environ({"SPOT_NUM_WORKERS": "2", "JAX_COORDINATOR_ADDRESS": "10.0.0.2"})
        self.assertEqual("10.0.0.2:8476", env.coordinator_address)

    def test_from_environ_multi_host_without_coordinator_raises(self):
        with self.assertRaises(ValueError):
            spotjax_utils.SpotEnv.from_environ({"SPOT_NUM_WORKERS": "2", "SPOT_WORKER_ID": "1"})

    def test_from_environ_worker_outside_the_slice_raises(self):
        with self.assertRaises(ValueError):
            spotjax_utils.SpotEnv.from_environ({"SPOT_NUM_WORKERS": "2", "SPOT_WORKER_ID": "2", "JAX_COORDINATOR_ADDRESS": "h:1"})


class DistributedTests(unittest.TestCase):
    def setUp(self):
        DISTRIBUTED_CALLS.clear()

    def test_initialize_distributed_multi_host_joins_with_the_contract(self):
        env = spotjax_utils.SpotEnv.from_environ({"SPOT_NUM_WORKERS": "4", "SPOT_WORKER_ID": "3", "JAX_COORDINATOR_ADDRESS": "10.0.0.2:8476"})
        self.assertTrue(spotjax_utils.initialize_distributed(env))
        self.assertEqual([{"coordinator_address": "10.0.0.2:8476", "num_processes": 4, "process_id": 3}], DISTRIBUTED_CALLS)

    def test_initialize_distributed_one_host_does_nothing(self):
        self.assertFalse(spotjax_utils.initialize_distributed(spotjax_utils.SpotEnv.from_environ({})))
        self.assertEqual([], DISTRIBUTED_CALLS)


class CheckpointerTests(unittest.TestCase):
    def test_restore_without_checkpoint_returns_the_template_at_step_zero(self):
        checkpoints = spotjax_utils.Checkpointer("/tmp/none", save_every=10)
        self.assertEqual(({"w": 0}, 0), checkpoints.restore({"w": 0}))

    def test_restore_after_saves_returns_the_newest_step(self):
        checkpoints = spotjax_utils.Checkpointer("gs://b/j/ckpt", save_every=10)
        self.assertFalse(checkpoints.save(5, {"w": 5}))
        self.assertTrue(checkpoints.save(10, {"w": 10}))
        self.assertTrue(checkpoints.save(13, {"w": 13}, force=True))
        state, step = checkpoints.restore({"w": 0})
        self.assertEqual(13, step)
        self.assertEqual({"w": 13}, state["restored"])
        self.assertEqual("gs://b/j/ckpt", FakeManager.instances[-1].directory)

    def test_close_waits_and_closes_the_manager(self):
        checkpoints = spotjax_utils.Checkpointer("/tmp/x")
        checkpoints.close()
        self.assertTrue(FakeManager.instances[-1].closed)


class PreemptionTests(unittest.TestCase):
    def tearDown(self):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def test_sigterm_sets_the_flag_with_its_reason(self):
        watcher = spotjax_utils.PreemptionWatcher().install()
        self.assertFalse(watcher.requested)
        os.kill(os.getpid(), signal.SIGTERM)
        self.assertTrue(watcher.requested)
        self.assertEqual("signal SIGTERM", watcher.reason)

    def test_report_preemption_writes_a_record_to_a_local_log_folder(self):
        with tempfile.TemporaryDirectory() as logs:
            env = spotjax_utils.SpotEnv.from_environ({"SPOT_LOG_DIR": logs, "SPOT_JOB_ID": "job-1", "SPOT_ATTEMPT": "2"})
            spotjax_utils.report_preemption(env, 120, "signal SIGTERM")
            with open(os.path.join(logs, "preemption-attempt-2-worker-0.json"), encoding="utf-8") as record:
                written = json.load(record)
        self.assertEqual(("job-1", 2, 120, "signal SIGTERM"), (written["job"], written["attempt"], written["step"], written["reason"]))


if __name__ == "__main__":
    unittest.main()
