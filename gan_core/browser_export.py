"""Every sampler of the family packed for a browser: a list of layers, base64 float32 arrays, a content hash.

The browser (ui/instant_generator.js) runs the layers itself, in order, on z (with the label's one-hot joined
on for a conditional GAN), so a slider redraws with no server round trip. The layers are the networks'
own (gan_core/networks.py), named from the config, never read from a file's structure:
  dense models (GAN, WGAN-GP, cGAN, VAE and autoencoder decoders): dense(ReLU) -> dense(sigmoid)
  the DCGAN generator: dense -> batchnorm -> relu -> reshape(7, 7, 64) -> conv2d_transpose(32, 4, 2, same)
                       -> batchnorm -> relu -> conv2d_transpose(1, 4, 2, same, sigmoid)
Batch normalisation is sent as Keras keeps it (gamma, beta, moving mean and variance, epsilon) and computed
as Keras's inference does, so the browser's digit equals the server's to float32 rounding
(tests/test_instant.py runs the JS in Node against Keras).

Weights come from a Keras model of the family (its `sampler`), from anything with `sampler_arrays()` (the
page's NumPy models), or from anything with `sampler_weights()`: a page's model handle (engine.ModelHandle),
which reads them with `source_sampler_weights` from the weights folder or arrays its inference model loads
from (.weights.h5 read as data with h5py, never code).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np

from gan_core.config import NUM_CLASSES, GANConfig

PAYLOAD_FORMAT = "layers-float32le-base64"
BATCHNORM_EPSILON = 1e-3  # keras.layers.BatchNormalization's default, which networks.py keeps
CONV_SEED_SHAPE = (7, 7, 64)  # the DCGAN generator's first feature map (networks.build_conv_generator)
# The DCGAN generator's weighted layers as Keras names them in a .weights.h5, with their variable counts.
CONV_GENERATOR_H5_LAYERS = (("dense", 2), ("batch_normalization", 4), ("conv2d_transpose", 2),
                            ("batch_normalization_1", 4), ("conv2d_transpose_1", 2))


def _dense_plan(config: GANConfig) -> list[dict]:
    inputs = config.latent_dim + (NUM_CLASSES if config.model == "cgan" else 0)
    return [{"op": "dense", "activation": "relu", "parts": {"kernel": (inputs, config.hidden_units),
                                                            "bias": (config.hidden_units,)}},
            {"op": "dense", "activation": "sigmoid", "parts": {"kernel": (config.hidden_units, config.image_pixels),
                                                               "bias": (config.image_pixels,)}}]


def _batchnorm(width: int) -> dict:
    return {"op": "batchnorm", "epsilon": BATCHNORM_EPSILON,
            "parts": {name: (width,) for name in ("gamma", "beta", "mean", "variance")}}


def _conv_plan(config: GANConfig) -> list[dict]:
    seed = int(np.prod(CONV_SEED_SHAPE))
    return [{"op": "dense", "activation": "linear", "parts": {"kernel": (config.latent_dim, seed), "bias": (seed,)}},
            _batchnorm(seed), {"op": "relu", "parts": {}},
            {"op": "reshape", "shape": list(CONV_SEED_SHAPE), "parts": {}},
            {"op": "conv2d_transpose", "strides": 2, "padding": "same", "activation": "linear",
             "parts": {"kernel": (4, 4, 32, CONV_SEED_SHAPE[2]), "bias": (32,)}},
            _batchnorm(32), {"op": "relu", "parts": {}},
            {"op": "conv2d_transpose", "strides": 2, "padding": "same", "activation": "sigmoid",
             "parts": {"kernel": (4, 4, 1, 32), "bias": (1,)}}]


def layer_plan(config: GANConfig) -> list[dict]:
    """The sampler's layers for this config, each with the shapes of its arrays in `get_weights()` order."""
    if config.architecture == "conv":
        if config.image_size != 28 or config.model != "gan":
            raise ValueError(f"the in-browser DCGAN draws 28x28 digits from an unconditional GAN; this config has "
                             f"model {config.model!r}, image_size {config.image_size}: use server rendering")
        return _conv_plan(config)
    return _dense_plan(config)


