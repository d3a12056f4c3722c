"""Maps of a latent space: the 2-D manifold grid, label paths between classes, a Gaussian fitted to codes."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from gan_core.config import NUM_CLASSES


def normal_quantiles(count: int, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """`count` points of N(0, 1) at evenly spaced probabilities from low to high (the inverse CDF).

    Spacing by probability rather than by value gives every cell of a manifold grid the same prior mass,
    so the grid covers where a VAE's codes actually lie instead of its empty far tails.
    """
    if count < 2:
        raise ValueError(f"count must be at least 2 (got {count})")
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"need 0 < low < high < 1 (got low={low}, high={high})")
    unit = NormalDist()
    return np.array([unit.inv_cdf(p) for p in np.linspace(low, high, count)], np.float32)


def latent_plane_grid(size: int = 20, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """(size * size, 2) latent vectors sweeping the plane row by row, as a picture reads.

    Column c holds z[0] = quantile c (left to right, increasing); row r holds z[1] = quantile size-1-r, so
    the top row is the largest z[1], which is how a scatter plot of the same plane is drawn.
    """
    quantiles = normal_quantiles(size, low, high)
    z0, z1 = np.meshgrid(quantiles, quantiles[::-1])
    return np.stack([z0.ravel(), z1.ravel()], axis=1).astype(np.float32)


def label_path(start: int, end: int, steps: int) -> np.ndarray:
    """(steps, 10) label vectors walking in a straight line from the one-hot `start` to the one-hot `end`."""
    for name, label in (("start", start), ("end", end)):
        if not 0 <= int(label) < NUM_CLASSES:
            raise ValueError(f"{name} must be a class in 0-{NUM_CLASSES - 1} (got {label})")
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (got {steps})")
    eye = np.eye(NUM_CLASSES, dtype=np.float32)
    mix = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return ((1.0 - mix) * eye[int(start)] + mix * eye[int(end)]).astype(np.float32)


@dataclass(frozen=True)
class Gaussian:
    mean: np.ndarray  # (d,)
    covariance: np.ndarray  # (d, d)


def fit_gaussian(codes: np.ndarray) -> Gaussian:
    """The Gaussian with the codes' mean and (unbiased) covariance: where an encoder actually puts digits."""
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or len(codes) < 2:
        raise ValueError(f"codes must be (N >= 2, d); got {codes.shape}")
    return Gaussian(codes.mean(axis=0), np.atleast_2d(np.cov(codes, rowvar=False)))


def sample_gaussian(gaussian: Gaussian, count: int, seed: int = 0) -> np.ndarray:
    """`count` draws from the fitted Gaussian, reproducible for a seed."""
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(gaussian.mean, gaussian.covariance, size=count).astype(np.float32)
