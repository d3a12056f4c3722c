"""The documented networks, built from a config."""

from __future__ import annotations

import keras
from keras import layers

from gan_core.config import GANConfig


def _init(seed: int) -> keras.initializers.Initializer:
    # Seeded per layer so the same config builds the same network, without global seeding.
    return keras.initializers.GlorotUniform(seed=seed)


def build_generator(config: GANConfig, name: str = "generator") -> keras.Sequential:
    """z (latent_dim) -> Dense(hidden, ReLU) -> Dense(784, sigmoid) -> a 28x28 image in [0, 1]."""
    return keras.Sequential([
        keras.Input(shape=(config.latent_dim,), name="z"),
        layers.Dense(config.hidden_units, activation="relu", name="hidden",
                     kernel_initializer=_init(config.seed * 10 + 1)),
        layers.Dense(config.image_pixels, activation="sigmoid", name="pixels",
                     kernel_initializer=_init(config.seed * 10 + 2)),
        layers.Reshape((config.image_size, config.image_size), name="image"),
    ], name=name)


def build_discriminator(config: GANConfig, name: str = "discriminator") -> keras.Sequential:
    """784 -> Dense(hidden, ReLU) -> Dense(1): the logit of D(x).

    The documented sigmoid is applied outside (`GAN.probability`) so the loss can be
    computed from the logit, which is numerically stable; what users see is the sigmoid.
    """
    return keras.Sequential([
        keras.Input(shape=(config.image_size, config.image_size), name="image"),
        layers.Flatten(name="flatten"),
        layers.Dense(config.hidden_units, activation="relu", name="hidden",
                     kernel_initializer=_init(config.seed * 10 + 3)),
        layers.Dense(1, name="logit", kernel_initializer=_init(config.seed * 10 + 4)),
    ], name=name)


def describe(network: keras.Model) -> list[dict]:
    """Layer name, output width and parameter count of each layer: what the app draws."""
    rows, shape = [], tuple(network.inputs[0].shape) if network.inputs else None
    for layer in network.layers:
        shape = tuple(layer.compute_output_shape(shape))
        rows.append({"name": layer.name, "output": shape[1:],
                     "activation": getattr(getattr(layer, "activation", None), "__name__", ""),
                     "params": int(layer.count_params())})
    return rows
