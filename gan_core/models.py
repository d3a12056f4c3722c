"""The GAN as a keras.Model subclass: compile() with two optimizers + train_step()."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from gan_core.config import LOGISTIC_LOSSES, NUM_CLASSES, GANConfig
from gan_core.networks import build_encoder, build_gan_networks, build_generator, build_sampler_like


def _bce_from_logits(targets: float, logits: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.fill(tf.shape(logits), tf.cast(targets, logits.dtype)), logits=logits))


# ---- what every GAN here shares (the digits' GAN below, the 2-D ToyGAN of gan_core.toy_models) ----
def discriminator_objective(loss_name: str, real_logits, fake_logits, smoothing: float = 0.0,
                            weighted_penalty=0.0) -> tf.Tensor:
    """D's (the critic's) loss for each objective, before any R1 term; WGAN-GP's penalty comes in weighted."""
    if loss_name in LOGISTIC_LOSSES:
        return _bce_from_logits(1.0 - smoothing, real_logits) + _bce_from_logits(0.0, fake_logits)
    if loss_name == "least_squares":  # Mao et al. 2017
        return 0.5 * tf.reduce_mean(tf.square(real_logits - 1.0)) + 0.5 * tf.reduce_mean(tf.square(fake_logits))
    if loss_name == "hinge":  # Lim & Ye 2017; Miyato et al. 2018
        return tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))
    # wgan_gp: the critic estimates the Wasserstein distance, kept 1-Lipschitz by the penalty
    return tf.reduce_mean(fake_logits) - tf.reduce_mean(real_logits) + weighted_penalty


def generator_objective(loss_name: str, fake_logits) -> tf.Tensor:
    """G's loss for each objective, from D's scores of its fakes."""
    if loss_name == "minimax":
        # Minimise log(1 - D(G(z))): saturates when D is confident, kept to show the problem.
        return -_bce_from_logits(0.0, fake_logits)
    if loss_name == "least_squares":
        return 0.5 * tf.reduce_mean(tf.square(fake_logits - 1.0))
    if loss_name in ("hinge", "wgan_gp"):
        return -tf.reduce_mean(fake_logits)
    # Non-saturating: maximise log D(G(z)).
    return _bce_from_logits(1.0, fake_logits)


class AdversarialModel(keras.Model):
    """The shell of a GAN: `compile(d_optimizer, g_optimizer)`, the metric trackers, and the sampler (the
    generator's weight average when there is one). Subclasses set discriminator, generator, ema_generator,
    config (with `ema_decay`) and `trackers` ({name: keras.metrics.Mean})."""

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

    def _average_generator(self) -> None:
        # Warm-up so early pictures are not dominated by the random initial weights.
        updates = tf.cast(self.g_optimizer.iterations, tf.float32)
        decay = tf.minimum(self.config.ema_decay, (1.0 + updates) / (10.0 + updates))
        for average, current in zip(self.ema_generator.weights, self.generator.weights):
            # Batch-norm moving statistics are averaged too: harmless, and keeps them in step.
            average.assign(decay * average + (1.0 - decay) * current)


