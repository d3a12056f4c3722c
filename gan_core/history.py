"""Metric histories as plain arrays: thinning for display and for bounded memory. NumPy only."""

from __future__ import annotations

import numpy as np


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
