"""AppTest: every page draws without an exception, its widgets exist by key, and they do what they say.

Training runs in the lab engine's worker processes (gan_core.engine), so these tests drive real workers with
tiny networks on the offline `mnist-sample` digits (datasets load inside the worker: a monkeypatch here would
not reach them). The pretrained weights are tiny ones written to a temporary folder. The fragment timer does
not tick in AppTest: tests call at.run(). Every test discards its run, so no worker outlives it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from gan_core.checkpoints import save_weights_folder
from gan_core.config import GANConfig
from gan_core.models import build_model
from latent_sliders_support import KEY as SLIDERS_KEY
from latent_sliders_support import digit_src, move_slider, move_sliders, slider_ids, slider_value, sliders_data
from process_support import pid_alive as _alive, wait_for as _wait

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60
START_S = 180  # a worker's first steps: a fresh process imports TensorFlow, on a loaded machine
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
TRAIN_KEYS = ("train_start", "train_pause", "train_resume", "train_step", "train_reset")
EXPLORE_PAGE = "ui/explore_page.py"
TRAIN_PAGE = "ui/train_page.py"
SLIDER_STEP = 0.05  # ui/explore_page.py SLIDER_STEP (importing a page module would run it)
MODEL_PAGE = "ui/model_page.py"
INSTANT_COMPONENT = "gan_lab_instant_generator"


def _dims_picker(at):
    """The Explore page's "Dimensions of z" picker (its key gets a new generation after a view or model change)."""
    return next(widget for widget in at.multiselect if widget.key.startswith("explore_dims_picker"))


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained") / "gan"
    config = TINY.replace(latent_dim=12)  # differs from the session model, so switching must reset z
    return save_weights_folder(folder, build_model(config), config, {"step": 500})


@pytest.fixture(scope="module", autouse=True)
def fresh_caches():
    import streamlit as st

    st.cache_resource.clear()  # once: this file's engine and tiny pretrained model then stay cached
    yield
    st.cache_resource.clear()  # releases the engine, which ends its workers


def _patch_state(monkeypatch, tiny_weights) -> None:
    from ui import state

    monkeypatch.setattr(state, "BASE_CONFIG", TINY)
    monkeypatch.setattr(state, "CHUNK_STEPS", 10)
    monkeypatch.setattr(state, "PRETRAINED_DIR", tiny_weights)
    monkeypatch.setattr(state, "DIRECTION_SAMPLES", 1000)
    monkeypatch.setattr(state, "QUALITY_SAMPLES", 200)  # read when the engine is made (first test of the file)


def _new_session() -> AppTest:
    at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def lab(monkeypatch, tiny_weights):
    """The app with tiny networks and tiny pretrained weights; its run (if any) is discarded afterwards."""
    _patch_state(monkeypatch, tiny_weights)
    monkeypatch.delenv("GAN_LAB_DATA_ROOT", raising=False)
    at = _new_session()
    yield at
    run = _run(at)
    if run is not None:
        run.discard()


def _run(at):
    return at.session_state["lab_run"] if "lab_run" in at.session_state else None


def _idle(run, timeout=60.0) -> bool:
    """The worker has finished every chunk it was asked for (grid and probes included)."""
    return _wait(lambda: not run.poll().busy, timeout)


def _live_panel(at, part: str) -> dict | None:
    """The data the Train page's live panel (ui/live_panel.py) drew for `part` ("numbers", "grid", "shares", "dview")
    this run."""
    for element in at.get("bidi_component"):
        if "gan_lab_live_panel" in element.proto.component_name:
            data = json.loads(element.proto.json)
            if data["part"] == part:
                return data
    return None


def _step_metric(at) -> str:
    """The Step the page shows: the live panel's on the Train page (its feed moves it between reruns)."""
    numbers = _live_panel(at, "numbers")
    assert numbers is not None, "no live numbers on the page"
    return next(number["value"] for number in numbers["numbers"] if number["label"] == "Step")


def _status_text(at) -> str:
    return " ".join(str(e.value) for kind in ("info", "error", "warning") for e in at.get(kind))


