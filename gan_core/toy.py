"""The 2-D playground's data, recipe and scores: point clouds, their modes, mode coverage and a grid JS/KL.

Pure NumPy (the page process imports it; TensorFlow stays in gan_core.toy_models).

Decisions, and why:
- ring8 and grid25 keep the exact parameters of the mode-collapse literature (Metz et al. 2017, Srivastava et al.
  2017, Lin et al. 2018): 8 Gaussians on a circle of radius 2 with std 0.02; 25 Gaussians at {-4,-2,0,2,4}^2
  with std 0.05. Their scores follow the same papers: a sample is *high quality* when it lies within 3 std of
  the nearest mode's centre, and a mode is *covered* when at least 20 of 2,500 samples (0.8%; scaled to other
  sample counts) are high-quality samples assigned to it.
- The other presets (two moons, a spiral, a line) and drawn points have no modes: they are scored by a
  Jensen-Shannon (and KL) estimate between histograms on a grid over the plane, as GAN Lab shows.
- ToyConfig is its own frozen dataclass rather than more GANConfig fields: its networks (depth, activation, a
  2-D output) and its data share nothing with the digit models, and GANConfig's every field is checked as an
  image model's.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from gan_core.config import GAN_LOSSES, LOGISTIC_LOSSES

TOY_MODEL = "toy"  # the CLI's --model name for the 2-D models
TOY_DATASETS = ("ring8", "grid25", "moons", "spiral", "line")
MODE_DATASETS = ("ring8", "grid25")
ACTIVATIONS = ("relu", "leaky_relu", "tanh")
LEAKY_SLOPE = 0.2
RING_RADIUS, RING_STD = 2.0, 0.02
GRID_STD = 0.05
HIGH_QUALITY_STDS = 3.0
COVERED_PER_2500 = 20
VIEW_EXTENT = {"ring8": 3.0, "grid25": 5.5, "moons": 2.5, "spiral": 2.5, "line": 2.5, "drawn": 2.5}
DRAWN_NOISE_STD = 0.03  # drawn points are blurred by this much, so a handful of clicks is a distribution
MAX_DRAWN_POINTS = 5000
JS_GRID_CELLS = 40
CONFIG_FILE = "toy_config.json"  # a 2-D run folder holds this beside its .weights.h5 files

INT_RANGES = {"latent_dim": (1, 16), "hidden_units": (1, 512), "depth": (1, 6), "batch_size": (1, 4096),
              "d_steps": (1, 20), "seed": (0, 100_000_000), "lr_decay_start": (0, 10_000_000),
              "lr_half_life": (0, 10_000_000)}


@dataclass(frozen=True)
class ToyConfig:
    """Hyperparameters of the 2-D GAN. The defaults are the playground's default recipe
    (benchmarks/README.md, "2-D playground", measures it against the textbook recipe `ToyConfig.textbook()`)."""

    latent_dim: int = 2  # 2-D so that the manifold view (a grid of z through G) is exact
    hidden_units: int = 32
    depth: int = 2  # hidden layers in each network
    activation: str = "relu"
    loss: str = "non_saturating"
    r1_gamma: float = 0.03
    gp_weight: float = 1.0  # WGAN-GP only
    label_smoothing: float = 0.0
    ema_decay: float = 0.99  # samples come from a moving average of G's weights; 0 turns it off
    d_steps: int = 1
    batch_size: int = 64
    g_learning_rate: float = 8e-3
    d_learning_rate: float = 8e-3
    # Learning-rate schedule (both networks): constant for lr_decay_start steps, then halved every lr_half_life
    # steps; lr_half_life 0 keeps the rate constant. `learning_rate_at` is the formula (toy_gan.js has the same).
    lr_decay_start: int = 0
    lr_half_life: int = 0
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    dataset: str = "ring8"

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        out = []
        for name, (low, high) in INT_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                out.append(f"{name} must be a whole number in [{low}, {high}] (got {value!r})")
        for name in ("r1_gamma", "gp_weight", "label_smoothing", "ema_decay", "g_learning_rate", "d_learning_rate", "beta1", "beta2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                out.append(f"{name} must be a finite number (got {value!r})")
        if out:
            return out
        for name in ("g_learning_rate", "d_learning_rate"):
            if not 0 < getattr(self, name) < 1:
                out.append(f"{name} must be in (0, 1) (got {getattr(self, name)!r})")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                out.append(f"{name} must be in [0, 1) (got {getattr(self, name)!r})")
        for name in ("r1_gamma", "gp_weight"):
            if not 0 <= getattr(self, name) <= 1000:
                out.append(f"{name} must be in [0, 1000] (got {getattr(self, name)!r})")
        if not 0 <= self.ema_decay < 1:
            out.append(f"ema_decay must be in [0, 1) (got {self.ema_decay!r})")
        if not 0 <= self.label_smoothing < 0.5:
            out.append(f"label_smoothing must be in [0, 0.5) (got {self.label_smoothing!r})")
        if self.loss not in GAN_LOSSES:
            out.append(f"loss must be one of {', '.join(GAN_LOSSES)} (got {self.loss!r})")
        if self.activation not in ACTIVATIONS:
            out.append(f"activation must be one of {', '.join(ACTIVATIONS)} (got {self.activation!r})")
        if self.dataset not in TOY_DATASETS + ("drawn",):
            out.append(f"dataset must be one of {', '.join(TOY_DATASETS)} or drawn (got {self.dataset!r})")
        return out

    def learning_rate_at(self, base: float, step: int) -> float:
        """The rate of the update after `step` whole steps (G's or D's base rate): constant for lr_decay_start
        steps, then halved every lr_half_life steps."""
        return learning_rate_at(base, step, self.lr_decay_start, self.lr_half_life)

    @property
    def uses_r1(self) -> bool:
        return self.r1_gamma > 0 and self.loss != "wgan_gp"

    @property
    def smoothing(self) -> float:
        return self.label_smoothing if self.loss in LOGISTIC_LOSSES else 0.0

    @classmethod
    def textbook(cls, **overrides: Any) -> "ToyConfig":
        """Goodfellow's recipe as most tutorials run it: non-saturating loss, no penalty, Adam 2e-4, beta1 0.5,
        batch 128, no weight averaging."""
        base = dict(r1_gamma=0.0, ema_decay=0.0, g_learning_rate=2e-4, d_learning_rate=2e-4, batch_size=128)
        base.update(overrides)
        return cls(**base)

    def replace(self, **changes: Any) -> "ToyConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps({"kind": "ToyConfig", **self.to_dict()}, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ToyConfig":
        if not isinstance(data, dict):
            raise ValueError(f"a toy config is a mapping of field names to values (got {type(data).__name__})")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def learning_rate_at(base: float, step: int, decay_start: int, half_life: int) -> float:
    """base * 0.5 ** ((step - decay_start) / half_life) after decay_start steps, base before (and always when
    half_life is 0). toy_models.HalvingSchedule and toy_gan.js's learningRateAt compute the same."""
    if half_life <= 0 or step <= decay_start:
        return base
    return base * 0.5 ** ((step - decay_start) / half_life)