class GAN(AdversarialModel):
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
        self.conditional = config.model == "cgan"
        self.ema_generator = None
        if config.ema_decay > 0:
            self.ema_generator = build_sampler_like(config, name="generator_ema")
            self.ema_generator.set_weights(generator.get_weights())
        self.seed_generator = keras.random.SeedGenerator(config.seed)
        names = ["d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"]
        if config.loss == "wgan_gp":
            names.append("gradient_penalty")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.scores_are_probabilities = config.loss in LOGISTIC_LOSSES
        self._generate = tf.function(self._generate_eager, reduce_retracing=True)
        self._score = tf.function(self._score_eager, reduce_retracing=True)
        self._generate_soft = tf.function(lambda z, vectors: self.sampler([z, vectors], training=False),
                                          reduce_retracing=True)

    # The networks, with the label joined in when the GAN is conditional.
    def _g(self, network, z, labels, training):
        if self.conditional:
            return network([z, tf.one_hot(labels, NUM_CLASSES)], training=training)
        return network(z, training=training)

    def _d(self, images, labels, training=True):
        if self.conditional:
            return self.discriminator([images, tf.one_hot(labels, NUM_CLASSES)], training=training)
        return self.discriminator(images, training=training)

    def _noise(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def _discriminator_loss(self, real_images, fake_images, labels=None):
        """The discriminator's (critic's) loss for the configured objective, plus any penalty."""
        loss_name = self.config.loss
        use_r1 = self.config.r1_gamma > 0 and loss_name != "wgan_gp"
        r1 = tf.constant(0.0)
        if not use_r1:
            real_logits = self._d(real_images, labels)
        elif self.config.r1_every == 1:
            real_logits, r1 = self._real_logits_and_r1(real_images, labels, self.config.r1_gamma)
        else:
            # Lazy R1: on one update in r1_every, weighted r1_every times; the others skip its double backward.
            due = tf.equal(self.d_optimizer.iterations % self.config.r1_every, 0)
            real_logits, r1 = tf.cond(
                due, lambda: self._real_logits_and_r1(real_images, labels,
                                                      self.config.r1_gamma * self.config.r1_every),
                lambda: (self._d(real_images, labels), tf.constant(0.0)))
        fake_logits = self._d(fake_images, labels)
        penalty = tf.constant(0.0)
        if loss_name == "wgan_gp":
            penalty = self.gradient_penalty(real_images, fake_images, labels)
        loss = discriminator_objective(loss_name, real_logits, fake_logits, self.config.label_smoothing,
                                       self.config.gp_weight * penalty)
        return loss + r1, real_logits, fake_logits, penalty

    def _real_logits_and_r1(self, real_images, labels, weight):
        """D's logits on the real images and the R1 term: D's gradient on real data, penalised so D does not
        overshoot (Mescheder et al. 2018), as weight / 2 * E ||grad D(x)||^2."""
        with tf.GradientTape() as penalty_tape:
            penalty_tape.watch(real_images)
            real_logits = self._d(real_images, labels)
            real_logit_sum = tf.reduce_sum(real_logits)
        grad = penalty_tape.gradient(real_logit_sum, real_images)
        return real_logits, 0.5 * weight * tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=[1, 2]))

    def gradient_penalty(self, real_images, fake_images, labels=None):
        """WGAN-GP: mean of (||grad D(x_hat)|| - 1)^2 at random points between real and fake images."""
        batch = tf.shape(real_images)[0]
        mix = keras.random.uniform((batch, 1, 1), seed=self.seed_generator)
        between = mix * real_images + (1.0 - mix) * fake_images
        with tf.GradientTape() as tape:
            tape.watch(between)
            score_sum = tf.reduce_sum(self._d(between, labels))
        grad = tape.gradient(score_sum, between)
        norms = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=[1, 2]) + 1e-12)
        return tf.reduce_mean(tf.square(norms - 1.0))

    def _generator_loss(self, fake_logits):
        return generator_objective(self.config.loss, fake_logits)

    def _score_summary(self, logits):
        return tf.reduce_mean(tf.sigmoid(logits) if self.scores_are_probabilities else logits)

    def train_step(self, data):
        # Conditional GANs get (images, labels); the fakes are drawn for the same labels as the reals.
        real_images, labels = (data if isinstance(data, (tuple, list)) else (data, None))
        real_images = tf.cast(real_images, tf.float32)
        d_steps = self.config.d_steps
        batch = tf.shape(real_images)[0] // d_steps

        # 1. Discriminator: d_steps updates, each on its own slice of the real batch.
        for i in range(d_steps):
            part = slice(i * batch, (i + 1) * batch)
            slice_labels = None if labels is None else labels[part]
            fake_images = self._g(self.generator, self._noise(batch), slice_labels, training=False)
            with tf.GradientTape() as tape:
                d_loss, real_logits, fake_logits, penalty = self._discriminator_loss(
                    real_images[part], fake_images, slice_labels)
            d_grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(d_grads, self.discriminator.trainable_variables))

        # 2. Generator: one update through the just-updated discriminator.
        with tf.GradientTape() as tape:
            fakes = self._g(self.generator, self._noise(batch), slice_labels, training=True)
            generated_logits = self._d(fakes, slice_labels, training=False)
            g_loss = self._generator_loss(generated_logits)
        g_grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_variables))

        # 3. Weight average of the generator, for sampling.
        if self.ema_generator is not None:
            self._average_generator()

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
    def _generate_eager(self, z, labels):
        return self._g(self.sampler, z, labels, training=False)

    def _score_eager(self, images, labels):
        logits = self._d(images, labels, training=False)[:, 0]
        return tf.sigmoid(logits) if self.scores_are_probabilities else logits

    def _labels_for(self, count: int, labels) -> tf.Tensor:
        if labels is None:  # spread evenly over the classes
            labels = np.arange(count) % NUM_CLASSES
        labels = np.broadcast_to(np.asarray(labels, np.int32), (count,))
        return tf.convert_to_tensor(labels)

    def generate(self, z: np.ndarray, labels=None) -> np.ndarray:
        """Images (N, 28, 28) in [0, 1] for latent vectors z (N, latent_dim); labels only for a conditional GAN."""
        z = tf.convert_to_tensor(np.asarray(z, np.float32))
        return self._generate(z, self._labels_for(int(z.shape[0]), labels)).numpy()

    def generate_soft(self, z: np.ndarray, label_vectors: np.ndarray) -> np.ndarray:
        """A conditional GAN's images for label vectors (N, 10) instead of class numbers.

        A one-hot row draws that class, exactly as `generate` does; a blend of two rows (the label halfway
        from a 3 to an 8) shows what the generator does between the classes it was trained on.
        """
        if not self.conditional:
            raise ValueError("generate_soft needs a conditional GAN (model 'cgan'); this one takes no label")
        z, label_vectors = np.asarray(z, np.float32), np.asarray(label_vectors, np.float32)
        if label_vectors.shape != (len(z), NUM_CLASSES):
            raise ValueError(f"label_vectors must be ({len(z)}, {NUM_CLASSES}), one row per z; "
                             f"got {label_vectors.shape}")
        return self._generate_soft(tf.convert_to_tensor(z), tf.convert_to_tensor(label_vectors)).numpy()

    def probability(self, images: np.ndarray, labels=None) -> np.ndarray:
        """D(x) for each image: a probability for the logistic losses, the critic's raw score otherwise."""
        images = tf.convert_to_tensor(np.asarray(images, np.float32))
        return self._score(images, self._labels_for(int(images.shape[0]), labels)).numpy()

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
    """The documented GAN (or its conditional / convolutional variant), compiled with Adam as the config says."""
    generator, discriminator = build_gan_networks(config)
    gan = GAN(discriminator, generator, config)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta1, beta_2=config.beta2),
        g_optimizer=keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta1, beta_2=config.beta2),
    )
    return gan