def _charts_with(at, text: str) -> list[str]:
    """The charts on the page that mention `text` (a series name, an axis title): Vega-Lite specs and the live
    curves' stream charts (ui/stream_chart.py, a bidi component whose data names its series and lines)."""
    charts = [*at.get("vega_lite_chart"), *at.get("bidi_component")]
    return [spec for spec in (str(chart.proto) for chart in charts) if text in spec]


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
    # The batch size is part of the model's recipe, as the rates are: the dense GAN's is 32, whatever the base had.
    assert at.select_slider(key="train_batch_size").value == 32 != TINY.batch_size
    assert at.button(key="train_pause").disabled and at.button(key="train_reset").disabled
    assert _run(at) is None  # nothing trains until Start
    assert any("Trainers in use on this server: 0 of" in c.value for c in at.caption)


def test_start_pause_resume_reset_drive_the_worker(lab):
    at = lab
    at.button(key="train_start").click().run()
    run = _run(at)
    assert run is not None and run.status in ("starting", "running")
    assert run.wait_for_step(20, timeout=START_S)
    assert run.status == "running" and run.worker.pid != os.getpid()
    at.run()  # what the fragment timer would do
    assert not at.exception
    assert int(_step_metric(at).replace(",", "")) >= 20
    grid = _live_panel(at, "grid")
    assert _charts_with(at, "D loss") and _charts_with(at, "mean D(x), real") and grid["grid"]["png"].startswith(
        "data:image/png;base64,")
    at.button(key="train_pause").click().run()
    assert run.status == "paused" and not at.button(key="train_resume").disabled
    assert _idle(run)
    at.run()  # the fragment's last tick: the view catches up with the last chunk
    view = run.poll()
    assert view.samples_step == view.step  # the grid is from the last finished chunk
    assert _step_metric(at) == f"{view.step:,}"
    step = view.step
    at.button(key="train_resume").click().run()
    assert run.status == "running" and run.wait_for_step(step + 10)
    pid = run.worker.pid
    at.button(key="train_reset").click().run()
    assert _run(at) is None and not at.exception
    assert _wait(lambda: not _alive(pid), timeout=5)  # Reset ends the process: its memory goes back
    assert not run.recovery_dir.exists() and not run.live
    assert at.button(key="train_reset").disabled and not at.button(key="train_start").disabled


def test_step_runs_one_chunk_then_holds(lab):
    at = lab
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.wait_for_step(10, timeout=START_S)
    assert _idle(run)
    view = run.poll()
    assert view.status == "paused" and view.step == 10
    at.run()
    assert _step_metric(at) == "10" and not at.exception
    dview = _live_panel(at, "dview")  # the discriminator view: D's outputs on 256 real and 256 generated digits
    assert dview["dview"]["count"] == 256 and sum(dview["dview"]["real"]) == sum(dview["dview"]["fake"]) == 256
    assert dview["dview"]["step"] == 10 and dview["labels"]["fake"] == "generated digits"
    assert _charts_with(at, "G gradient norm")
    assert any("first evaluation comes at step 2,000" in i.value for i in at.info)
    assert run.poll().step == 10  # held: nothing trains until asked


def test_learning_rates_apply_live_and_rebuild_fields_wait_for_reset(lab, monkeypatch):
    at = lab
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.wait_for_step(10, timeout=START_S)
    at.number_input(key="train_g_lr").set_value(0.0005).run()
    assert not at.exception
    assert run.config.g_learning_rate == pytest.approx(0.0005)
    # The worker's own copy of the recipe changed too (rpc_set_learning_rates), and the run trains on with it.
    assert run.weights()["config"]["g_learning_rate"] == pytest.approx(0.0005)
    assert run.status != "error"
    at.button(key="train_step").click().run()
    assert run.wait_for_step(20) and run.status != "error"
    assert not any("after Reset" in w.value for w in at.warning)
    at.run()
    marks = [c.value for c in at.caption if "learning rate" in c.value]
    assert len(marks) == 1 and marks[0].startswith("Step 10: learning rate G ") and "-> 0.0005 " in marks[0], marks
    at.switch_page(EXPLORE_PAGE).run()  # the recipe survives a visit to another page
    at.switch_page(TRAIN_PAGE).run()
    assert at.number_input(key="train_g_lr").value == pytest.approx(0.0005) and not at.exception
    assert not any("after Reset" in w.value for w in at.warning)
    at.select_slider(key="train_batch_size").set_value(64).run()
    assert any("batch_size" in w.value and "after Reset" in w.value for w in at.warning)
    at.button(key="train_reset_apply").click().run()
    assert _run(at) is None and not _wait(lambda: run.live, timeout=0.1)
    from ui import state

    asked = []

    def new_run(config, *args, **kwargs):  # what the next Step asks the engine for, without another worker
        asked.append(config)
        raise state.EngineError("not in this test")

    monkeypatch.setattr(state, "new_run", new_run)
    at.button(key="train_step").click().run()
    assert [(c.batch_size, c.g_learning_rate) for c in asked] == [(64, pytest.approx(0.0005))]
    assert any("Cannot start the training: not in this test" in e.value for e in at.error)


