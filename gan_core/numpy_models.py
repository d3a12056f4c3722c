"""The dense networks of the family as NumPy forward passes, so the page draws without TensorFlow.

Every dense model here is the documented two-layer shape: x -> Dense(hidden, ReLU) -> Dense(out). Running it
in NumPy costs ~0.02 ms for one digit against ~0.3 ms for a traced Keras call plus a round trip to a worker,
and needs no process at all, so the Explore page answers a slider from the page process itself. The results
equal Keras's to float32 rounding (tests/test_engine.py compares them). Convolutional models have no NumPy
path: they are served by the engine's inference worker.

Weights arrive as each network's `get_weights()` list ([W1, b1, W2, b2]) or are read straight from a Keras
`.weights.h5` file with h5py (data only, never code).

The products run on one BLAS thread: they are tiny (a few digits by a 256-wide layer), and waking OpenBLAS's
threads costs more than the product itself, far more when the cores are busy training (measured on the 2-core
machine under load: 8 digits 16 ms on OpenBLAS's default two threads, 0.7 ms on one).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from gan_core.config import LOGISTIC_LOSSES, NUM_CLASSES, GANConfig

NETWORK_STEMS = ("generator", "generator_ema", "discriminator", "encoder", "decoder")


class WeightsError(ValueError):
    """A weights file or array list does not fit the network the config describes; the message says which."""


def supports(config: GANConfig) -> bool:
    """True when every network of this model is the dense two-layer shape NumPy can run."""
    return config.architecture == "dense"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warning for large negative logits, same value as 1 / (1 + e^-x).
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)


def read_dense_h5(path: str | Path) -> list[np.ndarray]:
    """[W1, b1, W2, b2] from a Keras 3 `.weights.h5` of a two-Dense-layer network (layers 'dense', 'dense_1')."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as file:
            layers = file.get("layers")
            if layers is None:
                raise WeightsError(f"{path}: not a Keras weights file (no 'layers' group).")
            dense = sorted((name for name in layers if name == "dense" or name.startswith("dense_")),
                           key=lambda name: 0 if name == "dense" else int(name.split("_")[1]) if
                           name.split("_")[1].isdigit() else 10**6)
            arrays = []
            for name in dense:
                group = layers[name].get("vars")
                if group is None or sorted(group) != ["0", "1"]:
                    raise WeightsError(f"{path}: layer '{name}' should hold a kernel and a bias.")
                arrays += [np.asarray(group["0"], np.float32), np.asarray(group["1"], np.float32)]
    except OSError as exc:
        raise WeightsError(f"{path}: cannot be read as HDF5 ({exc}).") from exc
    if len(arrays) != 4:
        raise WeightsError(f"{path}: expected two dense layers, found {len(arrays) // 2}; this network is not the "
                           f"documented dense shape.")
    return arrays


def expected_shapes(config: GANConfig, stem: str) -> list[tuple[int, ...]]:
    """The shapes of [W1, b1, W2, b2] for one network of a dense model."""
    hidden, pixels, latent = config.hidden_units, config.image_pixels, config.latent_dim
    label = NUM_CLASSES if config.model == "cgan" else 0
    if stem in ("generator", "generator_ema", "decoder"):
        inputs, outputs = latent + label, pixels
    elif stem == "discriminator":
        inputs, outputs = pixels + label, 1
    elif stem == "encoder":
        inputs, outputs = pixels, 2 * latent if config.model == "vae" else latent
    else:
        raise WeightsError(f"unknown network {stem!r}; expected one of {', '.join(NETWORK_STEMS)}")
    return [(inputs, hidden), (hidden,), (hidden, outputs), (outputs,)]


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()  # finds the loaded BLAS once (a scan of the process's libraries)


class DenseNet:
    """x -> relu(x W1 + b1) W2 + b2: the raw output (a logit, a code or pre-sigmoid pixels)."""

    def __init__(self, arrays: list[np.ndarray], shapes: list[tuple[int, ...]], name: str):
        arrays = [np.asarray(a, np.float32) for a in arrays]
        found = [tuple(a.shape) for a in arrays]
        if found != [tuple(s) for s in shapes]:
            raise WeightsError(f"{name}: weight shapes {found} do not match this config's network {shapes}.")
        self.w1, self.b1, self.w2, self.b2 = arrays

    @property
    def arrays(self) -> list[np.ndarray]:
        return [self.w1, self.b1, self.w2, self.b2]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with _blas().limit(limits=1, user_api="blas"):
            hidden = np.maximum(x @ self.w1 + self.b1, 0.0)
            return (hidden @ self.w2 + self.b2).astype(np.float32)


