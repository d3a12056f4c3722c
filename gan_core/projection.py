"""Find the latent vector z whose picture looks like a given digit: the start of "my 7 -> a 1".

Decisions, and why:
- Autoencoders have an encoder: their projection is one pass of it (for a VAE, the posterior mean), then the
  decoder. No optimisation, so no restarts and no progress to show.
- GANs have no encoder, so z is found by optimisation (Zhu et al. 2016, iGAN; StyleGAN2's projector.py):
  Adam on z, several random restarts per digit run side by side in one batch, the best kept. The loss is the
  pixel error, plus the distance between the digit classifier's features of the two pictures (a digit drawn
  a pixel to the left is still the same digit; the pixel loss alone does not know that), plus a prior term that
  keeps mean(z^2) near 1, the shell where N(0, I) samples live, so the projection stays a z the generator
  has seen and the sliders make sense from it.
- A conditional GAN's label is part of the answer. Trying all ten labels costs ten times the work; the
  classifier reads the drawing first and only its `label_candidates` most likely digits are tried, each with
  its own restarts. With the classifier at 98.7% on held-out digits, the right label is nearly always among
  three.
- The optimisation state (z, Adam's moments, the step) is plain NumPy, so a caller can run it in chunks,
  `advance` after `advance`, and show progress between them: the engine's worker answers one chunk per request
  and the page draws a progress bar between requests. Adam is written out (five lines) for exactly that reason.
- This module needs TensorFlow (the classifier is convolutional): it runs in an engine worker or the CLI,
  never in the page's process. Importing it does not load TensorFlow, so the parsing child can run
  `digits_job` (a file of digits to project, from anyone: read with its budgets checked, shape and count from
  the .npy header before the data, in gan_core/sandbox.py's limited child).
"""

from __future__ import annotations

import io
import weakref
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from gan_core import sandbox
from gan_core.config import NUM_CLASSES
from gan_core.limits import CLI_PARSER_LIMITS, MAX_PROJECT_DIGITS, MAX_PROJECT_FILE_BYTES, MIB, ParserLimits

SIDE = 28
MAX_Z = 4.0  # |z[d]| after each step: N(0, 1) rarely goes past 4, and the page's links keep values within 10


@dataclass(frozen=True)
class ProjectionSettings:
    steps: int = 200
    restarts: int = 3  # per digit (per tried label for a conditional GAN)
    label_candidates: int = 3  # a conditional GAN's most likely labels (by the classifier) to try
    learning_rate: float = 0.08
    feature_weight: float = 0.05  # on the classifier's features, each scaled by the drawing's feature energy
    prior_weight: float = 0.02  # on (mean(z^2) - 1)^2
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "restarts", "label_candidates"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"projection {name} must be at least 1; got {getattr(self, name)}")
        if not 1 <= self.label_candidates <= NUM_CLASSES:
            raise ValueError(f"label_candidates must be 1 to {NUM_CLASSES}; got {self.label_candidates}")


@dataclass
class Projection:
    """One row per input digit. labels is None except for a conditional GAN."""
    z: np.ndarray  # (N, latent_dim) float32
    labels: np.ndarray | None  # (N,) int64 for a conditional GAN
    images: np.ndarray  # (N, 28, 28) float32: the generator's pictures of z
    pixel_error: np.ndarray  # (N,) mean absolute pixel difference, in [0, 1]


def as_digits(images) -> np.ndarray:
    """(N, 28, 28) or (28, 28) in [0, 1] or uint8 -> float32 (N, 28, 28) in [0, 1]; ValueError names the problem."""
    array = np.asarray(images)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (SIDE, SIDE) or len(array) == 0:
        raise ValueError(f"images have shape {array.shape}; expected (N, 28, 28) digits, N at least 1")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype.kind not in "fiu":
        raise ValueError(f"images have dtype {array.dtype}; expected uint8 or floats in [0, 1]")
    array = array.astype(np.float32)
    if not np.isfinite(array).all() or array.min() < 0.0 or array.max() > 1.0:
        raise ValueError("float images must lie in [0, 1] (or pass uint8 0-255)")
    return array


def read_digits_file(path: str | Path, what: str, max_digits: int = MAX_PROJECT_DIGITS,
                     max_bytes: int = MAX_PROJECT_FILE_BYTES, parser: ParserLimits | None = None) -> np.ndarray:
    """A .npy of digits from anyone -> float32 (N, 28, 28) in [0, 1], parsed in the limited child.

    Raises sandbox.SandboxRefusal whose message starts with `what` and says why (too large, not an array, the
    wrong shape or values, too many digits, or the child ran out of its limits); OSError when unreadable here.
    """
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise sandbox.SandboxRefusal(f"{what}: {size / MIB:,.1f} MB is over the {max_bytes // MIB} MB limit for "
                                     f"one file of digits (at most {max_digits:,} digits; split the file)")
    request = {"path": str(Path(path).resolve()), "max_digits": int(max_digits), "max_bytes": int(max_bytes)}
    return sandbox.run_job("digits", request, what=what, limits=parser or CLI_PARSER_LIMITS).arrays["digits"]


