"""Shared fixtures: tiny configs and data so the suite stays fast and offline."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Live quality's reference statistics are kept between workers (gan_core.monitor); tests keep theirs out of ~/.cache.
os.environ.setdefault("GAN_LAB_CACHE_DIR", tempfile.mkdtemp(prefix="gan-lab-test-cache-"))


@pytest.fixture(scope="session", autouse=True)
def _apptest_runs_like_the_page_process():
    """AppTest runs the pages in this process, which holds Keras (tests build tiny weights here); the app's page
    process never imports it (test_pages checks that in a clean process). Streamlit calls
    `keras.backend.clear_session()` (a full gc.collect() of this big heap) after every script run whenever
    `keras` is imported: a cost the real page never pays, about 0.2-0.5 s of CPU per at.run() here. Keep
    Streamlit's other clean-up (matplotlib's figures)."""
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:
        yield
        return
    original = getattr(script_runner, "_clean_problem_modules", None)

    def clean_without_keras() -> None:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")

    if original is not None:
        script_runner._clean_problem_modules = clean_without_keras
    yield
    if original is not None:
        script_runner._clean_problem_modules = original


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


# ---- running on both cores -------------------------------------------------------------------------------
# `make test` runs the suite in two phases: every file but the Ray ones on both cores (`pytest -n 2 --dist
# loadgroup -m "not ray_cluster"`), a file's tests on one xdist worker (its module-scoped servers and engines are
# made once); then the files that start a local Ray cluster on their own (`-m ray_cluster`). A Ray head sharing
# the two cores with a browser test missed its 120 s start-up in a trial run; alone, both files pass in ~2 min.
RAY_MODULES = {"test_engine_ray", "test_ray_auth"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module is not None else "other"
        item.add_marker(pytest.mark.xdist_group(module))
        if module in RAY_MODULES:
            item.add_marker(pytest.mark.ray_cluster)
