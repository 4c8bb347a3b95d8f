"""The jax-mnist helper's environment, distributed, checkpoint and preemption handling, with jax and
orbax replaced by small stand-ins in sys.modules (neither is installed here). Run by
JaxMnistExampleTests with the example folder on PYTHONPATH."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import types
import unittest
from unittest import mock


class FakeManager:
    """Orbax's CheckpointManager as the helper uses it: steps held in memory. Like Orbax, save()
    writes at the interval, when forced, and at the step all hosts agreed on after a preemption
    notice (preempt_at, which reached_preemption reports)."""

    instances = []

    def __init__(self, directory, options=None, item_names=None):
        self.directory = directory
        self.options = options
        self.item_names = item_names
        self.saved = {}
        self.closed = False
        self.waits = 0
        self.preempt_at = None
        FakeManager.instances.append(self)

    def latest_step(self):
        return max(self.saved) if self.saved else None

    def restore(self, step, args=None):
        saved = self.saved[step]
        if hasattr(args, "items"):  # Composite: one value per item, each restored into its reference tree
            return {name: {"restored": saved.items[name].item, "reference": item.item} for name, item in args.items.items()}
        return {"restored": saved.item, "template": args.item}

    def save(self, step, args=None, force=False):
        if force or step % self.options["save_interval_steps"] == 0 or step == self.preempt_at:
            self.saved[step] = args
            return True
        return False

    def reached_preemption(self, step):
        return step == self.preempt_at

    def wait_until_finished(self):
        self.waits += 1

    def close(self):
        self.closed = True


class FakeJax(types.ModuleType):
    """jax.distributed.initialize records its arguments; raises ValueError like JAX when told there is no cluster."""

    def __init__(self):
        super().__init__("jax")
        self.calls = []
        self.no_cluster = False
        self.processes = 1
        self.distributed = types.SimpleNamespace(initialize=self._initialize)

    def _initialize(self, **kwargs):
        if self.no_cluster and not kwargs:
            raise ValueError("coordinator_address should be defined.")
        self.calls.append(kwargs)

    def device_count(self):
        return 4 * self.processes

    def process_count(self):
        return self.processes

    def process_index(self):
        return 0


def install_stubs():
    jax = FakeJax()
    ocp = types.ModuleType("orbax.checkpoint")
    ocp.CheckpointManagerOptions = lambda **kwargs: kwargs
    ocp.CheckpointManager = FakeManager
    ocp.args = types.SimpleNamespace(StandardSave=lambda item: types.SimpleNamespace(item=item),
                                     StandardRestore=lambda item=None: types.SimpleNamespace(item=item),
                                     Composite=lambda **items: types.SimpleNamespace(items=items))
    orbax = types.ModuleType("orbax")
    orbax.checkpoint = ocp
    sys.modules.update({"jax": jax, "orbax": orbax, "orbax.checkpoint": ocp})
    return jax


JAX = install_stubs()
DISTRIBUTED_CALLS = JAX.calls
import spotjax_utils  # noqa: E402  (after the stand-ins, as the helper imports lazily anyway)
import spotax_utils  # noqa: E402


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


class OriginalConfigTests(unittest.TestCase):
    def test_get_config_reads_the_spot_variables(self):
        with mock.patch.dict(os.environ, {"SPOT_CHECKPOINT_DIR": "gs://b/j/ckpt", "SPOT_LOG_DIR": "gs://b/j/logs",
                                          "SPOT_JOB_ID": "j-1", "SPOT_IS_RESTART": "TRUE"}):
            config = spotjax_utils.get_config()
        self.assertEqual(spotjax_utils.SpotConfig("gs://b/j/ckpt", "gs://b/j/logs", "j-1", True), config)

    def test_get_config_first_attempt_is_not_a_restart_and_has_the_originals_defaults(self):
        with mock.patch.dict(os.environ, {"SPOT_CHECKPOINT_DIR": "/tmp/ckpt", "SPOT_IS_RESTART": "false"}, clear=True):
            config = spotjax_utils.get_config()
        self.assertEqual(("/tmp/ckpt", "", "unknown", False), (config.checkpoint_dir, config.log_dir, config.job_id, config.is_restart))

    def test_get_config_without_checkpoint_dir_raises_naming_the_variable(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            with self.assertRaisesRegex(ValueError, "SPOT_CHECKPOINT_DIR"):
                spotjax_utils.get_config()


class SetupDistributedTests(unittest.TestCase):
    def setUp(self):
        DISTRIBUTED_CALLS.clear()
        JAX.no_cluster = False
        JAX.processes = 1

    def test_setup_distributed_multi_host_joins_with_the_spot_variables(self):
        JAX.processes = 4
        with mock.patch.dict(os.environ, {"SPOT_NUM_WORKERS": "4", "SPOT_WORKER_ID": "1", "JAX_COORDINATOR_ADDRESS": "10.0.0.2:8476"}):
            self.assertIsNone(spotjax_utils.setup_distributed())
        self.assertEqual([{"coordinator_address": "10.0.0.2:8476", "num_processes": 4, "process_id": 1}], DISTRIBUTED_CALLS)

    def test_setup_distributed_one_tpu_host_calls_initialize_without_arguments(self):
        with mock.patch.dict(os.environ, {"SPOT_NUM_WORKERS": "1", "SPOT_WORKER_ID": "0"}):
            spotjax_utils.setup_distributed()
        self.assertEqual([{}], DISTRIBUTED_CALLS)

    def test_setup_distributed_outside_spotjax_calls_initialize_without_arguments(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            spotjax_utils.setup_distributed()
        self.assertEqual([{}], DISTRIBUTED_CALLS)

    def test_setup_distributed_no_cluster_found_runs_as_one_process(self):
        JAX.no_cluster = True
        with mock.patch.dict(os.environ, {}, clear=True), self.assertLogs("spotjax_utils", "INFO") as logs:
            spotjax_utils.setup_distributed()
        self.assertEqual([], DISTRIBUTED_CALLS)
        self.assertIn("running as one process", "\n".join(logs.output))


class CheckpointManagerTests(unittest.TestCase):
    def tearDown(self):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def manager(self, **kwargs):
        ckpt = spotjax_utils.CheckpointManager("gs://b/j/ckpt", **kwargs)
        return ckpt, FakeManager.instances[-1]

    def test_init_one_item_named_state_with_the_originals_defaults(self):
        _, orbax = self.manager()
        self.assertEqual(("gs://b/j/ckpt", ("state",), {"max_to_keep": 3, "save_interval_steps": 1000}),
                         (orbax.directory, orbax.item_names, orbax.options))

    def test_restore_or_init_empty_folder_returns_the_initial_state_and_step(self):
        ckpt, _ = self.manager()
        self.assertIsNone(ckpt.latest_step)
        self.assertEqual(({"w": 0}, 7), ckpt.restore_or_init({"w": 0}, init_step=7))

    def test_restore_or_init_with_checkpoints_restores_the_newest_into_the_initial_tree(self):
        ckpt, _ = self.manager(save_interval_steps=10)
        ckpt.save(10, {"w": 10})
        ckpt.save(20, {"w": 20})
        state, step = ckpt.restore_or_init({"w": 0})
        self.assertEqual((20, {"restored": {"w": 20}, "reference": {"w": 0}}), (step, state))

    def test_restore_given_step_without_reference_restores_that_step(self):
        ckpt, _ = self.manager(save_interval_steps=10)
        ckpt.save(10, {"w": 10})
        ckpt.save(20, {"w": 20})
        self.assertEqual(({"restored": {"w": 10}, "reference": None}, 10), ckpt.restore(step=10))

    def test_restore_empty_folder_raises_naming_the_folder(self):
        ckpt, _ = self.manager()
        with self.assertRaisesRegex(ValueError, "gs://b/j/ckpt"):
            ckpt.restore()

    def test_save_writes_only_at_the_interval(self):
        ckpt, orbax = self.manager(save_interval_steps=1000)
        self.assertEqual([False, True, False], [ckpt.save(999, {}), ckpt.save(1000, {}), ckpt.save(1001, {})])
        self.assertEqual([1000], sorted(orbax.saved))
        self.assertEqual({"state"}, set(orbax.saved[1000].items))

    def test_reached_preemption_at_the_agreed_step_saves_there_and_waits(self):
        ckpt, orbax = self.manager(save_interval_steps=1000)
        orbax.preempt_at = 1234
        self.assertFalse(ckpt.reached_preemption(1233))
        self.assertTrue(ckpt.save(1234, {"w": 1234}))
        waits = orbax.waits
        self.assertTrue(ckpt.reached_preemption(1234))
        self.assertEqual((1234, waits + 1), (ckpt.latest_step, orbax.waits))

    def test_setup_preemption_handler_sigterm_saves_the_last_state_and_exits_zero(self):
        ckpt, orbax = self.manager(save_interval_steps=1000)
        ckpt.save(1000, {"w": 1000})
        ckpt.save(1017, {"w": 1017})
        ckpt.setup_preemption_handler()
        with self.assertRaises(SystemExit) as exited:
            os.kill(os.getpid(), signal.SIGTERM)
        self.assertEqual(0, exited.exception.code)
        self.assertEqual([1000, 1017], sorted(orbax.saved))

    def test_setup_preemption_handler_step_already_saved_is_not_saved_again(self):
        ckpt, orbax = self.manager(save_interval_steps=1000)
        ckpt.save(1000, {"w": 1000})
        saved = orbax.saved[1000]
        ckpt.setup_preemption_handler()
        with self.assertRaises(SystemExit):
            os.kill(os.getpid(), signal.SIGTERM)
        self.assertIs(saved, orbax.saved[1000])

    def test_wait_and_close_wait_for_saves_then_close(self):
        ckpt, orbax = self.manager()
        ckpt.wait()
        ckpt.close()
        self.assertEqual((2, True), (orbax.waits, orbax.closed))


class OriginalNameTests(unittest.TestCase):
    def test_spotax_utils_offers_the_same_objects(self):
        for name in ("SpotConfig", "get_config", "setup_distributed", "CheckpointManager", "SpotEnv", "Checkpointer",
                     "PreemptionWatcher", "initialize_distributed", "report_preemption"):
            self.assertIs(getattr(spotjax_utils, name), getattr(spotax_utils, name), name)

    def test_import_without_jax_or_orbax_reads_the_config(self):
        script = ("import sys\n"
                  "sys.modules.update(dict.fromkeys(['jax', 'orbax', 'orbax.checkpoint']))\n"
                  "import spotax_utils\n"
                  "print(spotax_utils.get_config())\n"
                  "try:\n"
                  "    spotax_utils.CheckpointManager('/tmp/c')\n"
                  "except ImportError:\n"
                  "    print('orbax needed only by CheckpointManager')\n")
        env = dict(os.environ, SPOT_CHECKPOINT_DIR="/tmp/c", SPOT_JOB_ID="j-2")
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn("SpotConfig(checkpoint_dir='/tmp/c', log_dir='', job_id='j-2', is_restart=False)", result.stdout)
        self.assertIn("orbax needed only by CheckpointManager", result.stdout)


if __name__ == "__main__":
    unittest.main()