def _npy_header(stream) -> tuple[tuple, np.dtype]:
    """(shape, dtype) from a .npy header, before any data is read; SandboxRefusal when it is not one."""
    try:
        version = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(stream, max_header_size=10_000)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise sandbox.SandboxRefusal(f"not a readable .npy array ({str(exc).splitlines()[0][:120]})") from exc
    return shape, dtype


def digits_job(request: dict, blobs: list[bytes]) -> tuple[dict, dict[str, np.ndarray]]:
    """The parsing child's entry (gan_core.sandbox JOBS['digits']): a .npy of digits -> float32 (N, 28, 28)."""
    max_digits, max_bytes = int(request["max_digits"]), int(request["max_bytes"])
    with open(request["path"], "rb") as file:
        data = file.read(max_bytes + 1)  # the file may have grown since the parent looked
    if len(data) > max_bytes:
        raise sandbox.SandboxRefusal(f"over the {max_bytes // MIB} MB limit for one file of digits")
    shape, dtype = _npy_header(io.BytesIO(data))
    if dtype.hasobject:
        raise sandbox.SandboxRefusal("the array holds Python objects, which are never unpickled; save plain numbers")
    if len(shape) not in (2, 3) or tuple(shape[-2:]) != (SIDE, SIDE) or 0 in shape:
        raise sandbox.SandboxRefusal(f"images have shape {tuple(shape)}; expected (N, 28, 28) digits, N at least 1")
    count = shape[0] if len(shape) == 3 else 1
    if count > max_digits:
        raise sandbox.SandboxRefusal(f"{count:,} digits; at most {max_digits:,} per command (split the file)")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise sandbox.SandboxRefusal(f"not a readable .npy array ({str(exc).splitlines()[0][:120]})") from exc
    try:
        return {"count": count}, {"digits": as_digits(array)}
    except ValueError as exc:
        raise sandbox.SandboxRefusal(str(exc)) from exc


def uses_encoder(model) -> bool:
    return model.config.model in ("ae", "vae")


def encode_projection(model, images: np.ndarray) -> Projection:
    """An autoencoder's projection: its encoder (a VAE's posterior mean), then its decoder."""
    z = np.asarray(model.encode(images), np.float32)
    pictures = np.asarray(model.generate(z), np.float32)
    return Projection(z, None, pictures, np.abs(pictures - images).mean(axis=(1, 2)))


# ---- the optimisation (GANs) ------------------------------------------------------------------------
class _Objective:
    """The traced loss-and-gradient of one (generator, classifier) pair; cached per model (weakly)."""

    def __init__(self, model, judge):
        import tensorflow as tf

        self.conditional = model.config.model == "cgan"
        sampler = model.sampler
        features = judge.feature_model if judge is not None else None

        def pictures(z, labels):
            if self.conditional:
                return sampler([z, tf.one_hot(labels, NUM_CLASSES)], training=False)
            return sampler(z, training=False)

        def loss_and_grad(z, labels, targets, target_features, feature_weight, prior_weight):
            with tf.GradientTape() as tape:
                tape.watch(z)
                made = pictures(z, labels)
                pixel = tf.reduce_mean(tf.square(made - targets), axis=[1, 2])
                loss = pixel + prior_weight * tf.square(tf.reduce_mean(tf.square(z), axis=1) - 1.0)
                if features is not None:
                    found = features(made, training=False)
                    scale = tf.reduce_mean(tf.square(target_features), axis=1) + 1e-6
                    loss += feature_weight * tf.reduce_mean(tf.square(found - target_features), axis=1) / scale
                total = tf.reduce_sum(loss)  # candidates are independent: one sum gives each its own gradient
            return loss, tape.gradient(total, z)

        self.pictures = tf.function(pictures, reduce_retracing=True)
        self.loss_and_grad = tf.function(loss_and_grad, reduce_retracing=True)


_OBJECTIVES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _objective(model, judge) -> _Objective:
    per_model = _OBJECTIVES.setdefault(model, {})
    if id(judge) not in per_model:
        per_model.clear()  # one judge per model at a time; a new judge retraces
        per_model[id(judge)] = _Objective(model, judge)
    return per_model[id(judge)]


