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

    def set_learning_rates(self, g_learning_rate: float, d_learning_rate: float) -> None:
        """Applied by the worker between chunks, so a running training never sees a half change."""
        self.trainer.schedule(lambda: self.model.set_learning_rates(g_learning_rate, d_learning_rate))


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
