"""Training speed, side by side in one process: the Trainer (background thread, history and
sample grid on) against a bare hand-written tf.function step of the same networks, batch 128 by default (the
default recipe's until 30 November, kept so the table in benchmarks/README.md reproduces; every contender runs at
the same batch).

    python benchmarks/train_speed.py [--seconds 6] [--rounds 3] [--batch-size 128]

Rounds alternate the contenders so machine noise hits both alike; the table shows medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from gan_core.classifier import DigitJudge  # noqa: E402
from gan_core.config import GANConfig  # noqa: E402
from gan_core.data import load_dataset  # noqa: E402
from gan_core.lab import create_run  # noqa: E402
from gan_core.networks import build_discriminator, build_generator  # noqa: E402


def make_bare_step(config: GANConfig, images: np.ndarray):
    """The textbook step, written by hand: one D update, one G update, non-saturating loss."""
    generator, discriminator = build_generator(config), build_discriminator(config)
    g_opt = keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta1)
    d_opt = keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta1)
    g_opt.build(generator.trainable_variables)
    d_opt.build(discriminator.trainable_variables)
    data = tf.constant(images)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    batch = config.batch_size

    @tf.function
    def step():
        real = tf.gather(data, tf.random.uniform((batch,), 0, data.shape[0], dtype=tf.int32))
        z = tf.random.normal((batch, config.latent_dim))
        with tf.GradientTape() as tape:
            real_logits = discriminator(real, training=True)
            fake_logits = discriminator(generator(z, training=True), training=True)
            d_loss = bce(tf.ones_like(real_logits), real_logits) + bce(tf.zeros_like(fake_logits), fake_logits)
        d_opt.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_variables),
                                  discriminator.trainable_variables))
        z = tf.random.normal((batch, config.latent_dim))
        with tf.GradientTape() as tape:
            fake_logits = discriminator(generator(z, training=True), training=True)
            g_loss = bce(tf.ones_like(fake_logits), fake_logits)
        g_opt.apply_gradients(zip(tape.gradient(g_loss, generator.trainable_variables),
                                  generator.trainable_variables))
        return d_loss, g_loss

    return step


def time_bare(step, seconds: float) -> float:
    step()  # trace
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        d_loss, _ = step()
        count += 1
    float(d_loss)  # wait for the last step
    return count / (time.perf_counter() - started)


def time_trainer(run, seconds: float) -> float:
    """Steps/s of the Trainer in its background thread, polled the way the live page polls it."""
    trainer = run.trainer
    trainer.start()
    time.sleep(0.2)
    first, started = trainer.snapshot().step, time.perf_counter()
    while time.perf_counter() - started < seconds:
        time.sleep(0.1)
        snapshot = trainer.snapshot()  # a reader copying history and grid, as the page does
    rate = (snapshot.step - first) / (time.perf_counter() - started)
    trainer.pause()
    while _advancing(trainer):
        pass
    return rate


def _advancing(trainer) -> bool:
    before = trainer.snapshot().step
    time.sleep(0.1)
    return trainer.snapshot().step != before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    dataset = load_dataset("mnist-sample")

    # Start-up: constructing the Trainer -> first finished chunk after Start (includes tracing, and TensorFlow's
    # one-time set-up of its first traced function in this process).
    constructed = time.perf_counter()
    warm = create_run(GANConfig(batch_size=args.batch_size), dataset)
    first_chunk = threading.Event()
    warm.trainer.add_callback("on_chunk_end", lambda snapshot: first_chunk.set())
    warm.trainer.start()
    first_chunk.wait(60)
    first_chunk_s = time.perf_counter() - constructed
    first_chunk_steps = warm.trainer.snapshot().history["step"][0]
    warm.trainer.stop()

    plain, default = GANConfig.plain(batch_size=args.batch_size), GANConfig(batch_size=args.batch_size)
    bare = make_bare_step(plain, dataset.images)
    contenders = {
        "bare tf.function step (plain recipe)": lambda: time_bare(bare, args.seconds),
        "Trainer, plain recipe": None,
        "Trainer, default recipe": None,
        "Trainer, default + live quality + D view": None,
    }
    runs = {"Trainer, plain recipe": create_run(plain, dataset), "Trainer, default recipe": create_run(default, dataset),
            "Trainer, default + live quality + D view": create_run(default, dataset)}
    monitored = runs["Trainer, default + live quality + D view"]
    # As the train page runs it: quality scored every 2,000 steps on 1,000 samples in its own thread.
    monitored.attach_live_quality(DigitJudge.load("pretrained/classifier"), dataset.images, every_steps=2000, n=1000)
    monitored.attach_discriminator_view(dataset.images)
    for name, run in runs.items():  # trace before timing
        run.trainer.run(run.trainer.chunk_steps)
        contenders[name] = (lambda r: lambda: time_trainer(r, args.seconds))(run)
    results = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, measure in contenders.items():
            results[name].append(measure())
    for run in runs.values():
        run.stop()

    bare_median = statistics.median(results["bare tf.function step (plain recipe)"])
    print(f"batch {args.batch_size}, {args.rounds} alternating rounds of {args.seconds:.0f} s, medians; "
          f"TensorFlow {tf.__version__}, {tf.config.threading.get_intra_op_parallelism_threads() or 'default'} threads")
    default_median = statistics.median(results["Trainer, default recipe"])
    print(f"| {'contender':<42} | {'steps/s':>8} | {'ratio to bare':>13} | {'ratio to default':>16} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 15}|{'-' * 18}|")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"| {name:<42} | {median:8.1f} | {median / bare_median:13.2f} | {median / default_median:16.2f} |")
    print(f"\nTrainer constructed -> first finished chunk after Start ({first_chunk_steps:.0f} steps, incl. tracing): "
          f"{first_chunk_s:.2f} s")


if __name__ == "__main__":
    main()
