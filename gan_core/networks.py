"""The documented networks, built from a config."""

from __future__ import annotations

import keras
from keras import layers

from gan_core.config import NUM_CLASSES, GANConfig


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


def build_conditional_generator(config: GANConfig, name: str = "generator") -> keras.Model:
    """[z, one-hot label] -> Dense(hidden, ReLU) -> Dense(784, sigmoid): the documented G with the label joined to z."""
    z = keras.Input(shape=(config.latent_dim,), name="z")
    label = keras.Input(shape=(NUM_CLASSES,), name="label")
    hidden = layers.Dense(config.hidden_units, activation="relu", name="hidden",
                          kernel_initializer=_init(config.seed * 10 + 1))(layers.Concatenate()([z, label]))
    pixels = layers.Dense(config.image_pixels, activation="sigmoid", name="pixels",
                          kernel_initializer=_init(config.seed * 10 + 2))(hidden)
    image = layers.Reshape((config.image_size, config.image_size), name="image")(pixels)
    return keras.Model([z, label], image, name=name)


def build_conditional_discriminator(config: GANConfig, name: str = "discriminator") -> keras.Model:
    """[image, one-hot label] -> Dense(hidden, ReLU) -> Dense(1): the documented D with the label joined to the image."""
    image = keras.Input(shape=(config.image_size, config.image_size), name="image")
    label = keras.Input(shape=(NUM_CLASSES,), name="label")
    joined = layers.Concatenate()([layers.Flatten()(image), label])
    hidden = layers.Dense(config.hidden_units, activation="relu", name="hidden",
                          kernel_initializer=_init(config.seed * 10 + 3))(joined)
    logit = layers.Dense(1, name="logit", kernel_initializer=_init(config.seed * 10 + 4))(hidden)
    return keras.Model([image, label], logit, name=name)


def build_conv_generator(config: GANConfig, name: str = "generator") -> keras.Sequential:
    """A small DCGAN generator for 28x28: z -> 7x7x64 -> 14x14x32 -> 28x28x1 (Radford et al. 2016)."""
    return keras.Sequential([
        keras.Input(shape=(config.latent_dim,), name="z"),
        layers.Dense(7 * 7 * 64, kernel_initializer=_init(config.seed * 10 + 1)),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Reshape((7, 7, 64)),
        layers.Conv2DTranspose(32, 4, strides=2, padding="same", kernel_initializer=_init(config.seed * 10 + 2)),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="sigmoid",
                               kernel_initializer=_init(config.seed * 10 + 5)),
        layers.Reshape((config.image_size, config.image_size), name="image"),
    ], name=name)


def build_conv_discriminator(config: GANConfig, name: str = "discriminator") -> keras.Sequential:
    """A small DCGAN discriminator: 28x28 -> 14x14x32 -> 7x7x64 -> logit, LeakyReLU, no batch norm (R1-friendly)."""
    return keras.Sequential([
        keras.Input(shape=(config.image_size, config.image_size), name="image"),
        layers.Reshape((config.image_size, config.image_size, 1)),
        layers.Conv2D(32, 4, strides=2, padding="same", kernel_initializer=_init(config.seed * 10 + 3)),
        layers.LeakyReLU(0.2),
        layers.Conv2D(64, 4, strides=2, padding="same", kernel_initializer=_init(config.seed * 10 + 6)),
        layers.LeakyReLU(0.2),
        layers.Flatten(),
        layers.Dense(1, name="logit", kernel_initializer=_init(config.seed * 10 + 4)),
    ], name=name)


def build_encoder(config: GANConfig, outputs: int, name: str = "encoder") -> keras.Sequential:
    """784 -> Dense(hidden, ReLU) -> Dense(outputs): mirrors the documented generator."""
    return keras.Sequential([
        keras.Input(shape=(config.image_size, config.image_size), name="image"),
        layers.Flatten(name="flatten"),
        layers.Dense(config.hidden_units, activation="relu", name="hidden",
                     kernel_initializer=_init(config.seed * 10 + 7)),
        layers.Dense(outputs, name="code", kernel_initializer=_init(config.seed * 10 + 8)),
    ], name=name)


def build_gan_networks(config: GANConfig) -> tuple[keras.Model, keras.Model]:
    """(generator, discriminator) for the configured GAN variant."""
    if config.model == "cgan":
        return build_conditional_generator(config), build_conditional_discriminator(config)
    if config.architecture == "conv":
        return build_conv_generator(config), build_conv_discriminator(config)
    return build_generator(config), build_discriminator(config)


def build_sampler_like(config: GANConfig, name: str) -> keras.Model:
    """A second generator of the same shape (for the weight average)."""
    if config.model == "cgan":
        return build_conditional_generator(config, name=name)
    if config.architecture == "conv":
        return build_conv_generator(config, name=name)
    return build_generator(config, name=name)


def describe(network: keras.Model) -> list[dict]:
    """Layer name, output width and parameter count of each layer: what the app draws."""
    rows, shape = [], tuple(network.inputs[0].shape) if network.inputs else None
    for layer in network.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        try:  # functional models know each layer's output; Sequential ones are walked in order
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = tuple(layer.compute_output_shape(shape))
        rows.append({"name": layer.name, "output": shape[1:],
                     "activation": getattr(getattr(layer, "activation", None), "__name__", ""),
                     "params": int(layer.count_params())})
    return rows
