"""Metric histories as plain arrays: thinning for display and for bounded memory. NumPy only."""

from __future__ import annotations

import math

import numpy as np


def finite_or_none(values) -> list:
    """A series as JSON can hold it: floats, with None (a gap in a curve) where a value is not finite."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, np.float64).tolist()]


def downsample(steps: np.ndarray, values: np.ndarray, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Thin a long series for display: older points by stride, the most recent quarter kept whole."""
    count = len(steps)
    if count <= max_points:
        return steps, values
    recent = max_points // 4
    older = count - recent
    keep = np.unique(np.linspace(0, older - 1, max_points - recent).astype(int))
    index = np.concatenate([keep, np.arange(older, count)])
    return steps[index], values[index]
