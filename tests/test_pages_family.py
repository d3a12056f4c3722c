"""AppTest: the explore, compare and model pages with every kind of shipped model (tiny ones, in a temp folder).

Dense models draw in the page process (NumPy); network descriptions and live measurements go to the lab
engine's inference worker, which reads the real offline `mnist-sample` digits (a monkeypatch here would not
reach it). Nothing here trains, so the engine's warm spare is switched off.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from gan_core.checkpoints import save_weights_folder
from gan_core.classifier import build_classifier
from gan_core.config import GANConfig
from gan_core.engine import EngineOptions
from gan_core.models import build_model
from latent_sliders_support import caption_text, digit_src, move_slider, slider_ids

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180  # the inference worker's first start imports TensorFlow: minutes on a loaded machine
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
SHIPPED = {"gan": TINY, "cgan": TINY.replace(model="cgan"), "wgan_gp": TINY.replace(loss="wgan_gp"),
           "vae2d": TINY.replace(model="vae", latent_dim=2), "ae": TINY.replace(model="ae", latent_dim=4)}
EXPLORE, COMPARE, MODEL = "ui/explore_page.py", "ui/compare_page.py", "ui/model_page.py"


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


@pytest.fixture(scope="module", autouse=True)
def fresh_caches():
    import streamlit as st

    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def lab(monkeypatch, shipped_root, tmp_path):
    """The app pointed at the tiny shipped models and a tiny judge; no quality.json."""
    from ui import catalog, state

    monkeypatch.setattr(state, "EngineOptions", functools.partial(EngineOptions, warm_spare=False))
    monkeypatch.setattr(state, "BASE_CONFIG", TINY)
    monkeypatch.setattr(state, "PRETRAINED_DIR", shipped_root / "gan")
    monkeypatch.setattr(state, "DIRECTION_SAMPLES", 500)
    monkeypatch.setattr(catalog, "PRETRAINED_ROOT", shipped_root)
    monkeypatch.setattr(catalog, "QUALITY_FILE", tmp_path / "quality.json")
    monkeypatch.setattr(state, "JUDGE_DIR", shipped_root)  # the tiny judge, used by the engine's inference worker
    monkeypatch.setattr(catalog, "LIVE_SAMPLES", 16)
    at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=TIMEOUT_S)
    at.run()
    return at


def _page(at, page: str, **widgets):
    at.switch_page(page).run()
    for key, value in widgets.items():
        at.selectbox(key=key).set_value(value).run()
    assert not at.exception, at.exception
    return at


def _images(at) -> list[str]:
    return [str(element.proto) for element in at.get("image")]


def _text(at) -> str:
    """The page's words, the sliders' caption under the digit included."""
    return " ".join([str(e.value) for kind in ("caption", "markdown", "info", "warning") for e in at.get(kind)]
                    + [caption_text(at)])


# ---- explore ------------------------------------------------------------------------------------------
def test_explore_lists_the_shipped_models_and_notes_the_missing(lab):
    at = _page(lab, EXPLORE)
    picker = at.selectbox(key="explore_model")
    assert picker.value == "gan" and at.radio(key="explore_source").value == "Pretrained"
    assert picker.options == ["GAN", "Conditional GAN", "WGAN-GP", "VAE (2-D)", "Autoencoder", "This session's model"]
    assert "DCGAN" in _text(at)  # not shipped here, so named as left out


def test_model_picker_and_source_radio_agree(lab):
    at = _page(lab, EXPLORE, explore_model="session")
    assert at.radio(key="explore_source").value == "This session's model"
    at.radio(key="explore_source").set_value("Pretrained").run()
    assert at.selectbox(key="explore_model").value == "gan" and not at.exception


def test_conditional_gan_draws_the_chosen_digit_and_walks_between_classes(lab):
    at = _page(lab, EXPLORE, explore_model="cgan")
    before = digit_src(at)
    at.radio(key="explore_label").set_value(7).run()
    assert not at.exception and digit_src(at) != before
    at.radio(key="explore_mode").set_value("Instant (in-browser)").run()  # the browser draws the chosen digit too
    [instant] = [json.loads(e.proto.json) for e in at.get("bidi_component") if "instant" in e.proto.component_name]
    assert instant["label"] == 7 and instant["generator"]["classes"] == 10 and not at.exception
    at.radio(key="explore_mode").set_value("Server").run()
    at.segmented_control(key="explore_view").set_value("Between classes").run()  # one view is drawn at a time
    at.selectbox(key="explore_class_b").set_value(1).run()
    at.slider(key="explore_class_steps").set_value(4).run()
    assert not at.exception and "From 3 to 1" in " ".join(_images(at))


def test_wgan_gp_reports_a_critic_score_not_a_probability(lab):
    at = _page(lab, EXPLORE, explore_model="wgan_gp")
    assert "Critic score" in _text(at) and at.radio(key="explore_mode")


def test_two_dimensional_vae_shows_its_manifold_and_code_scatter(lab):
    at = _page(lab, EXPLORE, explore_model="vae2d")
    assert _dims_picker(at).value == [0, 1]
    assert slider_ids(at) == ["z_0", "z_1"]  # no principal directions: two sliders hold the whole space
    move_slider(at, "z_1", 1.5)
    assert not at.exception and at.session_state["explore_z"][1] == pytest.approx(1.5)
    at.segmented_control(key="explore_view").set_value("Latent map").run()  # one view is drawn at a time
    assert "The manifold" in " ".join(_images(at))
    assert at.get("vega_lite_chart")  # the scatter of encoded digits


def test_autoencoder_shows_reconstructions_and_why_sampling_fails(lab):
    at = _page(lab, EXPLORE, explore_model="ae")
    at.segmented_control(key="explore_view").set_value("Encode and decode").run()  # one view is drawn at a time
    assert "encoded to z and decoded back" in " ".join(_images(at))
    assert "plain autoencoder is only trained to reconstruct" in _text(at)
    assert "The manifold" not in " ".join(_images(at))


def _labelled(at, key: str) -> str:
    return at.selectbox(key=key).format_func(at.selectbox(key=key).value)


@pytest.mark.parametrize("name", ["gan", "cgan", "wgan_gp", "vae2d", "ae"])
def test_explore_a_projected_drawing_is_where_every_view_starts_and_the_link_reopens_it(lab, monkeypatch, name):
    """Draw (the canvas's picture patched in), project, then every view offers "your drawing"; its link reopens it."""
    from ui import draw_digit

    drawn = np.zeros((28, 28), np.float32)
    drawn[4:24, 12:16] = 1.0  # a "1" in MNIST form
    monkeypatch.setattr(draw_digit, "digit_from_drawing", lambda drawing: drawn)
    at = _page(lab, EXPLORE, explore_model=name)
    seed_z = at.session_state["explore_z"].copy()
    assert "explore_to_drawing" not in [button.key for button in at.button]  # no drawing yet, nothing to go back to
    at.button(key="explore_draw_project").click().run()
    assert not at.exception, at.exception
    assert "mean pixel difference" in _text(at) and "Its projection" in " ".join(_images(at))
    point = at.session_state["explore_drawing"]["z"]
    assert not np.array_equal(point, seed_z) and np.array_equal(at.session_state["explore_z"], point)
    assert "z: your drawing." in _text(at)  # the sliders' digit is the drawing's
    link = dict(at.query_params)
    assert "drawn" in link and "seed" not in link and "z" not in link  # the drawing is the base: nothing moved
    if name == "cgan":
        assert link["label"] == str(at.session_state["explore_drawing"]["label"])
    views = {"Interpolate": ["explore_interp_a_drawing"], "Arithmetic": ["explore_arith_a_drawing"]}
    for view, pickers in views.items():
        at.segmented_control(key="explore_view").set_value(view).run()
        assert not at.exception, at.exception
        assert [_labelled(at, key) for key in pickers] == ["your drawing"]
        assert "Your drawing: as drawn, and its projection" in _text(at)
    assert "A (your drawing)" in " ".join(_images(at))
    at.segmented_control(key="explore_view").set_value("Interpolate").run()
    assert "From your drawing to #6 in 8 steps" in " ".join(_images(at))  # "my 7 -> a 1"
    special = {"cgan": "Between classes", "vae2d": "Latent map", "ae": "Encode and decode"}.get(name)
    if special is not None:
        at.segmented_control(key="explore_view").set_value(special).run()
        assert not at.exception, at.exception
        assert "your drawing" in (_text(at) + " ".join(_images(at))).lower()
    at.segmented_control(key="explore_view").set_value("Latent sliders").run()
    move_slider(at, f"z_{_dims_picker(at).value[0]}", 2.5)  # move the drawing's z
    assert "z: your drawing, moved" in _text(at)
    link = dict(at.query_params)
    moved = at.session_state["explore_z"].copy()
    assert "z" in link and "seed" not in link

    fresh = AppTest.from_file(str(ROOT / "main.py"), default_timeout=TIMEOUT_S)
    fresh.query_params.update(link)
    fresh.run()
    fresh.switch_page(EXPLORE).run()
    assert not fresh.exception, fresh.exception
    assert "Ignored" not in _text(fresh)
    np.testing.assert_array_equal(fresh.session_state["explore_drawing"]["z"], point)  # byte for byte
    np.testing.assert_array_equal(fresh.session_state["explore_z"], moved)
    fresh.button(key="explore_reset").click().run()  # Reset goes back to the drawing, not to a seed
    np.testing.assert_array_equal(fresh.session_state["explore_z"], point)
    fresh.number_input(key="explore_seed").set_value(4).run()  # a seed leaves the drawing, which stays an operand
    assert "seed" in fresh.query_params and "drawn" in fresh.query_params
    fresh.button(key="explore_to_drawing").click().run()
    np.testing.assert_array_equal(fresh.session_state["explore_z"], point)
    assert "seed" not in fresh.query_params and not fresh.exception


# ---- compare ------------------------------------------------------------------------------------------
def test_compare_draws_every_model_on_the_same_seed(lab):
    at = _page(lab, COMPARE)
    assert len(at.get("image")) == len(SHIPPED)
    assert any("No saved quality numbers (`quality.json`)" in i.value for i in at.info)
    before = _images(at)
    at.number_input(key="compare_seed").set_value(5).run()
    assert not at.exception and _images(at) != before


def test_compare_reads_the_committed_quality_numbers(lab, tmp_path):
    report = {"available": True, "generated": {"fid": 12.5, "kid": 0.1, "inception_score": 8.0, "classes_covered": 10,
                                               "kl_to_uniform": 0.01, "precision": 0.7, "recall": 0.6, "n_fake": 2000},
              "fid_floor": 1.25, "fid_ratio": 9.0, "n": 2000}
    (tmp_path / "quality.json").write_text(json.dumps({"gan": report, "vae2d": {"available": False, "reason": "x"},
                                                       "run_default_5min": report}))  # a benchmark run: not a model
    at = _page(lab, COMPARE)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["GAN", "VAE (2-D)"]
    assert table["FID"][0] == 12.5 and table["FID floor (real vs real)"][0] == 1.25
    assert table["numbers from"][0] == "shipped with the app"  # no internal words, no benchmark rows


def test_compare_measures_a_model_live(lab):
    at = _page(lab, COMPARE)
    at.button(key="compare_eval_vae2d").click().run()
    assert not at.exception
    assert "vae2d" in at.session_state["compare_live_reports"]
    table = at.dataframe[0].value
    assert list(table["numbers from"]) == ["live, this session"] and np.isfinite(table["FID"][0])


def test_compare_with_two_models_only(lab, monkeypatch, tmp_path, shipped_root):
    import shutil

    from ui import catalog, state

    for name in ("gan", "vae2d"):
        shutil.copytree(shipped_root / name, tmp_path / "two" / name)
    monkeypatch.setattr(catalog, "PRETRAINED_ROOT", tmp_path / "two")
    monkeypatch.setattr(state, "PRETRAINED_DIR", tmp_path / "two" / "gan")
    at = _page(lab, COMPARE)
    assert len(at.get("image")) == 2 and at.button(key="compare_eval_vae2d")
    with pytest.raises(KeyError):
        at.button(key="compare_eval_cgan")


# ---- model page ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, marker, tables", [("gan", r"\max_D", 2), ("cgan", r"\mid y", 2),
                                                  ("wgan_gp", r"\lambda", 2), ("vae2d", r"\mathrm{ELBO}", 2),
                                                  ("ae", r"\mathrm{Dec}(E(x))", 2)])
def test_model_page_shows_the_objective_of_the_chosen_model(lab, name, marker, tables):
    at = _page(lab, MODEL, model_pick=name)
    assert any(marker in latex.value for latex in at.latex)
    assert at.get("graphviz_chart") and len(at.dataframe) == tables
