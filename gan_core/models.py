"""The GAN as a keras.Model subclass: compile() with two optimizers + train_step()."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gan_core.config import LOGISTIC_LOSSES, GANConfig
from gan_core.networks import build_discriminator, build_generator


def _bce_from_logits(targets: float, logits: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.fill(tf.shape(logits), tf.cast(targets, logits.dtype)), logits=logits))


class GAN(keras.Model):
    """Alternates discriminator and generator updates (Goodfellow et al. 2014).

    Reports d_loss, g_loss, d_real (mean D(x)), d_fake (mean D(G(z))) and the
    gradient norms of both networks. For the logistic losses d_real and d_fake
    are probabilities; for least-squares, hinge and WGAN-GP they are the mean raw
    scores of the critic (`scores_are_probabilities` says which). With `ema_decay > 0` it also keeps an
    exponential moving average of the generator's weights, used for sampling.
    """

    def __init__(self, discriminator: keras.Model, generator: keras.Model, config: GANConfig, **kwargs):
        super().__init__(**kwargs)
        self.discriminator = discriminator
        self.generator = generator
        self.config = config
        self.latent_dim = config.latent_dim
        self.ema_generator = None
        if config.ema_decay > 0:
            self.ema_generator = build_generator(config, name="generator_ema")
            self.ema_generator.set_weights(generator.get_weights())
        self.seed_generator = keras.random.SeedGenerator(config.seed)
        names = ["d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"]
        if config.loss == "wgan_gp":
            names.append("gradient_penalty")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.scores_are_probabilities = config.loss in LOGISTIC_LOSSES
        self._generate = tf.function(self._generate_eager, reduce_retracing=True)
        self._score = tf.function(self._score_eager, reduce_retracing=True)

    def compile(self, d_optimizer: keras.optimizers.Optimizer, g_optimizer: keras.optimizers.Optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Built here, outside any traced function, so their variables exist before the first step.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def sampler(self) -> keras.Model:
        """The generator used for pictures: the weight average when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, z, training=False):
        return self.sampler(z, training=training)

    def _noise(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def _discriminator_loss(self, real_images, fake_images):
        """The discriminator's (critic's) loss for the configured objective, plus any penalty."""
        loss_name = self.config.loss
        use_r1 = self.config.r1_gamma > 0 and loss_name != "wgan_gp"
        if use_r1:
            with tf.GradientTape() as penalty_tape:
                penalty_tape.watch(real_images)
                real_logits = self.discriminator(real_images, training=True)
                real_logit_sum = tf.reduce_sum(real_logits)
        else:
            real_logits = self.discriminator(real_images, training=True)
        fake_logits = self.discriminator(fake_images, training=True)
        penalty = tf.constant(0.0)
        if loss_name in LOGISTIC_LOSSES:
            smoothing = self.config.label_smoothing
            loss = _bce_from_logits(1.0 - smoothing, real_logits) + _bce_from_logits(0.0, fake_logits)
        elif loss_name == "least_squares":  # Mao et al. 2017
            loss = 0.5 * tf.reduce_mean(tf.square(real_logits - 1.0)) + 0.5 * tf.reduce_mean(tf.square(fake_logits))
        elif loss_name == "hinge":  # Lim & Ye 2017; Miyato et al. 2018
            loss = tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))
        else:  # wgan_gp: the critic estimates the Wasserstein distance, kept 1-Lipschitz by the penalty
            penalty = self.gradient_penalty(real_images, fake_images)
            loss = tf.reduce_mean(fake_logits) - tf.reduce_mean(real_logits) + self.config.gp_weight * penalty
        if use_r1:
            # R1: penalise D's gradient on real data, which keeps it from overshooting (Mescheder 2018).
            grad = penalty_tape.gradient(real_logit_sum, real_images)
            loss += 0.5 * self.config.r1_gamma * tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=[1, 2]))
        return loss, real_logits, fake_logits, penalty

    def gradient_penalty(self, real_images, fake_images):
        """WGAN-GP: mean of (||grad D(x_hat)|| - 1)^2 at random points between real and fake images."""
        batch = tf.shape(real_images)[0]
        mix = keras.random.uniform((batch, 1, 1), seed=self.seed_generator)
        between = mix * real_images + (1.0 - mix) * fake_images
        with tf.GradientTape() as tape:
            tape.watch(between)
            score_sum = tf.reduce_sum(self.discriminator(between, training=True))
        grad = tape.gradient(score_sum, between)
        norms = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=[1, 2]) + 1e-12)
        return tf.reduce_mean(tf.square(norms - 1.0))

    def _generator_loss(self, fake_logits):
        loss_name = self.config.loss
        if loss_name == "minimax":
            # Minimise log(1 - D(G(z))): saturates when D is confident, kept to show the problem.
            return -_bce_from_logits(0.0, fake_logits)
        if loss_name == "least_squares":
            return 0.5 * tf.reduce_mean(tf.square(fake_logits - 1.0))
        if loss_name in ("hinge", "wgan_gp"):
            return -tf.reduce_mean(fake_logits)
        # Non-saturating: maximise log D(G(z)).
        return _bce_from_logits(1.0, fake_logits)

    def _score_summary(self, logits):
        return tf.reduce_mean(tf.sigmoid(logits) if self.scores_are_probabilities else logits)

    def train_step(self, real_images):
        real_images = tf.cast(real_images, tf.float32)
        d_steps = self.config.d_steps
        batch = tf.shape(real_images)[0] // d_steps

        # 1. Discriminator: d_steps updates, each on its own slice of the real batch.
        for i in range(d_steps):
            real_slice = real_images[i * batch:(i + 1) * batch]
            fake_images = self.generator(self._noise(batch), training=False)
            with tf.GradientTape() as tape:
                d_loss, real_logits, fake_logits, penalty = self._discriminator_loss(real_slice, fake_images)
            d_grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(d_grads, self.discriminator.trainable_variables))

        # 2. Generator: one update through the just-updated discriminator.
        with tf.GradientTape() as tape:
            generated_logits = self.discriminator(self.generator(self._noise(batch), training=True), training=False)
            g_loss = self._generator_loss(generated_logits)
        g_grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_variables))

        # 3. Weight average of the generator, for sampling.
        if self.ema_generator is not None:
            # Warm-up so early pictures are not dominated by the random initial weights.
            updates = tf.cast(self.g_optimizer.iterations, tf.float32)
            decay = tf.minimum(self.config.ema_decay, (1.0 + updates) / (10.0 + updates))
            for average, current in zip(self.ema_generator.weights, self.generator.weights):
                average.assign(decay * average + (1.0 - decay) * current)

        self.trackers["d_loss"].update_state(d_loss)
        self.trackers["g_loss"].update_state(g_loss)
        self.trackers["d_real"].update_state(self._score_summary(real_logits))
        self.trackers["d_fake"].update_state(self._score_summary(fake_logits))
        if "gradient_penalty" in self.trackers:
            self.trackers["gradient_penalty"].update_state(penalty)
        self.trackers["d_grad_norm"].update_state(tf.linalg.global_norm(d_grads))
        self.trackers["g_grad_norm"].update_state(tf.linalg.global_norm(g_grads))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # Fast inference paths: traced once, then ~0.3 ms a call (never model.predict in a loop).
    def _generate_eager(self, z):
        return self.sampler(z, training=False)

    def _score_eager(self, images):
        return tf.sigmoid(self.discriminator(images, training=False))[:, 0]

    def generate(self, z: np.ndarray) -> np.ndarray:
        """Images (N, 28, 28) in [0, 1] for latent vectors z (N, latent_dim)."""
        return self._generate(tf.convert_to_tensor(np.asarray(z, np.float32))).numpy()

    def probability(self, images: np.ndarray) -> np.ndarray:
        """D(x) as a probability, for each image."""
        return self._score(tf.convert_to_tensor(np.asarray(images, np.float32))).numpy()

    def set_learning_rates(self, g_learning_rate: float, d_learning_rate: float) -> None:
        self.g_optimizer.learning_rate.assign(g_learning_rate)
        self.d_optimizer.learning_rate.assign(d_learning_rate)

    def weight_networks(self) -> dict[str, keras.Model]:
        """Every network whose weights make up this model, by file stem."""
        networks = {"generator": self.generator, "discriminator": self.discriminator}
        if self.ema_generator is not None:
            networks["generator_ema"] = self.ema_generator
        return networks


def build_gan(config: GANConfig) -> GAN:
    """The documented GAN, compiled with Adam as the config says."""
    gan = GAN(build_discriminator(config), build_generator(config), config)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta1, beta_2=config.beta2),
        g_optimizer=keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta1, beta_2=config.beta2),
    )
    return gan