def start(model, images: np.ndarray, settings: ProjectionSettings, judge=None) -> dict:
    """The optimisation's first state: random z for every (digit, label, restart) candidate."""
    count, latent_dim = len(images), model.latent_dim
    if model.config.model == "cgan":
        if judge is not None:
            order = np.argsort(-judge.probabilities(images), axis=1)[:, :settings.label_candidates]
        else:
            order = np.tile(np.arange(settings.label_candidates), (count, 1))
        labels = np.repeat(order, settings.restarts, axis=1)  # (N, labels x restarts)
    else:
        labels = np.zeros((count, settings.restarts), np.int64)
    per_digit = labels.shape[1]
    rng = np.random.default_rng(settings.seed)
    z = rng.standard_normal((count * per_digit, latent_dim)).astype(np.float32)
    return {"z": z, "labels": labels.reshape(-1).astype(np.int64), "per_digit": per_digit,
            "m": np.zeros_like(z), "v": np.zeros_like(z), "step": 0,
            "loss": np.full(count * per_digit, np.inf, np.float32)}


def advance(model, images: np.ndarray, state: dict, steps: int, settings: ProjectionSettings,
            judge=None) -> dict:
    """`steps` more Adam steps on every candidate; returns the new state (the old one is not changed)."""
    import tensorflow as tf

    objective = _objective(model, judge)
    per_digit = int(state["per_digit"])
    targets = tf.constant(np.repeat(images, per_digit, axis=0))
    target_features = (tf.constant(judge.features(np.repeat(images, per_digit, axis=0))) if judge is not None
                       else tf.zeros((len(targets), 1)))
    labels = tf.constant(state["labels"].astype(np.int32))
    z, m, v, step = state["z"].copy(), state["m"].copy(), state["v"].copy(), int(state["step"])
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8
    loss = state["loss"]
    for _ in range(int(steps)):
        loss_tensor, grad = objective.loss_and_grad(tf.constant(z), labels, targets, target_features,
                                                    tf.constant(settings.feature_weight, tf.float32),
                                                    tf.constant(settings.prior_weight, tf.float32))
        grad, loss = grad.numpy(), loss_tensor.numpy()
        step += 1
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        z = z - settings.learning_rate * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + epsilon)
        z = np.clip(z, -MAX_Z, MAX_Z).astype(np.float32)
    return {**state, "z": z, "m": m.astype(np.float32), "v": v.astype(np.float32), "step": step,
            "loss": np.asarray(loss, np.float32)}


def best(model, images: np.ndarray, state: dict, judge=None) -> Projection:
    """Each digit's best candidate so far (by the loss of the last step) and its picture."""
    import tensorflow as tf

    per_digit = int(state["per_digit"])
    losses = state["loss"].reshape(len(images), per_digit)
    chosen = np.arange(len(images)) * per_digit + losses.argmin(axis=1)
    z, labels = state["z"][chosen], state["labels"][chosen]
    objective = _objective(model, judge)
    pictures = objective.pictures(tf.constant(z), tf.constant(labels.astype(np.int32))).numpy()
    return Projection(z, labels if objective.conditional else None, pictures,
                      np.abs(pictures - images).mean(axis=(1, 2)))


def project(model, images, judge=None, settings: ProjectionSettings = ProjectionSettings(),
            chunk: int = 25, on_progress=None) -> Projection:
    """Project digits (N, 28, 28) onto the model's outputs; on_progress(done_steps, total_steps) between chunks."""
    images = as_digits(images)
    if uses_encoder(model):
        return encode_projection(model, images)
    state = start(model, images, settings, judge)
    while state["step"] < settings.steps:
        state = advance(model, images, state, min(chunk, settings.steps - state["step"]), settings, judge)
        if on_progress is not None:
            on_progress(state["step"], settings.steps)
    return best(model, images, state, judge)


# ---- one request of the engine's worker ------------------------------------------------------------------
def project_chunk(model, images, judge, state: dict | None = None, steps: int | None = None,
                  settings: dict | None = None) -> dict:
    """One chunk of a projection, as plain data for the page: call again with the returned state until done.

    Returns {"done", "step", "steps", "state", "z", "labels", "images", "pixel_error", "input_probabilities",
    "projection_probabilities"}; the readings are the classifier's, so the page holds no TensorFlow.
    """
    images = as_digits(images)
    chosen = replace(ProjectionSettings(), **(settings or {}))
    if uses_encoder(model):
        found, state, done, total = encode_projection(model, images), None, True, 0
    else:
        if state is None:
            state = start(model, images, chosen, judge)
        remaining = chosen.steps - int(state["step"])
        state = advance(model, images, state, max(0, min(int(steps or chosen.steps), remaining)), chosen, judge)
        found, done, total = best(model, images, state, judge), state["step"] >= chosen.steps, chosen.steps
    readings = {}
    if judge is not None:
        readings = {"input_probabilities": judge.probabilities(images),
                    "projection_probabilities": judge.probabilities(found.images)}
    return {"done": bool(done), "step": int(state["step"]) if state else 0, "steps": total, "state": state,
            "settings": asdict(chosen), **asdict(found), **readings}