def is_toy_run(folder) -> bool:
    from pathlib import Path

    return (Path(folder) / CONFIG_FILE).is_file()


# The grid's 25 modes need more than the ring's networks: with 32 units x 2 layers the default recipe covered
# 11-15 of them after 10,000 steps; 64 x 3 covered 25/25 by 15,000 (benchmarks/README.md).
PRESET_NETWORKS = {"grid25": {"hidden_units": 64, "depth": 3}}
# ...and a smaller learning rate than the ring's: with Adam 8e-3 and R1 0.03 the grid covered 11 and 7 modes after
# 12,000 steps where Adam 3e-3 and R1 0.01 covered 22 and 25 by 16,000; batch 128 instead of 64 then covered
# 24, 23, 23 modes in seeds 0-2 (89.5-93.8% high quality) instead of 22, 25, 18 (82.8-90.5%); R1 0.1 instead of
# 0.01 then covered 25/25 in all three by 6,000 steps (81-94%; 88-93% at 8,000); a latent of 8 dims (16 modes at
# 8,000 steps in seed 0 where the 2-D latent had 22) and leaky ReLU (9) did worse. Trained on to 16,000 steps one
# seed of three lost 3 modes again at that constant rate; halving the rate every 2,000 steps after 8,000 (the
# 8,000-step results unchanged) is what holds them: benchmarks/README.md.
PRESET_OPTIMISER = {"grid25": {"g_learning_rate": 3e-3, "d_learning_rate": 3e-3, "r1_gamma": 0.1, "batch_size": 128,
                               "lr_decay_start": 8000, "lr_half_life": 2000}}


def recipe_for(dataset: str, textbook: bool = False, **overrides: Any) -> ToyConfig:
    """The default (or textbook) recipe with the networks (and, for the default, the optimiser) that preset needs."""
    fields_ = {"dataset": dataset, **PRESET_NETWORKS.get(dataset, {}), **overrides}
    if textbook:
        return ToyConfig.textbook(**fields_)
    return ToyConfig(**{**PRESET_OPTIMISER.get(dataset, {}), **fields_})


# ---- data ---------------------------------------------------------------------------------------
def mode_centres(dataset: str) -> np.ndarray | None:
    """The (K, 2) centres of a mode benchmark, None for the datasets without modes."""
    if dataset == "ring8":
        angles = 2 * np.pi * np.arange(8) / 8
        return (RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)
    if dataset == "grid25":
        values = np.arange(-4.0, 4.1, 2.0)
        return np.array([(x, y) for x in values for y in values], np.float32)
    return None


