"""The 2-D GAN in Keras: small MLP networks and ToyGAN (compile(d_optimizer, g_optimizer) + train_step).

This is the reference the browser's trainer (ui/components/playground/toy_gan.js) is tested against: one update
of each loss from the same weights, batch and noise agrees to float32 rounding (tests/test_playground_models.py).
So the update is written as `update(real_batches, d_noises, g_noise, mixes)`, every random draw an argument;
`train_step` only draws them.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from gan_core.models import AdversarialModel, discriminator_objective, generator_objective
from gan_core.toy import CONFIG_FILE, LEAKY_SLOPE, ToyConfig, sample_points


def _activation(name: str, label: str) -> keras.layers.Layer:
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=label)
    return keras.layers.Activation(name, name=label)


def build_mlp(inputs: int, outputs: int, config: ToyConfig, name: str, seed: int) -> keras.Sequential:
    """inputs -> depth x (Dense hidden_units, activation) -> Dense outputs (linear)."""
    layers = [keras.Input((inputs,))]
    for i in range(config.depth):
        layers.append(keras.layers.Dense(config.hidden_units, name=f"dense_{i}",
                                         kernel_initializer=keras.initializers.GlorotUniform(seed + i)))
        layers.append(_activation(config.activation, f"act_{i}"))
    layers.append(keras.layers.Dense(outputs, name="out",
                                     kernel_initializer=keras.initializers.GlorotUniform(seed + 99)))
    return keras.Sequential(layers, name=name)


class ToyGAN(AdversarialModel):
    """A GAN on 2-D points: d_steps discriminator updates, then one generator update (as gan_core.models.GAN).

    Losses: non_saturating, minimax, least_squares, hinge, wgan_gp; R1 (Mescheder et al. 2018) on the real
    points for every loss but WGAN-GP, which has its own penalty.
    """

    def __init__(self, discriminator: keras.Model, generator: keras.Model, config: ToyConfig, **kwargs):
        super().__init__(**kwargs)
        self.discriminator, self.generator, self.config = discriminator, generator, config
        self.ema_generator = None
        if config.ema_decay > 0:  # the samples shown and scored come from a moving average of G's weights
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        self.seed_generator = keras.random.SeedGenerator(config.seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("d_loss", "g_loss", "d_real", "d_fake")}
        self._update_fn = tf.function(self.update, reduce_retracing=True)
        self._generate_fn = tf.function(lambda z: self.sampler(z, training=False), reduce_retracing=True)
        self._score_fn = tf.function(lambda x: self.discriminator(x, training=False)[:, 0], reduce_retracing=True)

    # ---- the objective ----
    def _input_gradient(self, points):
        with tf.GradientTape() as tape:
            tape.watch(points)
            score_sum = tf.reduce_sum(self.discriminator(points, training=True))
        return tape.gradient(score_sum, points)

    def discriminator_loss(self, real, fake, mix):
        config = self.config
        real_logits = self.discriminator(real, training=True)
        fake_logits = self.discriminator(fake, training=True)
        penalty = 0.0
        if config.loss == "wgan_gp":  # (||grad D(x_hat)|| - 1)^2 at random points between real and fake (Gulrajani 2017)
            between = mix * real + (1.0 - mix) * fake
            norms = tf.sqrt(tf.reduce_sum(tf.square(self._input_gradient(between)), axis=1) + 1e-12)
            penalty = tf.reduce_mean(tf.square(norms - 1.0))
        loss = discriminator_objective(config.loss, real_logits, fake_logits, config.smoothing,
                                       config.gp_weight * penalty)
        if config.uses_r1:  # zero-centred penalty on D's gradient at the real points
            grad = self._input_gradient(real)
            loss += 0.5 * config.r1_gamma * tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=1))
        return loss, real_logits, fake_logits

    def generator_loss(self, fake_logits):
        return generator_objective(self.config.loss, fake_logits)

    def _score(self, logits):
        probabilities = self.config.loss in ("non_saturating", "minimax")
        return tf.reduce_mean(tf.sigmoid(logits) if probabilities else logits)

    # ---- one update, every random draw given ----
    def update(self, real_batches, d_noises, g_noise, mixes, train_d=True, train_g=True):
        """real_batches (d_steps, B, 2), d_noises (d_steps, B, latent), g_noise (B, latent), mixes (d_steps, B, 1)."""
        d_loss = g_loss = tf.constant(0.0)
        real_logits = fake_logits = tf.zeros((1, 1))
        for i in range(self.config.d_steps):
            fake = self.generator(d_noises[i], training=False)
            with tf.GradientTape() as tape:
                d_loss, real_logits, fake_logits = self.discriminator_loss(real_batches[i], fake, mixes[i])
            if train_d:
                grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
                self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))
        with tf.GradientTape() as tape:
            g_loss = self.generator_loss(self.discriminator(self.generator(g_noise, training=True), training=False))
        if train_g:
            grads = tape.gradient(g_loss, self.generator.trainable_variables)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
            if self.ema_generator is not None:
                self._average_generator()
        return {"d_loss": d_loss, "g_loss": g_loss, "d_real": self._score(real_logits),
                "d_fake": self._score(fake_logits)}

    def train_step(self, data):
        # data: real points (d_steps * batch_size, 2); each discriminator update gets its own slice.
        config = self.config
        steps, batch = config.d_steps, config.batch_size
        real = tf.reshape(tf.cast(data, tf.float32), (steps, batch, 2))
        d_noises = keras.random.normal((steps, batch, config.latent_dim), seed=self.seed_generator)
        g_noise = keras.random.normal((batch, config.latent_dim), seed=self.seed_generator)
        mixes = keras.random.uniform((steps, batch, 1), seed=self.seed_generator)
        values = self.update(real, d_noises, g_noise, mixes)
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def update_once(self, real_batches, d_noises, g_noise, mixes) -> dict[str, float]:
        """One traced update from NumPy arrays (the agreement test's entry point)."""
        as_tensor = lambda a: tf.convert_to_tensor(np.asarray(a, np.float32))  # noqa: E731
        values = self._update_fn(as_tensor(real_batches), as_tensor(d_noises), as_tensor(g_noise), as_tensor(mixes))
        return {name: float(value) for name, value in values.items()}

    # ---- inference ----
    def generate(self, z: np.ndarray) -> np.ndarray:
        return self._generate_fn(tf.convert_to_tensor(np.asarray(z, np.float32))).numpy()

    def score(self, points: np.ndarray) -> np.ndarray:
        """D's raw output (a logit for the logistic losses) at each point."""
        return self._score_fn(tf.convert_to_tensor(np.asarray(points, np.float32))).numpy()

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        z = np.random.default_rng(seed).normal(size=(n, self.config.latent_dim)).astype(np.float32)
        return self.generate(z).astype(np.float32)


class HalvingSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """gan_core.toy.learning_rate_at on an optimizer's iterations (updates done before this one), divided by
    `per_step` (d_steps for D, so that both networks' rates fall with the whole steps)."""

    def __init__(self, base: float, decay_start: int, half_life: int, per_step: int = 1):
        self.base, self.decay_start, self.half_life, self.per_step = base, decay_start, half_life, per_step

    def __call__(self, step):
        whole = tf.cast(tf.math.floordiv(tf.cast(step, tf.int64), self.per_step), tf.float32)
        past = tf.maximum(whole - float(self.decay_start), 0.0)
        return tf.constant(self.base, tf.float32) * tf.pow(0.5, past / float(self.half_life))

    def get_config(self):
        return {"base": self.base, "decay_start": self.decay_start, "half_life": self.half_life,
                "per_step": self.per_step}


def learning_rate(config: ToyConfig, base: float, per_step: int = 1):
    """A float when the rate is constant, else the schedule."""
    if config.lr_half_life <= 0:
        return base
    return HalvingSchedule(base, config.lr_decay_start, config.lr_half_life, per_step)


def build_toy_gan(config: ToyConfig) -> ToyGAN:
    generator = build_mlp(config.latent_dim, 2, config, "generator", seed=config.seed * 1000 + 1)
    discriminator = build_mlp(2, 1, config, "discriminator", seed=config.seed * 1000 + 500)
    gan = ToyGAN(discriminator, generator, config)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate(config, config.d_learning_rate, config.d_steps),
                                          beta_1=config.beta1, beta_2=config.beta2),
        g_optimizer=keras.optimizers.Adam(learning_rate(config, config.g_learning_rate),
                                          beta_1=config.beta1, beta_2=config.beta2))
    return gan