def _idx_images(count: int, seed: int = 1) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    return (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (count, 28, 28)) + pixels.tobytes()


def _server_folder(at, monkeypatch, root: Path, name: str):
    """Offer `root`'s sub-folders as the operator would (GAN_LAB_DATA_ROOT) and pick `name` in the sidebar.

    An operator sets the root before the server starts; here the engine is made again after it is set, so its
    workers (which find `data:NAME` under the root) inherit it as a server's would."""
    monkeypatch.setenv("GAN_LAB_DATA_ROOT", str(root))
    st.cache_resource.clear()
    at.run()
    at.selectbox(key="train_dataset").set_value("server-folder").run()
    at.selectbox(key="train_server_folder").set_value(name).run()
    assert not at.exception
    return at


def test_a_broken_data_folder_shows_the_workers_error_and_trains_nothing(lab, monkeypatch, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "train-images-idx3-ubyte").write_bytes(_idx_images(40)[:-100])  # truncated
    at = _server_folder(lab, monkeypatch, tmp_path, "broken")
    at.button(key="train_start").click().run()
    run = _run(at)  # the worker reads the folder: the page learns of the error from it
    assert run is not None and not at.exception
    assert _wait(lambda: run.status == "error", timeout=START_S)
    assert not run.live and run.poll().step == 0
    at.run()
    assert not at.exception
    assert any("could not start" in e.value and "truncated or corrupt" in e.value for e in at.error)
    assert at.button(key="train_start").disabled and not at.button(key="train_reset").disabled  # Reset: the way out
    at.button(key="train_reset").click().run()
    assert _run(at) is None and not at.exception


def test_training_on_an_unlabelled_data_folder_says_why_quality_is_unavailable(lab, monkeypatch, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "train-images-idx3-ubyte").write_bytes(_idx_images(40))
    at = _server_folder(lab, monkeypatch, tmp_path, "mine")
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.config.dataset == "data:mine"  # the recipe names the folder, never the server's path
    assert run.wait_for_step(10, timeout=START_S)
    assert "no labels file" in run.quality_note  # nothing shows an unlabelled folder holds digits
    at.run()
    assert not at.exception
    assert any("Quality metrics unavailable" in i.value and "no labels file" in i.value for i in at.info)


def _clear_session_caches() -> None:
    """What Streamlit does when a browser session ends: release its session-scoped resources."""
    from streamlit.runtime import caching
    from streamlit.runtime.caching.cache_resource_api import _resource_caches

    for session_id in [sid for sid in _resource_caches._function_caches if sid is not None]:
        caching.clear_session_resource_cache(session_id)


def test_a_session_end_releases_the_browser_that_session_holds(lab):
    """The hold that tells the registry a session ended names this session's browser, whatever an earlier
    session with the same id held (every AppTest session has one id; a server's session ids are not reused,
    but a hold keyed on the id alone released the first browser it ever saw)."""
    from ui import state

    _clear_session_caches()  # whatever earlier tests held
    lab.run()  # this session joins again
    first = lab.session_state[state.BROWSER_SECRET_KEY]
    other = _new_session()  # another browser: a fresh session state, so a new secret, under the same id
    second = other.session_state[state.BROWSER_SECRET_KEY]
    assert first != second
    registry = state._registry()
    assert registry.sessions(first) == 1 and registry.sessions(second) == 1
    _clear_session_caches()  # both sessions end
    assert registry.sessions(first) == 0 and registry.sessions(second) == 0


