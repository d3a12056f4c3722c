"""Shared fixtures: tiny configs and data so the suite stays fast and offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def tiny_images() -> np.ndarray:
    """64 blurry blobs in [0, 1]: enough for a training chunk, no download."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:28, 0:28]
    centres = rng.uniform(8, 20, size=(64, 2))
    images = np.exp(-((yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2) / 18.0)
    return images.astype(np.float32)


@pytest.fixture
def tiny_config():
    from gan_core.config import GANConfig

    return GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
