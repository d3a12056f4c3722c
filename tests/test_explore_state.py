"""Explore: widget state that survives switching views and models (AppTest, tiny shipped models)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from latent_sliders_support import slider_ids

from gan_core.checkpoints import save_weights_folder
from gan_core.classifier import build_classifier
from gan_core.config import GANConfig
from gan_core.engine import EngineOptions
from gan_core.models import build_model

ROOT = Path(__file__).resolve().parents[1]
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
SHIPPED = {"gan": TINY, "cgan": TINY.replace(model="cgan", latent_dim=10),
           "vae2d": TINY.replace(model="vae", latent_dim=2)}
EXPLORE = "ui/explore_page.py"


def _dims_picker(at):
    """The Explore page's "Dimensions of z" picker (its key gets a new generation after a view or model change)."""
    return next(widget for widget in at.multiselect if widget.key.startswith("explore_dims_picker"))


@pytest.fixture(scope="module")
def shipped_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("shipped")
    for name, config in SHIPPED.items():
        save_weights_folder(root / name, build_model(config), config, {"step": 100})
    build_classifier().save_weights(root / "classifier.weights.h5")
    return root


@pytest.fixture
def explore(monkeypatch, shipped_root, tmp_path):
    import streamlit as st

    from ui import catalog, state

    st.cache_resource.clear()
    monkeypatch.setattr(state, "EngineOptions", functools.partial(EngineOptions, warm_spare=False))
    monkeypatch.setattr(state, "BASE_CONFIG", TINY)
    monkeypatch.setattr(state, "PRETRAINED_DIR", shipped_root / "gan")
    monkeypatch.setattr(state, "DIRECTION_SAMPLES", 500)
    monkeypatch.setattr(state, "JUDGE_DIR", shipped_root)
    monkeypatch.setattr(catalog, "PRETRAINED_ROOT", shipped_root)
    monkeypatch.setattr(catalog, "QUALITY_FILE", tmp_path / "quality.json")
    at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=90)
    at.run()
    at.switch_page(EXPLORE).run()
    assert not at.exception, at.exception
    yield at
    st.cache_resource.clear()


def _raw_sliders(at) -> list[str]:
    return [slider_id for slider_id in slider_ids(at) if slider_id.startswith("z_")]


def test_raw_z_sliders_survive_arithmetic_then_a_model_switch(explore):
    at = explore
    assert len(_raw_sliders(at)) == 6
    at.segmented_control(key="explore_view").set_value("Arithmetic").run()
    at.selectbox(key="explore_model").set_value("cgan").run()
    at.segmented_control(key="explore_view").set_value("Latent sliders").run()
    assert not at.exception, at.exception
    assert _dims_picker(at).value == [0, 1, 2, 3, 4, 5]
    assert len(_raw_sliders(at)) == 6
    at.run()  # one more click anywhere: the sliders stay
    assert _dims_picker(at).value == [0, 1, 2, 3, 4, 5] and len(_raw_sliders(at)) == 6


def test_the_2d_vae_says_its_sliders_hold_the_space_only_beside_sliders(explore):
    at = explore
    at.segmented_control(key="explore_view").set_value("Arithmetic").run()
    at.selectbox(key="explore_model").set_value("vae2d").run()
    at.segmented_control(key="explore_view").set_value("Latent sliders").run()
    assert not at.exception, at.exception
    assert _dims_picker(at).value == [0, 1] and len(_raw_sliders(at)) == 2


def test_every_run_tells_the_browser_the_dimensions_picker_value(explore):
    """A run interrupted by a rerun just as it sent the picker never reached the browser; if the next run sent the
    picker without its value (only a changed value is sent by default), the browser showed it empty and sent that
    empty choice back on the next click: no sliders. So each run carries the value, the user's picks included."""
    at = explore
    at.run()  # a rerun with nothing changed
    picker = _dims_picker(at)
    assert picker.proto.set_value and [int(v) for v in picker.proto.raw_values] == [0, 1, 2, 3, 4, 5]
    picker.set_value([0, 3]).run()
    picker = _dims_picker(at)
    assert picker.proto.set_value and [int(v) for v in picker.proto.raw_values] == [0, 3]
    assert len(_raw_sliders(at)) == 2
    at.run()
    assert _dims_picker(at).value == [0, 3] and _dims_picker(at).proto.set_value


def test_a_click_sent_before_the_newest_address_arrived_is_not_undone(explore):
    """Each run writes the page's state into the address; a click the browser sends before that write reaches it
    carries the address before. That one is the page's own too, not a shared link to apply: applying it undid the
    click (CI: the view picked went back to Arithmetic) and the model switch before it."""
    at = explore
    at.segmented_control(key="explore_view").set_value("Arithmetic").run()
    before = dict(at.query_params)
    at.selectbox(key="explore_model").set_value("cgan").run()
    assert at.query_params != before and at.query_params.get("model") == "cgan"
    at.query_params = dict(before)  # the click left the browser before the newest address arrived
    at.segmented_control(key="explore_view").set_value("Latent sliders").run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="explore_view").value == "Latent sliders"
    assert at.selectbox(key="explore_model").value == "cgan"
    assert at.query_params.get("model") == "cgan" and at.query_params.get("view") is None  # the address caught up