def reconstruction_loss(images, reconstructions):
    """Bernoulli negative log-likelihood summed over pixels, averaged over the batch (nats per image)."""
    eps = 1e-6
    reconstructions = tf.clip_by_value(reconstructions, eps, 1.0 - eps)
    per_pixel = -(images * tf.math.log(reconstructions) + (1.0 - images) * tf.math.log(1.0 - reconstructions))
    return tf.reduce_mean(tf.reduce_sum(per_pixel, axis=[1, 2]))


def gaussian_reconstruction_loss(images, reconstructions):
    """Gaussian negative log-likelihood with one variance for every pixel, set to its maximum-likelihood value
    (the batch's mean squared error): D/2 * log(MSE) per image, up to a constant (Rybkin et al. 2021, sigma-VAE).
    The decoder's output is the mean; the variance balances the KL term without a hand-set weight."""
    mse = tf.reduce_mean(tf.square(images - reconstructions))
    pixels = tf.cast(tf.reduce_prod(tf.shape(images)[1:]), tf.float32)
    return 0.5 * pixels * (tf.math.log(mse + 1e-8) + 1.0 + tf.math.log(2.0 * np.pi))


RECONSTRUCTION_LOSSES = {"bernoulli": reconstruction_loss, "gaussian": gaussian_reconstruction_loss}


