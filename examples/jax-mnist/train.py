#!/usr/bin/env python3
"""MNIST with JAX, Flax and Optax on a Spot TPU, checkpointed with Orbax so that it survives preemptions.

SpotJax runs it on every worker of the slice with SPOT_CHECKPOINT_DIR set to a gs:// folder; after a
preemption the next attempt restores the newest checkpoint and carries on. SIGTERM (a preemption
notice) saves at once and exits 0, which SpotJax counts as a preemption, not a success.
"""

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import tensorflow_datasets as tfds
from flax import jax_utils
from flax import linen as nn
from flax.training import train_state

import spotjax_utils


class CNN(nn.Module):
    """The small convolutional network of Flax's MNIST example."""

    @nn.compact
    def __call__(self, x):
        x = nn.Conv(features=32, kernel_size=(3, 3))(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nn.Conv(features=64, kernel_size=(3, 3))(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))
        x = nn.Dense(features=256)(x)
        x = nn.relu(x)
        return nn.Dense(features=10)(x)


def load_mnist(split, data_dir):
    images, labels = tfds.as_numpy(tfds.load("mnist", split=split, batch_size=-1, as_supervised=True, data_dir=data_dir))
    return np.asarray(images, dtype=np.float32) / 255.0, np.asarray(labels, dtype=np.int32)


def create_state(rng, learning_rate, momentum):
    model = CNN()
    params = model.init(rng, jnp.ones((1, 28, 28, 1), jnp.float32))["params"]
    return train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.sgd(learning_rate, momentum))


@functools.partial(jax.pmap, axis_name="devices")
def train_step(state, images, labels):
    """One data-parallel step: each device takes its shard; gradients are averaged over every device of every host."""

    def loss_fn(params):
        logits = state.apply_fn({"params": params}, images)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), logits

    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    grads = jax.lax.pmean(grads, axis_name="devices")
    loss = jax.lax.pmean(loss, axis_name="devices")
    accuracy = jax.lax.pmean(jnp.mean(jnp.argmax(logits, -1) == labels), axis_name="devices")
    return state.apply_gradients(grads=grads), loss, accuracy


@jax.jit
def evaluate(state, images, labels):
    logits = state.apply_fn({"params": state.params}, images)
    return jnp.mean(jnp.argmax(logits, -1) == labels)


def host_batch(images, labels, per_device, step, env):
    """This host's share of the step's global batch, shaped (local devices, per device, ...).

    The global batch depends only on the step, so a restarted attempt continues the same sequence.
    """
    devices = jax.local_device_count()
    per_host = per_device * devices
    index = np.random.default_rng(step).choice(len(images), size=per_host * env.num_workers, replace=False)
    mine = index[env.worker_id * per_host:(env.worker_id + 1) * per_host]
    return (images[mine].reshape((devices, per_device) + images.shape[1:]),
            labels[mine].reshape((devices, per_device)))


def main():
    parser = argparse.ArgumentParser(description="MNIST on Spot TPUs with SpotJax")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=64, help="examples per device per step")
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets folder (default: ~/tensorflow_datasets)")
    options = parser.parse_args()

    env = spotjax_utils.SpotEnv.from_environ()
    spotjax_utils.initialize_distributed(env)
    stop = spotjax_utils.PreemptionWatcher().install()
    print("job {} attempt {} worker {}/{} on {} device(s){}".format(
        env.job_id, env.attempt, env.worker_id, env.num_workers, jax.device_count(),
        ", restarting" if env.is_restart else ""), flush=True)

    train_images, train_labels = load_mnist("train", options.data_dir)
    test_images, test_labels = load_mnist("test", options.data_dir)
    checkpoints = spotjax_utils.Checkpointer(env.checkpoint_dir, save_every=options.checkpoint_every)
    state, step = checkpoints.restore(create_state(jax.random.PRNGKey(0), options.learning_rate, options.momentum))
    print("resumed from checkpoint step {}".format(step) if step else "starting fresh", flush=True)

    # Every process saves and restores (Orbax coordinates the hosts); the state is kept replicated
    # on the local devices for the pmapped step and unreplicated for checkpoints.
    replicated = jax_utils.replicate(state)
    started = time.time()
    while step < options.steps:
        if stop.requested:
            checkpoints.save(step, jax_utils.unreplicate(replicated), force=True)
            checkpoints.close()
            spotjax_utils.report_preemption(env, step, stop.reason)
            return 0
        images, labels = host_batch(train_images, train_labels, options.batch_size, step, env)
        replicated, loss, accuracy = train_step(replicated, images, labels)
        step += 1
        if step % options.checkpoint_every == 0:
            checkpoints.save(step, jax_utils.unreplicate(replicated))
        if step % 100 == 0:
            print("step {} loss {:.4f} accuracy {:.3f} ({:.1f} steps/s)".format(
                step, float(loss[0]), float(accuracy[0]), 100 / max(1e-9, time.time() - started)), flush=True)
            started = time.time()

    state = jax_utils.unreplicate(replicated)
    checkpoints.save(step, state, force=True)
    checkpoints.close()
    print("finished at step {}: test accuracy {:.4f}".format(step, float(evaluate(state, test_images, test_labels))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
