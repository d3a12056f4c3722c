"""The documented generator's weights packed for a browser: shapes, base64 float32 arrays, a content hash.

The browser (ui/instant_generator.js) recomputes z -> Dense(hidden, ReLU) -> Dense(784, sigmoid) itself,
so it needs exactly four arrays and nothing else. Models whose sampler has any other shape are refused.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np

ARRAY_NAMES = ("W1", "b1", "W2", "b2")
PAYLOAD_FORMAT = "dense2-float32le-base64"


def _dense_layers(sampler) -> list:
    """The sampler's two Dense layers, after checking it is the documented generator; ValueError otherwise."""
    import keras  # only for a Keras model; the page's NumPy models never get here

    allowed_extra = (keras.layers.InputLayer, keras.layers.Reshape, keras.layers.Flatten)
    name = getattr(sampler, "name", type(sampler).__name__)
    inputs = getattr(sampler, "inputs", None) or []
    if len(inputs) != 1:
        raise ValueError(f"the in-browser generator needs a sampler with one input (z); '{name}' has {len(inputs)} "
                         "(a conditional GAN also takes a label): use server rendering for this model")
    dense = [layer for layer in sampler.layers if isinstance(layer, keras.layers.Dense)]
    others = [layer for layer in sampler.layers
              if not isinstance(layer, (keras.layers.Dense, *allowed_extra))]
    activations = [getattr(layer.activation, "__name__", "") for layer in dense]
    if others or activations != ["relu", "sigmoid"] or not all(layer.use_bias for layer in dense):
        found = ", ".join(f"{type(layer).__name__}" for layer in sampler.layers) or "no layers"
        raise ValueError(f"the in-browser generator computes only z -> Dense(ReLU) -> Dense(sigmoid); sampler "
                         f"'{name}' has {found} (dense activations {activations}): use server rendering")
    return dense


def generator_weights(model) -> list[np.ndarray]:
    """[W1 (latent, hidden), b1 (hidden,), W2 (hidden, pixels), b2 (pixels,)] as float32, shapes checked.

    `model` is a Keras model of the family, or anything with `sampler_arrays()` (the page's NumPy models).
    """
    config = getattr(model, "config", None)
    if config is not None and config.model == "cgan":
        raise ValueError("the in-browser generator needs a sampler with one input (z); a conditional GAN also "
                         "takes a label: use server rendering for this model")
    if hasattr(model, "sampler_arrays"):
        weights = [np.asarray(array, np.float32) for array in model.sampler_arrays()]
    else:
        sampler = getattr(model, "sampler", None)
        if sampler is None or not hasattr(sampler, "get_weights"):
            raise ValueError(f"{type(model).__name__} has no generator network (`sampler`) to export")
        _dense_layers(sampler)
        weights = [np.asarray(array, np.float32) for array in sampler.get_weights()]
    shapes = [array.shape for array in weights]
    if len(weights) != 4 or any(len(shape) != rank for shape, rank in zip(shapes, (2, 1, 2, 1))):
        raise ValueError(f"expected 4 weight arrays (W1, b1, W2, b2) in the sampler; got shapes {shapes}")
    (latent_dim, hidden), (bias1,), (hidden2, pixels), (bias2,) = shapes
    if not (bias1 == hidden == hidden2 and bias2 == pixels):
        raise ValueError(f"the sampler's weight shapes do not chain as z -> hidden -> pixels: {shapes}")
    expected_latent = getattr(model, "latent_dim", latent_dim)
    if latent_dim != expected_latent:
        raise ValueError(f"the sampler takes {latent_dim} inputs but the model's latent_dim is {expected_latent}")
    return weights


def weights_hash(weights: list[np.ndarray]) -> str:
    """16 hex digits of SHA-256 over the shapes and little-endian bytes: equal weights, equal hash."""
    digest = hashlib.sha256()
    for array in weights:
        digest.update(repr(tuple(array.shape)).encode())
        digest.update(np.ascontiguousarray(array, "<f4").tobytes())
    return digest.hexdigest()[:16]


def encode_array(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, "<f4").tobytes()).decode("ascii")


def decode_array(text: str, shape: list[int] | tuple[int, ...]) -> np.ndarray:
    """The inverse of `encode_array`: float32 in the given shape."""
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32).reshape(shape)


def generator_payload(model, include_arrays: bool = True) -> dict:
    """What the browser needs to run `model`'s sampler: JSON-ready, arrays base64 float32 little-endian.

    {"format", "hash", "latent_dim", "hidden_units", "image_size", "shapes": {name: shape},
     "arrays": {name: base64} (only with include_arrays)}. Raises ValueError for any sampler that is not
    the documented dense z -> Dense(ReLU) -> Dense(sigmoid) generator.
    """
    weights = generator_weights(model)
    pixels = weights[3].shape[0]
    image_size = int(round(pixels ** 0.5))
    if image_size * image_size != pixels:
        raise ValueError(f"the generator's {pixels} outputs are not a square image")
    payload = {
        "format": PAYLOAD_FORMAT,
        "hash": weights_hash(weights),
        "latent_dim": int(weights[0].shape[0]),
        "hidden_units": int(weights[0].shape[1]),
        "image_size": image_size,
        "shapes": {name: list(array.shape) for name, array in zip(ARRAY_NAMES, weights)},
    }
    if include_arrays:
        payload["arrays"] = {name: encode_array(array) for name, array in zip(ARRAY_NAMES, weights)}
    return payload


def payload_weights(payload: dict) -> list[np.ndarray]:
    """The four arrays back out of a payload made with include_arrays=True."""
    return [decode_array(payload["arrays"][name], payload["shapes"][name]) for name in ARRAY_NAMES]