def kl_divergence(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)), summed over latent dims, averaged over the batch."""
    return tf.reduce_mean(-0.5 * tf.reduce_sum(1.0 + log_variance - tf.square(mean) - tf.exp(log_variance), axis=1))


class Autoencoder(keras.Model):
    """784 -> 256 -> latent -> 256 -> 784, trained to reconstruct its input.

    Its decoder has the documented generator's shape, but nothing shapes its
    latent space like a Gaussian, so decoding z ~ N(0, I) gives poor digits.
    """

    variational = False

    def __init__(self, encoder: keras.Model, decoder: keras.Model, config: GANConfig, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.config = encoder, decoder, config
        self.latent_dim = config.latent_dim
        self.conditional = False
        self.scores_are_probabilities = False
        self.seed_generator = keras.random.SeedGenerator(config.seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self._tracker_names()}
        self._decode_fn = tf.function(lambda z: self.decoder(z, training=False), reduce_retracing=True)
        self._encode_fn = tf.function(lambda x: self._code(x), reduce_retracing=True)
        self._reconstruction_loss = RECONSTRUCTION_LOSSES[config.likelihood]

    def _tracker_names(self):
        return ("recon_loss",)

    def compile(self, optimizer: keras.optimizers.Optimizer, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def sampler(self) -> keras.Model:
        return self.decoder

    def call(self, images, training=False):
        return self.decoder(self._code(images), training=training)

    def _code(self, images):
        return self.encoder(images, training=False)

    def _loss_terms(self, images):
        recon = self._reconstruction_loss(images, self.decoder(self.encoder(images, training=True), training=True))
        return {"recon_loss": recon}, recon

    def train_step(self, data):
        images = tf.cast(data[0] if isinstance(data, (tuple, list)) else data, tf.float32)
        with tf.GradientTape() as tape:
            terms, loss = self._loss_terms(images)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def generate(self, z: np.ndarray, labels=None) -> np.ndarray:
        """Decode latent vectors into images (N, 28, 28)."""
        return self._decode_fn(tf.convert_to_tensor(np.asarray(z, np.float32))).numpy()

    def encode(self, images: np.ndarray) -> np.ndarray:
        """The latent code of each image (the mean, for a VAE)."""
        return self._encode_fn(tf.convert_to_tensor(np.asarray(images, np.float32))).numpy()

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        return self.generate(self.encode(images))

    def set_learning_rates(self, g_learning_rate: float, d_learning_rate: float) -> None:
        self.optimizer.learning_rate.assign(g_learning_rate)

    def weight_networks(self) -> dict[str, keras.Model]:
        return {"encoder": self.encoder, "decoder": self.decoder}


class VAE(Autoencoder):
    """The same sizes with a Gaussian latent and the reparameterisation trick (Kingma & Welling 2014).

    Loss = reconstruction + kl_weight * KL(q(z|x) || N(0, I)): the negative ELBO when kl_weight is 1. With
    kl_warmup_steps the weight ramps linearly from 0 over the first updates (Bowman et al. 2016; Sonderby et al.
    2016), counted by the optimizer, so the encoder learns to use its code before the prior pulls it in.
    """

    variational = True

    def _tracker_names(self):
        return ("loss", "recon_loss", "kl_loss")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Steps trained before this optimizer's first update (a resumed run's Adam starts again at 0).
        self.steps_before = tf.Variable(0, dtype=tf.int64, trainable=False, name="steps_before")

    def continue_at(self, step: int) -> None:
        """Continue the KL warm-up at `step` (the trainer calls this when a run resumes)."""
        self.steps_before.assign(int(step) - int(self.optimizer.iterations.numpy()))

    def kl_weight(self):
        """The KL term's weight at the current update."""
        if self.config.kl_warmup_steps == 0:
            return tf.constant(self.config.kl_weight, tf.float32)
        done = tf.cast(tf.cast(self.optimizer.iterations, tf.int64) + self.steps_before + 1, tf.float32)
        return self.config.kl_weight * tf.minimum(1.0, done / float(self.config.kl_warmup_steps))

    def _code(self, images):
        mean, _ = tf.split(self.encoder(images, training=False), 2, axis=1)
        return mean

    def _loss_terms(self, images):
        mean, log_variance = tf.split(self.encoder(images, training=True), 2, axis=1)
        noise = keras.random.normal(tf.shape(mean), seed=self.seed_generator)
        z = mean + tf.exp(0.5 * log_variance) * noise  # reparameterisation: gradients flow through mean, variance
        recon = self._reconstruction_loss(images, self.decoder(z, training=True))
        kl = kl_divergence(mean, log_variance)
        loss = recon + self.kl_weight() * kl
        return {"loss": loss, "recon_loss": recon, "kl_loss": kl}, loss


def build_autoencoder(config: GANConfig) -> Autoencoder:
    cls = VAE if config.model == "vae" else Autoencoder
    outputs = 2 * config.latent_dim if config.model == "vae" else config.latent_dim
    model = cls(build_encoder(config, outputs), build_generator(config, name="decoder"), config)
    model.compile(optimizer=keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta1, beta_2=config.beta2))
    return model


def build_model(config: GANConfig) -> keras.Model:
    """Any model of the family, compiled, from its config."""
    if config.model in ("ae", "vae"):
        return build_autoencoder(config)
    return build_gan(config)