def read_h5_layers(path: str | Path, layers: tuple[tuple[str, int], ...]) -> list[np.ndarray]:
    """The named layers' variables from a Keras 3 .weights.h5, in order, as float32 (data only, never code)."""
    import h5py

    path = Path(path)
    arrays = []
    with h5py.File(path, "r") as file:
        for name, count in layers:
            group = file.get(f"layers/{name}/vars")
            if group is None or sorted(group, key=int) != [str(i) for i in range(count)]:
                raise ValueError(f"{path.name}: layer '{name}' with {count} arrays is missing; this is not the "
                                 "network the config describes")
            arrays += [np.asarray(group[str(i)], np.float32) for i in range(count)]
    return arrays


def source_sampler_weights(config: GANConfig, source: dict) -> list[np.ndarray]:
    """The sampler's arrays from what a model handle loads its inference model from ({"weights"} or {"folder"})."""
    if "weights" in source:
        weights = source["weights"]
        stem = "generator_ema" if "generator_ema" in weights else "generator"
        if stem not in weights:
            raise ValueError("the model's weights hold no generator to run in the browser")
        return [np.asarray(array, np.float32) for array in weights[stem]]
    if "folder" in source:
        folder = Path(source["folder"])
        stem = "generator_ema" if (folder / "generator_ema.weights.h5").is_file() else "generator"
        if config.architecture != "conv":
            from gan_core.numpy_models import read_dense_h5
            return read_dense_h5(folder / f"{stem}.weights.h5")
        return read_h5_layers(folder / f"{stem}.weights.h5", CONV_GENERATOR_H5_LAYERS)
    raise ValueError("the model has no weights the browser can be sent")


def sampler_weights(model) -> tuple[GANConfig, list[np.ndarray]]:
    """(config, the sampler's arrays in `get_weights()` order) for any model a page or a test may hold."""
    config = getattr(model, "config", None)
    if not isinstance(config, GANConfig):
        raise ValueError(f"{type(model).__name__} carries no GANConfig, so its layers are unknown")
    if hasattr(model, "sampler_weights"):
        arrays = model.sampler_weights()
    elif hasattr(model, "sampler_arrays"):
        arrays = model.sampler_arrays()  # a dense model the page holds in NumPy
    else:
        sampler = getattr(model, "sampler", None)
        if sampler is None or not hasattr(sampler, "get_weights"):
            raise ValueError(f"{type(model).__name__} has no generator network (`sampler`) to export")
        arrays = sampler.get_weights()
    return config, [np.asarray(array, np.float32) for array in arrays]


def generator_layers(model) -> tuple[GANConfig, list[dict]]:
    """(config, the plan's layers with their arrays under "arrays"), every shape checked against the config."""
    config, arrays = sampler_weights(model)
    plan = layer_plan(config)
    expected = [shape for layer in plan for shape in layer["parts"].values()]
    found = [tuple(array.shape) for array in arrays]
    if found != expected:
        raise ValueError(f"the sampler's weight shapes {found} do not match this {config.display_name}'s network "
                         f"{expected}: use server rendering")
    remaining = iter(arrays)
    layers = []
    for layer in plan:
        layers.append({**layer, "arrays": {part: next(remaining) for part in layer["parts"]}})
    return config, layers


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

    {"format", "hash", "latent_dim", "classes" (10 for a conditional GAN, else 0), "image_size",
     "layers": [{"op", ...options, "shapes": {part: shape}}], "arrays": {"<layer>.<part>": base64} (only with
    include_arrays)}. Raises ValueError when the model's weights do not fit its config's network.
    """
    config, layers = generator_layers(model)
    arrays = [array for layer in layers for array in layer["arrays"].values()]
    payload = {
        "format": PAYLOAD_FORMAT,
        "hash": weights_hash(arrays),
        "latent_dim": int(config.latent_dim),
        "classes": NUM_CLASSES if config.model == "cgan" else 0,
        "image_size": int(config.image_size),
        "layers": [{**{name: value for name, value in layer.items() if name not in ("parts", "arrays")},
                    "shapes": {part: list(array.shape) for part, array in layer["arrays"].items()}}
                   for layer in layers],
    }
    if include_arrays:
        payload["arrays"] = {f"{index}.{part}": encode_array(array)
                             for index, layer in enumerate(layers) for part, array in layer["arrays"].items()}
    return payload


def payload_weights(payload: dict) -> list[np.ndarray]:
    """The arrays back out of a payload made with include_arrays=True, in `get_weights()` order."""
    return [decode_array(payload["arrays"][f"{index}.{part}"], shape)
            for index, layer in enumerate(payload["layers"]) for part, shape in layer["shapes"].items()]