def mode_std(dataset: str) -> float:
    return {"ring8": RING_STD, "grid25": GRID_STD}[dataset]


def sample_points(dataset: str, n: int, seed: int | np.random.Generator = 0,
                  drawn: np.ndarray | None = None) -> np.ndarray:
    """n float32 points (n, 2) of a preset, or of the user's drawn points (dataset "drawn") blurred a little."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if dataset in MODE_DATASETS:
        centres = mode_centres(dataset)
        picks = rng.integers(0, len(centres), n)
        return (centres[picks] + rng.normal(0, mode_std(dataset), (n, 2))).astype(np.float32)
    if dataset == "moons":
        upper = rng.random(n) < 0.5
        t = rng.uniform(0, np.pi, n)
        x = np.where(upper, np.cos(t), 1 - np.cos(t)) - 0.5
        y = np.where(upper, np.sin(t), 0.5 - np.sin(t)) - 0.25
        return (np.stack([x, y], 1) * 1.2 + rng.normal(0, 0.05, (n, 2))).astype(np.float32)
    if dataset == "spiral":
        t = np.sqrt(rng.uniform(0.05, 1, n)) * 3 * np.pi
        points = np.stack([t * np.cos(t), t * np.sin(t)], 1) / (3 * np.pi) * 2.0
        return (points + rng.normal(0, 0.04, (n, 2))).astype(np.float32)
    if dataset == "line":
        t = rng.uniform(-1.5, 1.5, n)
        return (np.stack([t, 0.5 * t], 1) + rng.normal(0, 0.03, (n, 2))).astype(np.float32)
    if dataset == "drawn":
        drawn = check_drawn_points(drawn)
        picks = rng.integers(0, len(drawn), n)
        return (drawn[picks] + rng.normal(0, DRAWN_NOISE_STD, (n, 2))).astype(np.float32)
    raise ValueError(f"dataset must be one of {', '.join(TOY_DATASETS)} or drawn (got {dataset!r})")


def check_drawn_points(points) -> np.ndarray:
    """Drawn points as float32 (N, 2), or ValueError saying what is wrong."""
    try:
        array = np.asarray(points, np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError("drawn points must be a list of [x, y] pairs of numbers") from exc
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ValueError(f"drawn points must be a non-empty list of [x, y] pairs (got shape {array.shape})")
    if len(array) > MAX_DRAWN_POINTS:
        raise ValueError(f"at most {MAX_DRAWN_POINTS} drawn points (got {len(array)}); draw fewer strokes")
    if not np.all(np.isfinite(array)) or np.abs(array).max() > 100:
        raise ValueError("drawn points must be finite numbers within [-100, 100]")
    return array.astype(np.float32)


# ---- scores -------------------------------------------------------------------------------------
def mode_scores(samples: np.ndarray, dataset: str) -> dict[str, float | int | list[int]]:
    """Modes covered and the high-quality share (within 3 std of a mode), as Srivastava et al. 2017 count them."""
    centres = mode_centres(dataset)
    if centres is None:
        raise ValueError(f"{dataset!r} has no modes to count; use js_divergence")
    samples = np.asarray(samples, np.float64).reshape(-1, 2)
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    high_quality = distances[np.arange(len(samples)), nearest] <= HIGH_QUALITY_STDS * mode_std(dataset)
    counts = np.bincount(nearest[high_quality], minlength=len(centres))
    needed = max(1, math.ceil(COVERED_PER_2500 * len(samples) / 2500))
    # modes_touched: VEEGAN's looser count (a mode nearest to at least one high-quality sample)
    return {"modes_covered": int((counts >= needed).sum()), "modes_touched": int((counts >= 1).sum()),
            "modes_total": len(centres),
            "high_quality": float(high_quality.mean()) if len(samples) else 0.0,
            "mode_counts": counts.tolist()}


def js_divergence(real: np.ndarray, fake: np.ndarray, extent: float, cells: int = JS_GRID_CELLS) -> dict[str, float]:
    """Jensen-Shannon and KL(real || fake) in nats between histograms on a cells x cells grid over
    [-extent, extent]^2. A tiny floor keeps KL finite where the generator put nothing."""
    edges = np.linspace(-extent, extent, cells + 1)

    def histogram(points):
        counts, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=[edges, edges])
        counts = counts.ravel() + 1e-6
        return counts / counts.sum()

    p, q = histogram(np.asarray(real)), histogram(np.asarray(fake))
    m = 0.5 * (p + q)
    kl = lambda a, b: float(np.sum(a * np.log(a / b)))  # noqa: E731
    return {"js": 0.5 * kl(p, m) + 0.5 * kl(q, m), "kl": kl(p, q)}