def train_toy(gan: ToyGAN, steps: int, drawn: np.ndarray | None = None, steps_per_call: int = 50,
              on_chunk=None) -> dict[str, float]:
    """Train `steps` updates on fresh real points each step; returns the last chunk's metrics.

    Steps run `steps_per_call` at a time inside one traced call. `on_chunk(step, metrics)` after each call.
    """
    config = gan.config
    rng = np.random.default_rng(config.seed + 7)
    per_step = config.d_steps * config.batch_size
    dataset = config.dataset if drawn is None else "drawn"

    @tf.function(reduce_retracing=True)
    def many(reals):
        values = gan.train_step(reals[0])
        for i in tf.range(1, tf.shape(reals)[0]):
            values = gan.train_step(reals[i])
        return values

    done, values = 0, {}
    while done < steps:
        count = min(steps_per_call, steps - done)
        reals = sample_points(dataset, count * per_step, rng, drawn=drawn).reshape(count, per_step, 2)
        for tracker in gan.metrics:
            tracker.reset_state()
        values = {name: float(value) for name, value in many(tf.convert_to_tensor(reals)).items()}
        done += count
        if on_chunk is not None:
            on_chunk(done, values)
    return values


# ---- files: weights only, plus the config as JSON ----

def gan_networks(gan: ToyGAN) -> dict[str, keras.Model]:
    networks = {"generator": gan.generator, "discriminator": gan.discriminator}
    if gan.ema_generator is not None:
        networks["generator_ema"] = gan.ema_generator
    return networks


def save_toy(gan: ToyGAN, folder, state: dict) -> None:
    import json

    from gan_core.checkpoints import atomic_write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    def writer(network):
        def write(temp: Path) -> None:  # Keras insists on the .weights.h5 suffix, which the temporary lacks
            named = temp.with_name(temp.name + ".weights.h5")
            network.save_weights(named)
            os.replace(named, temp)
        return write

    for name, network in gan_networks(gan).items():
        atomic_write(folder / f"{name}.weights.h5", writer(network))
    atomic_write(folder / "toy_state.json", lambda p: Path(p).write_text(json.dumps(state, indent=2) + "\n"))
    atomic_write(folder / CONFIG_FILE, lambda p: Path(p).write_text(gan.config.to_json() + "\n"))


def load_toy(folder) -> ToyGAN:
    """A ToyGAN from a folder written by save_toy; ValueError naming what is wrong."""
    import json

    folder = Path(folder)
    try:
        config = ToyConfig.from_dict(json.loads((folder / CONFIG_FILE).read_text()))
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"{folder.name}/{CONFIG_FILE} cannot be read as a toy config ({exc})") from exc
    gan = build_toy_gan(config)
    for name, network in gan_networks(gan).items():
        path = folder / f"{name}.weights.h5"
        if not path.is_file():
            raise ValueError(f"{folder.name} holds no {path.name}; train the run first")
        network.load_weights(path)
    return gan