def test_session_end_stops_the_worker_and_resume_continues_from_the_snapshot(lab, monkeypatch):
    """The lifecycle decision: a run outlives its tab for a grace period (a reload reattaches); a browser gone
    longer has its worker ended, and coming back resumes from the snapshot."""
    from ui import state

    monkeypatch.setattr(state, "BROWSER_GRACE_S", 3.0)  # 10 minutes on a server
    at = lab
    at.button(key="train_start").click().run()
    run = _run(at)
    assert run.wait_for_step(10, timeout=START_S)
    pid = run.worker.pid
    _clear_session_caches()
    time.sleep(0.5)
    assert _alive(pid) and run.status != "stopped"  # within the grace period: still training
    assert _wait(lambda: not _alive(pid), timeout=60)  # the grace, a last snapshot, then the process ends
    view = run.poll()
    assert view.status == "stopped" and "the browser session ended" in view.message
    stopped_at = view.step
    at.run()  # the same session comes back
    assert not at.exception
    assert _run(at) is run and not at.button(key="train_resume").disabled
    assert "Stopped." in _status_text(at) and f"at step {stopped_at:,}" in _status_text(at)
    assert _step_metric(at) == f"{stopped_at:,}"  # the curves are kept
    saved = json.loads((run.recovery_dir / "weights" / "state.json").read_text())["step"]
    assert saved >= stopped_at  # the last snapshot, taken as the worker was ended
    at.button(key="train_resume").click().run()
    assert run.wait_for_step(saved + 10, timeout=START_S)
    assert run.status == "running" and run.worker.pid != pid
    assert any(f"Continued from the snapshot saved at step {saved:,}" in note for note in run.notes), run.notes
    at.run()
    assert any("Continued from the snapshot" in w.value for w in at.warning)  # the run's notes are shown


def test_kill_9_of_the_worker_shows_the_state_and_resume_recovers(lab):
    at = lab
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.wait_for_step(10, timeout=START_S) and _idle(run)
    state_file = run.recovery_dir / "weights" / "state.json"
    assert _wait(lambda: state_file.is_file() and '"step": 10' in state_file.read_text())  # saved on pause
    os.kill(run.worker.pid, signal.SIGKILL)
    killed = time.monotonic()

    def page_says_ended() -> bool:
        at.run()
        return "Training process ended." in _status_text(at)

    assert _wait(page_says_ended, timeout=3), _status_text(at)
    assert time.monotonic() - killed < 3
    assert not at.exception and "killed by SIGKILL" in _status_text(at)
    assert not at.button(key="train_resume").disabled
    at.button(key="train_resume").click().run()
    assert run.wait_for_step(20, timeout=START_S)
    assert run.poll().history["step"][0] == 5  # the curves came back with the weights
    at.run()
    assert not at.exception and "Training process ended." not in _status_text(at)


def test_the_trainer_cap_is_a_message_for_the_second_session(lab, monkeypatch):
    from ui import state

    engine = state.engine()
    assert engine is state.engine()  # the engine the pages use (the same cache key)
    monkeypatch.setattr(engine.options, "max_trainers", 1)
    at = lab
    at.button(key="train_step").click().run()
    first = _run(at)
    assert first is not None and first.wait_started(START_S)
    other = _new_session()  # a second browser session
    try:
        other.button(key="train_start").click().run()
        assert not other.exception
        assert _run(other) is None
        assert any("All 1 training slots" in e.value and "GAN_LAB_MAX_TRAINERS=1" in e.value for e in other.error)
        assert not other.button(key="train_start").disabled  # nothing queued: they may press Start again later
        at.button(key="train_reset").click().run()  # the first session's Reset frees the slot
        other.run()
        assert any("Trainers in use on this server: 0 of 1" in c.value for c in other.caption)
    finally:
        if _run(other) is not None:
            _run(other).discard()


def test_model_selector_loads_the_recipe_and_switches_the_charts(lab):
    at = lab
    at.selectbox(key="train_model").set_value("vae").run()
    assert not at.exception
    assert at.number_input(key="train_g_lr").value == pytest.approx(1e-3) and at.slider(key="train_beta1").value == 0.9
    assert at.selectbox(key="train_latent_dim").value == 16 and at.number_input(key="train_kl_weight")
    assert at.select_slider(key="train_batch_size").value == 128  # the VAE's measured batch (the GAN's is 32)
    for find, hidden in ((at.number_input, "train_d_lr"), (at.number_input, "train_d_steps"),
                         (at.selectbox, "train_loss")):
        with pytest.raises(KeyError):
            find(key=hidden)
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.config.model == "vae" and run.config.latent_dim == 16
    assert run.wait_for_step(10, timeout=START_S) and _idle(run)
    at.run()
    assert not at.exception
    assert _charts_with(at, "KL") and _charts_with(at, "total (negative ELBO)")
    assert not _charts_with(at, "D loss") and not _charts_with(at, "generated digits")
    at.selectbox(key="train_model").set_value("gan").run()  # back to the GAN: its recipe, after a Reset
    assert at.number_input(key="train_latent_dim").value == TINY.latent_dim
    assert at.select_slider(key="train_batch_size").value == 32
    assert any("model" in w.value and "after Reset" in w.value for w in at.warning) and not at.exception


