"""Wiring: config -> data -> networks -> model -> trainer, in one object a CLI or a page can hold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gan_core.config import GANConfig
from gan_core.data import Dataset, DatasetError, load_dataset
from gan_core.models import build_model
from gan_core.training import FusedSteps, Trainer

PREVIEW_COUNT = 64
PREVIEW_SEED = 1234


def fixed_noise(latent_dim: int, count: int = PREVIEW_COUNT, seed: int = PREVIEW_SEED) -> np.ndarray:
    """The same z every time, so the sample grid shows progress rather than new draws."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


@dataclass
class TrainingRun:
    config: GANConfig
    dataset: Dataset
    model: "keras.Model"  # GAN, Autoencoder or VAE: anything with train_step, metrics and generate
    trainer: Trainer
    fixed_noise: np.ndarray

    live_quality: "LiveQuality | None" = None

    def set_learning_rates(self, g_learning_rate: float, d_learning_rate: float) -> None:
        """Applied by the worker between chunks, so a running training never sees a half change."""
        self.trainer.schedule(lambda: self.model.set_learning_rates(g_learning_rate, d_learning_rate))

    def attach_discriminator_view(self, real_images: np.ndarray, count: int = 256, every_chunks: int = 1) -> None:
        """GAN Lab's discriminator view for images: D's output on a real and a generated batch, live."""
        if not self.config.is_adversarial:
            return
        rng = np.random.default_rng(self.config.seed + 5)
        count = min(count, len(real_images))
        index = rng.choice(len(real_images), count, replace=False)
        real = np.asarray(real_images[index], np.float32)
        labels = self.dataset.labels[index] if self.dataset.labels is not None else np.arange(count) % 10
        z = fixed_noise(self.config.latent_dim, count, seed=PREVIEW_SEED + 1)

        def probe() -> dict:
            fake = self.model.generate(z, labels)
            return {"real": self.model.probability(real, labels), "fake": self.model.probability(fake, labels)}

        self.trainer.add_probe("discriminator_view", probe, every_chunks)

    def attach_live_quality(self, judge, real_images: np.ndarray, every_steps: int = 2000, n: int = 1000,
                            min_interval_s: float = 0.0) -> "LiveQuality":
        """Score samples every `every_steps` steps, at most once per `min_interval_s`, in a separate thread (see
        gan_core.monitor)."""
        from gan_core.monitor import LiveQuality
        from gan_core.networks import build_sampler_like

        live = LiveQuality(judge, real_images, lambda: build_sampler_like(self.config, "live_quality_sampler"),
                           self.config.latent_dim, every_steps=every_steps, n=n,
                           conditional=self.config.model == "cgan", min_interval_s=min_interval_s)
        self.trainer.add_callback("on_chunk_end", lambda snapshot: live.maybe_submit(
            snapshot.step, self.model.sampler.get_weights))
        self.live_quality = live
        return live

    def stop(self) -> None:
        self.trainer.stop()
        if self.live_quality is not None:
            self.live_quality.stop()


def create_run(config: GANConfig, dataset: Dataset | None = None, *, model=None,
               chunk_steps: int = 100, total_steps: int | None = None, start_step: int = 0) -> TrainingRun:
    dataset = dataset if dataset is not None else load_dataset(config.dataset)
    if config.model == "cgan" and dataset.labels is None:
        raise DatasetError(f"{dataset.name} has no labels; the conditional GAN needs labelled digits "
                           f"(mnist-sample, mnist, fashion_mnist or an idx: folder with *-labels-idx1-ubyte files).")
    model = model if model is not None else build_model(config)
    noise = fixed_noise(config.latent_dim)
    batch = config.batch_size * (config.d_steps if config.is_adversarial else 1)
    runner = FusedSteps(model, dataset.images, batch, config.seed,
                        labels=dataset.labels if config.model == "cgan" else None)
    trainer = Trainer(model, runner, lambda: model.generate(noise), chunk_steps=chunk_steps,
                      steps_per_call=config.steps_per_call, total_steps=total_steps, start_step=start_step)
    return TrainingRun(config, dataset, model, trainer, noise)
