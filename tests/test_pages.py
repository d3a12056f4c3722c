"""AppTest: every page draws without an exception, its widgets exist by key, and they do what they say.

The pages run against tiny networks, a 64-image dataset and tiny pretrained weights written to a temporary
folder, so the file stays fast and offline. The fragment timer does not tick in AppTest: tests call at.run().
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import gan_core.data
from gan_core.checkpoints import save_weights_folder
from gan_core.config import GANConfig
from gan_core.data import Dataset
from gan_core.models import build_model


ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
TRAIN_KEYS = ("train_start", "train_pause", "train_resume", "train_step", "train_reset")
EXPLORE_PAGE = "ui/explore_page.py"
SLIDER_STEP = 0.05  # ui/explore_page.py SLIDER_STEP (importing a page module would run it)
MODEL_PAGE = "ui/model_page.py"


def _tiny_images() -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:28, 0:28]
    centres = rng.uniform(8, 20, size=(64, 2))
    images = np.exp(-((yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2) / 18.0)
    return images.astype(np.float32)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained") / "gan"
    config = TINY.replace(latent_dim=12)  # differs from the session model, so switching must reset z
    return save_weights_folder(folder, build_model(config), config, {"step": 500})


@pytest.fixture(scope="module", autouse=True)
def fresh_caches():
    import streamlit as st

    st.cache_resource.clear()  # once: the tiny pretrained model then stays cached for the whole file
    yield
    st.cache_resource.clear()


@pytest.fixture
def lab(monkeypatch, tiny_weights):
    """The app with tiny networks, tiny data and tiny pretrained weights."""
    from ui import state

    real_load = gan_core.data.load_dataset

    def load_dataset(name, *args, **kwargs):
        if name.startswith("idx:"):
            return real_load(name, *args, **kwargs)
        return Dataset(name, _tiny_images(), np.arange(64) % 10, ["a test note about the dataset"])

    monkeypatch.setattr(gan_core.data, "load_dataset", load_dataset)
    monkeypatch.setattr(state, "BASE_CONFIG", TINY)
    monkeypatch.setattr(state, "CHUNK_STEPS", 10)
    monkeypatch.setattr(state, "PRETRAINED_DIR", tiny_weights)
    monkeypatch.setattr(state, "DIRECTION_SAMPLES", 1000)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception
    yield at
    run = at.session_state["lab_run"] if "lab_run" in at.session_state else None
    if run is not None:
        run.trainer.stop()


def _wait(predicate, timeout=30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _run(at):
    return at.session_state["lab_run"] if "lab_run" in at.session_state else None


def _step_metric(at) -> str:
    return next(m.value for m in at.metric if m.label == "Step")


def _charts_with(at, text: str) -> list[str]:
    """The Vega-Lite specs on the page that mention `text` (a series name, an axis title)."""
    return [spec for spec in (str(chart.proto) for chart in at.get("vega_lite_chart")) if text in spec]


def _image_urls(at) -> list[str]:
    return [str(element.proto) for element in at.get("image")]


# ---- train page --------------------------------------------------------------------------------
def test_train_page_has_every_control(lab):
    at = lab
    for key in TRAIN_KEYS:
        assert at.button(key=key)
    assert at.selectbox(key="train_dataset").value == "mnist-sample"
    for key in ("train_g_lr", "train_d_lr", "train_d_steps", "train_seed"):
        assert at.number_input(key=key)
    for key in ("train_beta1", "train_label_smoothing"):
        assert at.slider(key=key)
    assert at.select_slider(key="train_batch_size").value == TINY.batch_size
    assert at.button(key="train_pause").disabled and at.button(key="train_reset").disabled
    assert _run(at) is None  # nothing trains until Start


def test_start_pause_resume_reset_drive_the_trainer(lab):
    at = lab
    at.button(key="train_start").click().run()
    run = _run(at)
    assert run is not None and run.trainer.status == "running"
    assert run.trainer.wait_for_step(20)
    at.run()  # what the fragment timer would do
    assert not at.exception
    assert int(_step_metric(at).replace(",", "")) >= 20
    assert _charts_with(at, "D loss") and _charts_with(at, "mean D(x), real") and _image_urls(at)
    assert any("test note" in w.value for w in at.warning)  # dataset notes are shown
    at.button(key="train_pause").click().run()
    assert run.trainer.status == "paused" and not at.button(key="train_resume").disabled
    at.button(key="train_resume").click().run()
    assert run.trainer.status == "running"
    at.button(key="train_reset").click().run()
    assert _run(at) is None and not at.exception
    assert _wait(lambda: not run.trainer.is_alive)


def test_step_runs_one_chunk_then_holds(lab):
    at = lab
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.trainer.wait_for_step(10)
    assert _wait(lambda: not _advancing(run))
    assert run.trainer.status == "paused" and run.trainer.snapshot().step == 10
    at.run()
    assert _step_metric(at) == "10" and not at.exception
    assert _charts_with(at, "generated digits") and _charts_with(at, "G gradient norm")  # the discriminator view
    assert any("first evaluation comes at step 2,000" in i.value for i in at.info)


def _advancing(run) -> bool:
    before = run.trainer.snapshot().step
    time.sleep(0.2)
    return run.trainer.snapshot().step != before


def test_learning_rates_apply_live_and_rebuild_fields_wait_for_reset(lab):
    at = lab
    at.button(key="train_step").click().run()
    run = _run(at)
    at.number_input(key="train_g_lr").set_value(0.001).run()
    assert _wait(lambda: abs(float(run.model.g_optimizer.learning_rate.numpy()) - 0.001) < 1e-9)
    assert not any("after Reset" in w.value for w in at.warning)
    at.select_slider(key="train_batch_size").set_value(32).run()
    assert any("batch_size" in w.value and "after Reset" in w.value for w in at.warning)
    at.button(key="train_reset_apply").click().run()
    assert _run(at) is None
    at.button(key="train_step").click().run()
    assert _run(at).config.batch_size == 32


def test_bad_idx_folder_shows_an_error_and_trains_nothing(lab):
    at = lab
    at.selectbox(key="train_dataset").set_value("idx:PATH").run()
    at.text_input(key="train_idx_path").set_value("/no/such/folder").run()
    at.button(key="train_start").click().run()
    assert not at.exception and _run(at) is None
    assert any("no such folder" in e.value for e in at.error)


def test_disconnect_stops_the_worker_and_resume_continues(lab):
    """The lifecycle decision: a disconnect stops the worker; a reconnecting browser resumes from its step."""
    from streamlit.runtime import caching
    from streamlit.runtime.caching.cache_resource_api import _resource_caches

    at = lab
    at.button(key="train_start").click().run()
    run = _run(at)
    assert run.trainer.wait_for_step(10)
    for session_id in [sid for sid in _resource_caches._function_caches if sid is not None]:
        caching.clear_session_resource_cache(session_id)  # what Streamlit does on a disconnect
    assert _wait(lambda: run.trainer.status == "stopped" and not run.trainer.is_alive)
    stopped_at = run.trainer.snapshot().step
    at.run()
    assert _run(at) is run and not at.button(key="train_resume").disabled
    at.button(key="train_resume").click().run()
    assert run.trainer.status == "running"
    assert run.trainer.wait_for_step(stopped_at + 10)


def test_model_selector_loads_the_recipe_and_switches_the_charts(lab):
    at = lab
    at.selectbox(key="train_model").set_value("vae").run()
    assert not at.exception
    assert at.number_input(key="train_g_lr").value == pytest.approx(1e-3) and at.slider(key="train_beta1").value == 0.9
    assert at.selectbox(key="train_latent_dim").value == 16 and at.number_input(key="train_kl_weight")
    for find, hidden in ((at.number_input, "train_d_lr"), (at.number_input, "train_d_steps"),
                         (at.selectbox, "train_loss")):
        with pytest.raises(KeyError):
            find(key=hidden)
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.config.model == "vae" and run.config.latent_dim == 16 and run.trainer.wait_for_step(10)
    at.run()
    assert not at.exception
    assert _charts_with(at, "KL") and _charts_with(at, "total (negative ELBO)")
    assert not _charts_with(at, "D loss") and not _charts_with(at, "generated digits")
    at.selectbox(key="train_model").set_value("gan").run()  # back to the GAN: its recipe, after a Reset
    assert at.number_input(key="train_latent_dim").value == TINY.latent_dim
    assert any("model" in w.value and "after Reset" in w.value for w in at.warning) and not at.exception


def test_wgan_gp_shows_critic_steps_penalty_and_raw_scores(lab):
    at = lab
    at.selectbox(key="train_loss").set_value("wgan_gp").run()
    assert at.number_input(key="train_d_steps").value == 5 and at.number_input(key="train_gp_weight")
    assert at.number_input(key="train_g_lr").value == pytest.approx(1e-4)
    with pytest.raises(KeyError):
        at.number_input(key="train_r1_gamma")
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.config.beta2 == 0.9 and run.config.r1_gamma == 0
    assert _wait(lambda: "discriminator_view" in run.trainer.snapshot().extras)
    at.run()
    assert not at.exception
    assert _charts_with(at, "gradient penalty") and _charts_with(at, "critic score, real")
    assert not _charts_with(at, "equilibrium 0.5") and _charts_with(at, "generated digits")


def test_alerts_show_at_the_top_and_fashion_says_quality_is_unavailable(lab, monkeypatch):
    import gan_core.alerts
    from gan_core.alerts import Alert

    seen = []

    def check_alerts(history, quality, status, message, scores_are_probabilities):
        seen.append((len(history["step"]), status, scores_are_probabilities))
        return [Alert("mode_collapse", "warning", "Mode collapse", "G draws 3 of 10 classes."),
                Alert("divergence", "error", "Training diverged", "Lower the learning rates.")]

    monkeypatch.setattr(gan_core.alerts, "check_alerts", check_alerts)
    at = lab
    at.selectbox(key="train_dataset").set_value("fashion_mnist").run()
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.live_quality is None and run.trainer.wait_for_step(10)
    at.run()
    assert not at.exception and seen[-1][2] is True
    assert any("Mode collapse" in w.value and "3 of 10" in w.value for w in at.warning)
    assert any("Training diverged" in e.value for e in at.error)
    assert any("Quality metrics unavailable" in i.value and "not handwritten digits" in i.value for i in at.info)


def test_live_quality_charts_fid_coverage_and_the_class_histogram(lab):
    at = lab
    at.number_input(key="train_quality_every").set_value(100).run()
    at.button(key="train_start").click().run()
    run = _run(at)
    assert run.live_quality is not None and run.trainer.wait_for_step(100)
    assert _wait(lambda: len(run.live_quality.history()["step"]) > 0, timeout=60)
    at.run()
    assert not at.exception and not run.live_quality.error
    assert _charts_with(at, "real-vs-real floor") and _charts_with(at, "classes covered")
    assert _charts_with(at, "recall") and _charts_with(at, "share of samples")


# ---- explore page ------------------------------------------------------------------------------
def _explore(at):
    at.switch_page(EXPLORE_PAGE).run()
    assert not at.exception
    return at


def test_explore_page_has_every_control(lab):
    at = _explore(lab)
    assert at.radio(key="explore_source").value == "Pretrained"
    assert at.radio(key="explore_mode").value == "Server"
    assert at.number_input(key="explore_seed") and at.button(key="explore_new_z") and at.button(key="explore_reset")
    assert at.multiselect(key="explore_dims").value == list(range(6))
    for i in range(6):
        assert at.slider(key=f"explore_z_{i}") and at.slider(key=f"explore_pc_{i}")
    assert at.session_state["explore_z"].shape == (12,)
    assert at.get("download_button")  # the interpolation GIF


def test_explore_sliders_move_z_and_the_digit(lab):
    at = _explore(lab)
    before_urls = _image_urls(at)
    at.slider(key="explore_z_2").set_value(2.5).run()
    assert not at.exception
    assert at.session_state["explore_z"][2] == pytest.approx(2.5)
    assert _image_urls(at)[0] != before_urls[0]
    z = at.session_state["explore_z"].copy()
    at.slider(key="explore_pc_0").set_value(-2.0).run()
    assert not np.allclose(at.session_state["explore_z"], z)
    assert at.slider(key="explore_pc_0").value == pytest.approx(-2.0, abs=0.01)
    assert at.slider(key="explore_z_2").value == pytest.approx(float(np.clip(at.session_state["explore_z"][2], -3, 3)),
                                                               abs=SLIDER_STEP / 2 + 1e-6)  # sliders mirror z, to a step
    at.button(key="explore_reset").click().run()
    assert at.session_state["explore_z"][2] != pytest.approx(2.5)
    seed = at.number_input(key="explore_seed").value
    at.button(key="explore_new_z").click().run()
    assert at.number_input(key="explore_seed").value != seed and not at.exception


def test_explore_dims_choose_the_sliders(lab):
    at = _explore(lab)
    at.multiselect(key="explore_dims").set_value([7, 11]).run()
    assert at.slider(key="explore_z_11") and not at.exception
    with pytest.raises(KeyError):
        at.slider(key="explore_z_0")


def test_explore_interpolation_and_arithmetic(lab):
    at = _explore(lab)
    at.radio(key="explore_interp_method").set_value("Linear (lerp)").run()
    at.slider(key="explore_interp_steps").set_value(5).run()
    at.selectbox(key="explore_arith_c").set_value(9).run()
    assert not at.exception


def test_explore_instant_mode_never_breaks_the_page(lab):
    at = _explore(lab)
    at.radio(key="explore_mode").set_value("Instant (in-browser)").run()
    assert not at.exception


def test_explore_session_model_needs_training_then_uses_a_private_copy(lab):
    at = _explore(lab)
    at.radio(key="explore_source").set_value("This session's model").run()
    assert any("Nothing has been trained" in i.value for i in at.info)
    at.switch_page("ui/train_page.py").run()
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.trainer.wait_for_step(10)
    at.switch_page(EXPLORE_PAGE).run()
    assert at.radio(key="explore_source").value == "This session's model"  # kept across pages
    assert not at.exception and at.session_state["explore_z"].shape == (TINY.latent_dim,)
    copy = at.session_state["explore_session_model"]
    assert copy.model is not run.model
    at.button(key="explore_refresh").click().run()
    assert not at.exception


def test_explore_without_pretrained_weights_says_what_to_do(lab, monkeypatch, tmp_path):
    from ui import state

    monkeypatch.setattr(state, "PRETRAINED_DIR", tmp_path / "missing")
    at = _explore(lab)
    assert any("No pretrained weights" in w.value for w in at.warning)


# ---- model page --------------------------------------------------------------------------------
def test_model_page_draws_networks_and_objective(lab):
    at = lab
    at.switch_page(MODEL_PAGE).run()
    assert not at.exception
    assert at.get("graphviz_chart") and at.latex and len(at.dataframe) == 2


def test_pictures_are_served_as_png_not_jpeg(lab):
    """Streamlit re-encodes greyscale bytes as JPEG unless told otherwise, which would blur the crisp digits."""
    at = _explore(lab)
    urls = _image_urls(at)
    assert urls and all(".jpg" not in url for url in urls)


def test_recipe_survives_a_visit_to_another_page(lab):
    at = lab
    at.number_input(key="train_g_lr").set_value(0.0005).run()
    at.select_slider(key="train_batch_size").set_value(64).run()
    at.button(key="train_step").click().run()
    at.switch_page(EXPLORE_PAGE).run()
    at.switch_page("ui/train_page.py").run()
    assert at.number_input(key="train_g_lr").value == pytest.approx(0.0005)
    assert at.select_slider(key="train_batch_size").value == 64
    assert not any("after Reset" in w.value for w in at.warning) and not at.exception


def test_after_pause_the_view_catches_up_with_the_last_chunk(lab):
    at = lab
    at.button(key="train_start").click().run()
    run = _run(at)
    assert run.trainer.wait_for_step(15)
    at.button(key="train_pause").click().run()
    assert _wait(lambda: not _advancing(run))
    at.run()  # the fragment's last tick
    snapshot = run.trainer.snapshot()
    assert snapshot.samples_step == snapshot.step  # the grid is from the last finished chunk
    assert _step_metric(at) == f"{snapshot.step:,}"


def test_instant_mode_takes_z_from_the_browser_but_never_a_stale_one(lab, monkeypatch):
    import sys
    import types

    calls = []

    def instant_generator(model, z, dims, key, slider_range=3.0, size_px=280):
        calls.append((z.copy(), list(dims), key))
        return np.full_like(z, 0.5)  # what the browser's sliders say; unchanged between reruns

    monkeypatch.setitem(sys.modules, "ui.instant", types.SimpleNamespace(instant_generator=instant_generator))
    at = _explore(lab)
    at.radio(key="explore_mode").set_value("Instant (in-browser)").run()
    assert not at.exception and calls and calls[-1][1] == list(range(6))
    assert np.allclose(at.session_state["explore_z"], 0.5)  # a change made in the browser is taken
    at.button(key="explore_new_z").click().run()
    assert not np.allclose(at.session_state["explore_z"], 0.5)  # the same answer again is stale: new z wins
    assert not at.exception