def test_wgan_gp_shows_critic_steps_penalty_and_raw_scores(lab):
    at = lab
    at.selectbox(key="train_loss").set_value("wgan_gp").run()
    assert at.number_input(key="train_d_steps").value == 5 and at.number_input(key="train_gp_weight")
    assert at.number_input(key="train_g_lr").value == pytest.approx(1e-3)  # the dense networks' WGAN-GP rate
    with pytest.raises(KeyError):
        at.number_input(key="train_r1_gamma")
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.config.beta2 == 0.9 and run.config.r1_gamma == 0
    assert run.wait_for_step(10, timeout=START_S)
    assert _wait(lambda: "discriminator_view" in run.poll().extras)
    at.run()
    assert not at.exception
    assert _charts_with(at, "gradient penalty") and _charts_with(at, "critic score, real")
    assert not _charts_with(at, "equilibrium 0.5") and _charts_with(at, "generated digits")


def test_alerts_show_at_the_top_and_fashion_says_quality_is_unavailable(lab, monkeypatch):
    from gan_core.alerts import Alert
    from ui import live_views

    seen = []

    def check_alerts(history, quality, status, message, scores_are_probabilities):
        seen.append((len(history["step"]), status, scores_are_probabilities))
        return [Alert("mode_collapse", "warning", "Mode collapse", "G draws 3 of 10 classes."),
                Alert("divergence", "error", "Training diverged", "Lower the learning rates.")]

    monkeypatch.setattr(live_views, "check_alerts", check_alerts)  # the page checks alerts, not the worker
    at = lab
    at.selectbox(key="train_dataset").set_value("fashion_mnist").run()
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.config.dataset == "fashion_mnist"
    assert run.wait_for_step(10, timeout=START_S)  # offline, the worker falls back to mnist-sample and says so
    assert "not handwritten digits" in run.quality_note
    at.run()
    assert not at.exception and seen[-1][0] > 0 and seen[-1][2] is True
    assert any("Mode collapse" in w.value and "3 of 10" in w.value for w in at.warning)
    assert any("Training diverged" in e.value for e in at.error)
    assert any("Quality metrics unavailable" in i.value and "not handwritten digits" in i.value for i in at.info)
    for note in run.notes:  # e.g. the offline fallback (the dataset's notes come from the worker)
        assert any(note in w.value for w in at.warning)


def test_live_quality_charts_fid_coverage_and_the_class_histogram(lab):
    at = lab
    at.number_input(key="train_quality_every").set_value(100).run()
    at.button(key="train_start").click().run()
    run = _run(at)
    assert run.quality_every == 100
    assert run.wait_for_step(100, timeout=START_S) and run.quality_note == ""
    assert _wait(lambda: run.poll().quality is not None and len(run.poll().quality["step"]) > 0, timeout=120)
    at.run()
    assert not at.exception and not run.poll().quality_error
    assert _charts_with(at, "real-vs-real floor") and _charts_with(at, "classes covered")
    assert _charts_with(at, "recall")
    shares = _live_panel(at, "shares")  # the class histogram: the live panel's bars, which the feed keeps current
    assert shares is not None and shares["shares"]["step"] in run.poll().quality["step"]  # a scoring's step
    # Ten shares of all the samples (those read as no digit, all of them this early, count in no bar).
    assert len(shares["shares"]["values"]) == 10 and 0 <= sum(shares["shares"]["values"]) <= 1 + 1e-6


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
    assert _dims_picker(at).value == list(range(6))
    assert slider_ids(at) == [f"z_{i}" for i in range(6)] + [f"pc_{i}" for i in range(6)]
    assert at.session_state["explore_z"].shape == (12,)
    assert at.segmented_control(key="explore_view").options == ["Latent sliders", "Interpolate", "Arithmetic"]
    assert not at.get("download_button")  # "Link and downloads" is drawn only while open
    at.session_state["explore_share"] = True
    at.run()
    assert at.get("download_button") and at.code  # the digit and its z, and the link
    at.session_state["explore_share"] = False
    at.run()


