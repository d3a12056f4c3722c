"""Latent space tools: sampling z, interpolation, principal directions, arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Generate = Callable[[np.ndarray], np.ndarray]


def sample_z(count: int, latent_dim: int, seed: int | None = 0) -> np.ndarray:
    """Standard normal latent vectors, reproducible for a given seed."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


def lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return ((1.0 - t) * a + t * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: keeps |z| near the typical radius of a Gaussian, where G was trained."""
    a_unit, b_unit = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(a_unit, b_unit), -1.0, 1.0))
    if omega < 1e-6:
        return lerp(a, b, t)
    return ((np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(np.float32)


def interpolate(a: np.ndarray, b: np.ndarray, steps: int, method: str = "slerp") -> np.ndarray:
    """`steps` latent vectors from a to b inclusive."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (got {steps})")
    if method not in ("lerp", "slerp"):
        raise ValueError(f"method must be 'lerp' or 'slerp' (got {method!r})")
    mix = slerp if method == "slerp" else lerp
    return np.stack([mix(a, b, t) for t in np.linspace(0.0, 1.0, steps)])


def arithmetic(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """A - B + C: the analogy 'A is to B as ? is to C' in latent space."""
    return (np.asarray(a) - np.asarray(b) + np.asarray(c)).astype(np.float32)


def neighbours(z: np.ndarray, count: int, scale: float = 0.3, seed: int = 0) -> np.ndarray:
    """z plus small Gaussian noise: a smooth generator draws near-identical digits here."""
    noise = np.random.default_rng(seed).standard_normal((count, z.shape[-1])).astype(np.float32)
    return (z[None, :] + scale * noise).astype(np.float32)


@dataclass(frozen=True)
class PrincipalDirections:
    directions: np.ndarray  # (k, latent_dim), unit vectors in z space
    explained_variance: np.ndarray  # (k,) share of the image variance along each image-space component
    coordinate_scale: np.ndarray  # (k,) std of z's projection on each direction over the samples


def principal_directions(generate: Generate, latent_dim: int, count: int = 4000, components: int = 8,
                         seed: int = 0) -> PrincipalDirections:
    """GANSpace (Harkonen et al. 2020) on the generator's output.

    Generate `count` digits, take the principal components of the images, and
    regress z onto each image's PCA coordinates: the regression weights are the
    latent direction that moves a digit along that component.
    """
    z = sample_z(count, latent_dim, seed)
    images = np.concatenate([generate(z[i:i + 1000]) for i in range(0, count, 1000)]).reshape(count, -1)
    centred = images - images.mean(axis=0)
    # PCA from the 784x784 covariance (eigh): ~100x cheaper than an SVD of the 4000x784 samples here.
    covariance = (centred.T @ centred).astype(np.float64) / max(count - 1, 1)
    variance, vectors = np.linalg.eigh(covariance)
    order = np.argsort(variance)[::-1]
    variance, vectors = np.clip(variance[order], 0.0, None), vectors[:, order]
    coords = centred @ vectors[:, :components]  # (count, k)
    coords /= coords.std(axis=0, keepdims=True) + 1e-8
    weights, *_ = np.linalg.lstsq(coords, z, rcond=None)  # (k, latent_dim): z ~= coords @ weights
    directions = weights / (np.linalg.norm(weights, axis=1, keepdims=True) + 1e-8)
    return PrincipalDirections(directions.astype(np.float32),
                               (variance[:components] / variance.sum()).astype(np.float32),
                               (z @ directions.T).std(axis=0).astype(np.float32))


def coordinates(z: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Where z sits along each unit direction: (k,) for one z (latent_dim,)."""
    return (np.asarray(directions, np.float32) @ np.asarray(z, np.float32)).astype(np.float32)


def set_coordinate(z: np.ndarray, direction: np.ndarray, value: float) -> np.ndarray:
    """z moved along one unit direction until its coordinate there equals `value`; the rest of z is kept."""
    z, direction = np.asarray(z, np.float32), np.asarray(direction, np.float32)
    return (z + (value - float(direction @ z)) * direction).astype(np.float32)
