"""Train page: a run whose recipe is not the sidebar's (continued from a bundle) is not "Changed: model"."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gan_core.checkpoints import save_weights_folder
from gan_core.config import GANConfig
from gan_core.models import build_model

ROOT = Path(__file__).resolve().parents[1]
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)


@pytest.fixture
def lab(monkeypatch, tmp_path):
    import streamlit as st

    from ui import state, train_extras

    st.cache_resource.clear()
    weights = save_weights_folder(tmp_path / "gan", build_model(TINY), TINY, {"step": 500})
    monkeypatch.setattr(state, "BASE_CONFIG", TINY)
    monkeypatch.setattr(state, "CHUNK_STEPS", 10)
    monkeypatch.setattr(state, "PRETRAINED_DIR", weights)
    real_bundle_ui = train_extras.bundle_ui

    def bundle_ui(config, run):  # as if a conditional GAN's bundle were loaded: Start continues a cGAN
        real_bundle_ui(config, run)
        return config.replace(model="cgan") if run is None and config is not None else config

    monkeypatch.setattr(train_extras, "bundle_ui", bundle_ui)
    at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=120)
    at.run()
    yield at
    if state.RUN_KEY in at.session_state:
        at.session_state[state.RUN_KEY].discard()
    st.cache_resource.clear()


def _changed(at) -> list[str]:
    return [str(w.value) for w in at.warning if str(w.value).startswith("Changed:")]


def test_a_run_continued_from_a_cgan_bundle_is_not_a_change_of_model(lab):
    at = lab
    at.button(key="train_step").click().run()
    run = at.session_state["lab_run"]
    assert run.config.model == "cgan" and at.session_state["train_model"] == "gan"
    at.run()
    assert not at.exception
    assert _changed(at) == [] and "train_reset_apply" not in [b.key for b in at.button]
    at.selectbox(key="train_model").set_value("vae").run()  # a real change is still named
    assert any("model" in text for text in _changed(at))