def test_explore_sliders_move_z_and_the_digit(lab):
    at = _explore(lab)
    before = digit_src(at)
    move_slider(at, "z_2", 2.5)
    assert not at.exception
    assert at.session_state["explore_z"][2] == pytest.approx(2.5)
    assert digit_src(at) != before and digit_src(at).startswith("data:image/png;base64,")
    assert sliders_data(at)["applied"] == "apptest-1"  # the browser hears which moves are applied
    z = at.session_state["explore_z"].copy()
    move_slider(at, "pc_0", -2.0)
    assert not np.allclose(at.session_state["explore_z"], z)
    assert slider_value(at, "pc_0") == pytest.approx(-2.0, abs=0.01)
    assert slider_value(at, "z_2") == pytest.approx(float(np.clip(at.session_state["explore_z"][2], -3, 3)),
                                                    abs=SLIDER_STEP / 2 + 1e-6)  # sliders mirror z, to a step
    at.run()  # a rerun with the same browser state applies nothing twice
    assert slider_value(at, "pc_0") == pytest.approx(-2.0, abs=0.01)
    move_sliders(at, ("z_0", 1.0), ("z_1", -1.0), ("z_0", 1.5))  # faster than the server reran: all, in order
    assert list(at.session_state["explore_z"][:2]) == pytest.approx([1.5, -1.0])
    z = at.session_state["explore_z"].copy()
    at.session_state[SLIDERS_KEY] = {"moves": {"instance": "stranger", "moves": [  # what no page of ours sends
        {"n": 1, "id": "z_99", "value": 1.0}, {"n": "x"}, {"n": 2, "id": "pc_0", "value": float("nan")}, "z_0"]}}
    at.run()
    assert not at.exception and np.array_equal(at.session_state["explore_z"], z)
    at.button(key="explore_reset").click().run()
    assert at.session_state["explore_z"][2] != pytest.approx(2.5)
    seed = at.number_input(key="explore_seed").value
    at.button(key="explore_new_z").click().run()
    assert at.number_input(key="explore_seed").value != seed and not at.exception


def test_explore_dims_choose_the_sliders(lab):
    at = _explore(lab)
    _dims_picker(at).set_value([7, 11]).run()
    assert not at.exception and [i for i in slider_ids(at) if i.startswith("z_")] == ["z_7", "z_11"]


def test_explore_interpolation_and_arithmetic(lab):
    at = _explore(lab)
    with pytest.raises(KeyError):
        at.radio(key="explore_interp_method")  # one view is drawn at a time
    at.segmented_control(key="explore_view").set_value("Interpolate").run()
    at.radio(key="explore_interp_method").set_value("Linear (lerp)").run()
    at.slider(key="explore_interp_steps").set_value(5).run()
    assert any("#1 to #6 in 5 steps" in url for url in _image_urls(at))
    assert at.get("download_button")  # the interpolation GIF
    at.segmented_control(key="explore_view").set_value("Arithmetic").run()
    before = _image_urls(at)
    at.selectbox(key="explore_arith_c").set_value(9).run()
    assert not at.exception
    assert any("C (#9)" in url for url in _image_urls(at)) and _image_urls(at) != before


def _instant_data(at) -> list[dict]:
    """The data each in-browser generator component on the page was fed this run."""
    elements = [e for e in at.get("bidi_component") if INSTANT_COMPONENT in e.proto.component_name]
    return [json.loads(e.proto.json) for e in elements]


def test_explore_instant_mode_feeds_the_browser_the_model_and_z(lab, tiny_weights):
    from gan_core.browser_export import generator_payload
    from ui import state

    at = _explore(lab)
    assert _instant_data(at) == []  # Server rendering: no component
    at.radio(key="explore_mode").set_value("Instant (in-browser)").run()
    assert not at.exception
    [data] = _instant_data(at)
    # The weights the browser runs are the shown model's (hashed independently of the page's copy) ...
    expected = generator_payload(state.engine().shipped_model(tiny_weights, "check"))
    assert data["generator"]["hash"] == expected["hash"] and data["generator"]["latent_dim"] == 12
    assert set(data["generator"]["arrays"]) == {"0.kernel", "0.bias", "1.kernel", "1.bias"}  # none confirmed yet
    # ... at the page's z, with the chosen sliders.
    assert np.allclose(data["z"], at.session_state["explore_z"]) and data["dims"] == list(range(6))
    assert sliders_data(at) is None  # the browser draws the sliders and the digit now
    at.button(key="explore_new_z").click().run()
    [data] = _instant_data(at)
    assert np.allclose(data["z"], at.session_state["explore_z"]) and not at.exception  # a new z reaches the browser
    at.radio(key="explore_mode").set_value("Server").run()
    assert _instant_data(at) == [] and "z_0" in slider_ids(at) and not at.exception