class NumpyModel:
    """A dense model of the family (GAN, conditional GAN, autoencoder, VAE) with the Keras models' methods.

    `generate`, `generate_soft`, `probability`, `encode` and `reconstruct` take and return NumPy arrays
    exactly as gan_core.models does, so a page can hold either.
    """

    def __init__(self, config: GANConfig, weights: dict[str, list[np.ndarray]]):
        if not supports(config):
            raise WeightsError(f"a {config.architecture} model has no NumPy forward pass; use the engine's worker.")
        self.config = config
        self.latent_dim = config.latent_dim
        self.conditional = config.model == "cgan"
        self.scores_are_probabilities = config.loss in LOGISTIC_LOSSES
        adversarial = config.is_adversarial
        sampler_stem = "decoder" if not adversarial else (
            "generator_ema" if "generator_ema" in weights else "generator")
        needed = [sampler_stem] + (["encoder"] if not adversarial else [])
        missing = [stem for stem in needed if stem not in weights]
        if missing:
            raise WeightsError(f"missing weights for the {', '.join(missing)} of this {config.display_name}.")
        self.networks = {stem: DenseNet(arrays, expected_shapes(config, stem), stem)
                         for stem, arrays in weights.items() if stem in NETWORK_STEMS}
        self.sampler = self.networks[sampler_stem]
        self.discriminator = self.networks.get("discriminator")

    @classmethod
    def from_folder(cls, folder: str | Path, config: GANConfig) -> "NumpyModel":
        folder = Path(folder)
        weights = {stem: read_dense_h5(folder / f"{stem}.weights.h5") for stem in NETWORK_STEMS
                   if (folder / f"{stem}.weights.h5").is_file()}
        return cls(config, weights)

    def _one_hot(self, count: int, labels) -> np.ndarray:
        if labels is None:  # spread evenly over the classes, as the Keras model does
            labels = np.arange(count) % NUM_CLASSES
        labels = np.broadcast_to(np.asarray(labels, np.int64), (count,))
        return np.eye(NUM_CLASSES, dtype=np.float32)[labels]

    def _pixels(self, inputs: np.ndarray) -> np.ndarray:
        size = self.config.image_size
        return _sigmoid(self.sampler(inputs)).reshape(-1, size, size)

    def generate(self, z: np.ndarray, labels=None) -> np.ndarray:
        z = np.asarray(z, np.float32).reshape(-1, self.latent_dim)
        if self.conditional:
            z = np.concatenate([z, self._one_hot(len(z), labels)], axis=1)
        return self._pixels(z)

    def generate_soft(self, z: np.ndarray, label_vectors: np.ndarray) -> np.ndarray:
        if not self.conditional:
            raise ValueError("generate_soft needs a conditional GAN (model 'cgan'); this one takes no label")
        z, vectors = np.asarray(z, np.float32), np.asarray(label_vectors, np.float32)
        if vectors.shape != (len(z), NUM_CLASSES):
            raise ValueError(f"label_vectors must be ({len(z)}, {NUM_CLASSES}), one row per z; got {vectors.shape}")
        return self._pixels(np.concatenate([z, vectors], axis=1))

    def probability(self, images: np.ndarray, labels=None) -> np.ndarray:
        if self.discriminator is None:
            raise ValueError("this model has no discriminator to score images with")
        flat = np.asarray(images, np.float32).reshape(-1, self.config.image_pixels)
        if self.conditional:
            flat = np.concatenate([flat, self._one_hot(len(flat), labels)], axis=1)
        logits = self.discriminator(flat)[:, 0]
        return _sigmoid(logits) if self.scores_are_probabilities else logits

    def encode(self, images: np.ndarray) -> np.ndarray:
        if "encoder" not in self.networks:
            raise ValueError("this model has no encoder")
        codes = self.networks["encoder"](np.asarray(images, np.float32).reshape(-1, self.config.image_pixels))
        return codes[:, :self.latent_dim] if self.config.model == "vae" else codes  # a VAE's code is the mean

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        return self.generate(self.encode(images))

    def sampler_arrays(self) -> list[np.ndarray]:
        """[W1, b1, W2, b2] of the network pictures come from (what instant mode sends to the browser)."""
        return self.sampler.arrays