def test_explore_session_model_needs_training_then_uses_a_private_copy(lab):
    at = _explore(lab)
    at.radio(key="explore_source").set_value("This session's model").run()
    assert any("Nothing has been trained" in i.value for i in at.info)
    at.switch_page(TRAIN_PAGE).run()
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.wait_for_step(10, timeout=START_S) and _idle(run)
    at.switch_page(EXPLORE_PAGE).run()
    assert at.radio(key="explore_source").value == "This session's model"  # kept across pages
    assert not at.exception and at.session_state["explore_z"].shape == (TINY.latent_dim,)
    copy = at.session_state["explore_session_model"]
    assert copy.key == f"session:{run.run_id}:10" and copy.model.in_page  # dense: NumPy in the page process
    digit = digit_src(at)
    run.step(2)  # training goes on; the copy does not change under the user ...
    assert run.wait_for_step(30) and _idle(run)
    at.run()
    assert at.session_state["explore_session_model"] is copy and digit_src(at) == digit
    at.button(key="explore_refresh").click().run()  # ... until they ask for the newer weights
    assert not at.exception
    assert at.session_state["explore_session_model"].key == f"session:{run.run_id}:30"
    assert digit_src(at) != digit


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
    data = sliders_data(at)  # the digit and its neighbours, drawn by the server
    assert all(src.startswith("data:image/png;base64,") for src in (data["digit"]["src"], data["neighbours"]["src"]))
    at.segmented_control(key="explore_view").set_value("Interpolate").run()
    urls = _image_urls(at)
    assert urls and all(".jpg" not in url for url in urls)


def test_instant_mode_takes_z_from_the_browser_but_never_a_stale_one(lab, monkeypatch):
    import types

    calls = []

    def instant_generator(model, z, dims, key, slider_range=3.0, size_px=280, label=None):
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


# ---- the page process never loads TensorFlow --------------------------------------------------
NO_TENSORFLOW_SCRIPT = """
import functools, json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from gan_core.config import GANConfig
from ui import catalog, state

state.BASE_CONFIG = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
# No warm spare here (the engine's own tests cover it): fewer TensorFlow processes for this one check.
state.EngineOptions = functools.partial(state.EngineOptions, warm_spare=False)
state.CHUNK_STEPS = 10
state.DIRECTION_SAMPLES = 300
catalog.LIVE_SAMPLES = 64
report = {{"exceptions": [], "seen": []}}


def check(at, what):
    report["seen"].append(what)
    if at.exception:
        report["exceptions"].append([what, [str(e.value) for e in at.exception]])


at = AppTest.from_file({app!r}, default_timeout=120)
at.run()
check(at, "train")
at.button(key="train_start").click().run()
run = at.session_state["lab_run"]
report["trained"] = run.wait_for_step(20, timeout=240)
at.run()
check(at, "train, running")
at.button(key="train_pause").click().run()
at.button(key="train_step").click().run()
run.wait_for_step(30, timeout=60)
at.run()
check(at, "train, stepped")
report["steps_metric"] = [n["value"] for e in at.get("bidi_component") if "gan_lab_live_panel" in
                          e.proto.component_name for n in json.loads(e.proto.json).get("numbers", [])
                          if n["label"] == "Step"]
present, _ = catalog.available()
at.switch_page("ui/explore_page.py").run()
check(at, "explore")
at.radio(key="explore_mode").set_value("Instant (in-browser)").run()
check(at, "explore, instant")
report["instant"] = len([e for e in at.get("bidi_component") if "{component}" in e.proto.component_name])
report["views"] = []
for name in [shipped.name for shipped in present] + ["session"]:
    at.selectbox(key="explore_model").set_value(name).run()
    check(at, "explore " + name)
    for view in at.segmented_control(key="explore_view").options:
        at.segmented_control(key="explore_view").set_value(view).run()
        check(at, "explore " + name + ", " + view)
        report["views"].append([name, view])
    at.segmented_control(key="explore_view").set_value("Latent sliders").run()
at.switch_page("ui/model_page.py").run()
check(at, "model")
for shipped in present:
    at.selectbox(key="model_pick").set_value(shipped.name).run()
    check(at, "model " + shipped.name)
at.selectbox(key="model_pick").set_value("session").run()
check(at, "model, session")
at.switch_page("ui/compare_page.py").run()
check(at, "compare")
at.button(key="compare_eval_gan").click().run()
check(at, "compare, measured")
report["measured"] = sorted(at.session_state["compare_live_reports"])
report["models"] = [s.name for s in present]
report["tensorflow"] = sorted(name for name in sys.modules
                              if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
run.discard()
print("REPORT " + json.dumps(report))
"""


def test_no_page_loads_tensorflow_into_the_page_process(tmp_path):
    """Every page, every explore tab (instant mode too), a run trained and stepped: TensorFlow stays in the
    workers. A fresh interpreter, so imports made by the other tests in this process cannot hide a leak."""
    script = tmp_path / "every_page.py"
    script.write_text(textwrap.dedent(NO_TENSORFLOW_SCRIPT.format(root=str(ROOT), app=str(ROOT / "main.py"),
                                                                  component=INSTANT_COMPONENT)))
    env = {name: value for name, value in os.environ.items() if name != "GAN_LAB_PRETRAINED"}
    result = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=480)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stderr[-4000:]
    report = json.loads(lines[-1][len("REPORT "):])
    assert report["exceptions"] == [], report["exceptions"]
    assert report["trained"] and report["steps_metric"] and report["steps_metric"][0] != "0"
    assert report["instant"] == 1 and "gan" in report["models"] and report["measured"] == ["gan"]
    views = {view for _, view in report["views"]}
    assert {"Latent sliders", "Interpolate", "Arithmetic", "Between classes", "Latent map",
            "Encode and decode"} <= views, report["views"]
    assert ["session", "Latent sliders"] in report["views"]  # this session's model, copied from the run
    assert report["tensorflow"] == [], report["tensorflow"]


def test_reset_of_a_long_run_asks_first_and_restore_defaults_restores(lab, monkeypatch):
    from ui import state

    monkeypatch.setattr(state, "CONFIRM_RESET_STEPS", 10)  # "long" for a test: one chunk
    at = lab
    at.number_input(key="train_seed").set_value(41).run()
    at.button(key="train_restore_defaults").click().run()
    assert at.number_input(key="train_seed").value == TINY.seed
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.wait_for_step(10, timeout=START_S) and _idle(run)
    at.run()
    at.button(key="train_reset").click().run()
    assert _run(at) is run and any("Reset this model at step" in w.value for w in at.warning)  # asked, not done
    at.button(key="train_reset_cancel").click().run()
    assert _run(at) is run and not any("Reset this model" in w.value for w in at.warning)
    at.button(key="train_reset").click().run()
    at.button(key="train_reset_confirm").click().run()
    assert _run(at) is None and not at.exception


def _live_places(at) -> dict[str, tuple]:
    """Where each live component of the Train page sits: its indices from the page's root, by panel part or chart."""
    places = {}

    def walk(node, place):
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for index, child in children.items():
                walk(child, (*place, index))
        elif getattr(node, "type", None) == "bidi_component":
            data = json.loads(node.proto.json)
            places[data.get("part") or data.get("key") or node.proto.component_name] = place

    walk(at._tree, ())
    return places


def test_an_alert_coming_moves_no_live_component_below_it(lab, monkeypatch):
    """The browser matches a rerun's elements to the drawn ones by place: an alert drawn in the fragment's own block
    shifted every panel and chart below it, and each reloaded its component with another's arguments (losing what
    the feed had appended). The alerts have a slot of their own, so the places below stay put."""
    from gan_core.alerts import Alert
    from ui import live_views

    alerts = []
    monkeypatch.setattr(live_views, "check_alerts", lambda *args: list(alerts))
    at = lab
    at.button(key="train_step").click().run()
    run = _run(at)
    assert run.wait_for_step(1, timeout=START_S) and _idle(run)
    at.run()
    before = _live_places(at)
    assert {"numbers", "grid"} <= set(before), before
    alerts[:] = [Alert("mode_collapse", "warning", "Mode collapse", "G draws 3 of 10 classes."),
                 Alert("divergence", "error", "Training diverged", "Lower the learning rates.")]
    at.run()
    assert any("Mode collapse" in w.value for w in at.warning) and any("diverged" in e.value for e in at.error)
    assert _live_places(at) == before
