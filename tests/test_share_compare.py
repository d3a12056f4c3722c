"""Share links and downloads on the Explore page; this session's runs on the Compare page.

Link parsing and the run archive are plain functions, tested directly. The pages are tested with AppTest on
tiny weights: a link read from one session reopens the very same digit (same z, same PNG bytes) in a fresh
one; hostile links cost a caption, never an exception; the downloads' bytes are read back from the media
store (`MemoryMediaFileStorage` patched to one shared store) and parsed. Compare draws from RunViews built
here, plus one real train -> Reset -> train -> Reset path through the engine.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from gan_core import explore_link, run_archive
from gan_core.checkpoints import save_weights_folder
from gan_core.config import GANConfig
from gan_core.messages import RunView
from latent_sliders_support import digit_src, move_slider, slider_ids, slider_value

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60
START_S = 180  # a worker's first steps: a fresh process imports TensorFlow, on a loaded machine
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
EXPLORE_PAGE = "ui/explore_page.py"
TRAIN_PAGE = "ui/train_page.py"
COMPARE_PAGE = "ui/compare_page.py"
MODELS = ["gan", "cgan", "wgan_gp", "dcgan", "vae", "vae2d", "ae", "session"]
VIEWS = ["sliders", "classes", "map", "encode", "interpolate", "arithmetic"]


def _dims_picker(at):
    """The Explore page's "Dimensions of z" picker (its key gets a new generation after a view or model change)."""
    return next(widget for widget in at.multiselect if widget.key.startswith("explore_dims_picker"))


# ---- links, without Streamlit -------------------------------------------------------------------------------
def test_z_moves_round_trip_and_canonical_z_is_what_the_link_brings_back():
    base = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    z = base.copy()
    z[3], z[17], z[42] = 2.5, -0.4, base[42] + 0.123456
    text = explore_link.encode_z(z, base)
    assert text.startswith("3_2.5~17_-0.4~42_") and text.count("~") == 2
    moves = explore_link.parse_z_moves(text)
    again, outside = explore_link.apply_z_moves(base, moves)
    assert outside == [] and np.array_equal(again, explore_link.canonical_z(z, base))
    assert np.array_equal(explore_link.canonical_z(again, base), again)  # idempotent: a link of a link is the link
    assert np.max(np.abs(again - z)) <= 0.0005 + 1e-6
    assert explore_link.encode_z(base, base) == "" and explore_link.parse_z_moves("") == {}


@pytest.mark.parametrize("params, ignored", [
    ({"seed": "abc"}, "`seed`"), ({"seed": "-1"}, "`seed`"), ({"seed": "99999999999999"}, "`seed`"),
    ({"seed": "--5"}, "`seed`"), ({"seed": "٣"}, "`seed`"), ({"z": "3_nan"}, "`z`"), ({"z": "3_inf"}, "`z`"),
    ({"z": "3_1e308"}, "`z`"), ({"z": "x_1"}, "`z`"), ({"z": "3"}, "`z`"), ({"z": "1_" + "9" * 30}, "`z`"),
    ({"z": "1_1~" * 5000}, "`z`"), ({"model": "<script>alert(1)</script>"}, "`model`"),
    ({"model": "../../etc"}, "`model`"), ({"view": "x" * 10**6}, "`view`"), ({"mode": "fast"}, "`mode`"),
    ({"label": "10"}, "`label`"), ({"label": "1.5"}, "`label`"),
])
def test_hostile_values_are_dropped_and_named_never_echoed(params, ignored):
    request = explore_link.parse_params(params, MODELS, VIEWS)
    assert request.empty and len(request.ignored) == 1 and request.ignored[0].startswith(ignored)
    value = next(iter(params.values()))
    assert value not in request.ignored[0] or len(value) < 3


def test_a_good_link_parses_and_unknown_parameters_are_left_alone():
    request = explore_link.parse_params({"model": "cgan", "seed": "42", "z": "0_1.5~7_-2", "view": "interpolate",
                                  "mode": "instant", "label": "7", "utm_source": "x"}, MODELS, VIEWS)
    assert (request.model, request.seed, request.z_moves, request.view, request.mode, request.label) == (
        "cgan", 42, {0: 1.5, 7: -2.0}, "interpolate", "Instant (in-browser)", 7)
    assert request.ignored == []


def test_z_downloads_are_valid_json_and_npy():
    z = np.linspace(-1, 1, 12).astype(np.float32)
    record = json.loads(explore_link.z_json_bytes(z, "gan", 5, label=None))
    assert record["model"] == "gan" and record["seed"] == 5 and np.array_equal(np.float32(record["z"]), z)
    assert np.array_equal(np.load(io.BytesIO(explore_link.z_npy_bytes(z)), allow_pickle=False), z)


# ---- the run archive, without Streamlit ----------------------------------------------------------------------
def _view(step: int, d_loss: float, fid: float | None = None, points: int = 20, samples: int = 16,
          evaluations: int = 2) -> RunView:
    view = RunView()
    view.step, view.samples_step = step, step
    steps = np.linspace(0, step, points)
    view.history = {"step": steps, "d_loss": np.full(points, d_loss), "g_loss": np.full(points, 1.0 / d_loss)}
    if fid is not None:
        view.quality = {"step": np.linspace(step / evaluations, step, evaluations),
                        "fid": np.linspace(2 * fid, fid, evaluations)}
    view.samples = np.random.default_rng(step).random((samples, 28, 28)).astype(np.float32)
    return view


def test_archive_is_bounded_plain_and_thinned():
    runs = []
    for number in range(1, 7):
        runs = run_archive.keep(runs, run_archive.archive_view(_view(100 * number, 1.0 + number, points=3000),
                                                               TINY, f"Run {number}"))
    assert [run.name for run in runs] == ["Run 3", "Run 4", "Run 5", "Run 6"]
    assert all(len(run.history["step"]) == run_archive.ARCHIVE_POINTS for run in runs)
    assert runs[-1].history["step"][-1] == 600 and runs[-1].samples.dtype == np.uint8
    assert run_archive.archive_view(RunView(), TINY, "never trained") is None
    view = _view(50, 1.0)
    archived = run_archive.archive_view(view, TINY, "Run 1")
    view.history["d_loss"][:] = 99  # a private copy: the page's view going on does not change the archive
    assert archived.history["d_loss"][0] == 1.0
    rows, differing = run_archive.recipe_rows([archived, run_archive.archive_view(
        _view(50, 1.0), TINY.replace(r1_gamma=0.0), "Run 2")])
    assert differing == ["r1_gamma"] and rows[1]["r1_gamma"] == 0.0


# ---- the pages ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    from gan_core.models import build_model

    folder = tmp_path_factory.mktemp("pretrained") / "gan"
    config = TINY.replace(latent_dim=12)
    return save_weights_folder(folder, build_model(config), config, {"step": 500})


@pytest.fixture(scope="module", autouse=True)
def fresh_caches():
    import streamlit as st

    st.cache_resource.clear()
    yield
    st.cache_resource.clear()  # releases the engine, which ends its workers


@pytest.fixture
def media(monkeypatch):
    """One media store for every run, so a test can read back the bytes a page served."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test

    store = MemoryMediaFileStorage("/mock/media")
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", lambda endpoint: store)
    return store


@pytest.fixture
def patched(monkeypatch, tiny_weights):
    from ui import state

    monkeypatch.setattr(state, "BASE_CONFIG", TINY)
    monkeypatch.setattr(state, "CHUNK_STEPS", 10)
    monkeypatch.setattr(state, "PRETRAINED_DIR", tiny_weights)
    monkeypatch.setattr(state, "DIRECTION_SAMPLES", 300)
    monkeypatch.setattr(state, "QUALITY_SAMPLES", 200)
    opened = []
    yield opened
    for at in opened:
        run = at.session_state["lab_run"] if "lab_run" in at.session_state else None
        if run is not None:
            run.discard()


def _open(opened: list, page: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=TIMEOUT_S)
    at.query_params.update(query or {})
    at.run()  # the default page first, as a browser would
    at.switch_page(page).run()
    assert not at.exception, at.exception
    opened.append(at)
    return at


def _digit_url(at) -> str:
    return digit_src(at)


def _captions(at) -> str:
    return " ".join(caption.value for caption in at.caption)


def test_a_link_reopens_the_same_digit_in_a_fresh_session(patched):
    at = _open(patched, EXPLORE_PAGE)
    at.number_input(key="explore_seed").set_value(5).run()
    move_slider(at, "z_2", 2.5)
    move_slider(at, "pc_0", -1.5)  # moves every value of z a little
    assert not at.exception
    link = dict(at.query_params)
    assert link["model"] == "gan" and link["seed"] == "5" and link["z"].startswith("0_") and "2_" in link["z"]
    assert len(link["z"]) < 12 * 12 and "view" not in link and "mode" not in link
    assert not at.code and not at.get("download_button")  # closed, "Link and downloads" draws nothing
    at.session_state["explore_share"] = True  # the user opens it
    at.run()
    assert "model=gan" in at.code[0].value and "seed=5" in at.code[0].value  # the link to copy
    assert dict(at.query_params) == link
    z, digit = at.session_state["explore_z"].copy(), _digit_url(at)

    fresh = _open(patched, EXPLORE_PAGE, link)
    assert np.array_equal(fresh.session_state["explore_z"], z) and _digit_url(fresh) == digit
    assert fresh.number_input(key="explore_seed").value == 5 and 2 in _dims_picker(fresh).value
    assert slider_value(fresh, "z_2") == pytest.approx(float(z[2]), abs=0.025 + 1e-6)  # sliders mirror z
    assert dict(fresh.query_params) == link and "Ignored" not in _captions(fresh)
    move_slider(fresh, "z_2", 0.0)  # the session goes on from the link, and the URL with it
    assert "2_0~" in fresh.query_params["z"] or fresh.query_params["z"].endswith("2_0")
    assert np.array_equal(fresh.session_state["explore_z"][[0, 1]], z[[0, 1]])


def test_the_view_rendering_and_label_travel_in_the_link(patched):
    at = _open(patched, EXPLORE_PAGE)
    at.segmented_control(key="explore_view").set_value("Arithmetic").run()
    assert at.query_params["view"] == "arithmetic" and at.get("selectbox")  # only the chosen view is drawn
    assert slider_ids(at) == []
    fresh = _open(patched, EXPLORE_PAGE, {"seed": "9", "view": "interpolate", "mode": "instant"})
    assert fresh.segmented_control(key="explore_view").value == "Interpolate"
    assert fresh.session_state["explore_mode"] == "Instant (in-browser)"
    assert fresh.query_params["view"] == "interpolate" and fresh.query_params["seed"] == "9"
    conditional = _open(patched, EXPLORE_PAGE, {"model": "cgan", "label": "7", "view": "classes"})  # shipped cGAN
    assert conditional.radio(key="explore_label").value == 7 and conditional.query_params["label"] == "7"
    assert conditional.segmented_control(key="explore_view").value == "Between classes"
    conditional.radio(key="explore_label").set_value(2).run()
    assert conditional.query_params["label"] == "2" and not conditional.exception


def test_hostile_links_cost_a_caption_never_an_exception(patched):
    hostile = {"model": "<img src=x onerror=alert(1)>", "seed": "1e9999", "z": "3_" + "9" * 20000,
               "view": "../../secret", "mode": "turbo", "label": "-1",
               "drawn": "." + "A" * 9000}
    at = _open(patched, EXPLORE_PAGE, hostile)
    notes = _captions(at)
    assert "Ignored from the link" in notes and "onerror" not in notes and "secret" not in notes
    for name in ("model", "seed", "z", "view", "mode", "label", "drawn"):
        assert f"`{name}`" in notes
    assert at.number_input(key="explore_seed").value == 0 and at.selectbox(key="explore_model").value == "gan"
    assert at.query_params["seed"] == "0" and "z" not in at.query_params  # the URL now says what is on screen
    assert "drawn" not in at.query_params and "explore_drawing" not in at.session_state
    partly = _open(patched, EXPLORE_PAGE, {"seed": "7", "z": "1_0.5~500_1"})  # 500: the model's z has 12
    assert partly.number_input(key="explore_seed").value == 7
    assert partly.session_state["explore_z"][1] == np.float32(0.5)
    assert "1 dimension(s) this model does not have" in _captions(partly)
    assert partly.query_params["z"] == "1_0.5"


def _download(at, media, key: str) -> bytes:
    url = str(at.get("download_button")[[b.key for b in at.get("download_button")].index(key)].proto.url)
    return media.get_file(url.rsplit("/", 1)[-1]).content


def test_downloads_are_the_digit_on_screen_and_its_z(patched, media):
    at = _open(patched, EXPLORE_PAGE, {"seed": "3", "z": "4_-1.25"})
    at.session_state["explore_share"] = True  # "Link and downloads" opened
    at.run()
    png = Image.open(io.BytesIO(_download(at, media, "explore_download_png")))
    assert png.format == "PNG" and png.size == (280, 280)
    url = _digit_url(at)
    assert url.startswith("data:image/png;base64,")  # the digit travels inside the message (no second request)
    shown = base64.b64decode(url.split(",", 1)[1])
    assert _download(at, media, "explore_download_png") == shown
    record = json.loads(_download(at, media, "explore_download_json"))
    assert record["seed"] == 3 and record["model"] == "gan" and record["z"][4] == pytest.approx(-1.25)
    z = np.load(io.BytesIO(_download(at, media, "explore_download_npy")), allow_pickle=False)
    assert z.dtype == np.float32 and np.array_equal(z, at.session_state["explore_z"])
    at.segmented_control(key="explore_view").set_value("Interpolate").run()
    gif = Image.open(io.BytesIO(_download(at, media, "explore_interp_gif")))
    assert gif.format == "GIF" and gif.n_frames >= 8


def _browser_entry(at):
    """The browser's entry in the server's registry (ui/state.py): its run and "Your runs"."""
    from ui import state

    secret = at.session_state[state.BROWSER_SECRET_KEY]
    return state.browsers(float(state.BROWSER_GRACE_S)).join(secret, at.session_state[state.SESSION_ID_KEY])


def test_compare_overlays_two_archived_runs_with_their_recipes(patched):
    at = _open(patched, COMPARE_PAGE)
    assert any("train a model, press **Reset**" in info.value for info in at.info)  # fewer than 2: how to get them
    runs = [run_archive.archive_view(_view(200, 1.3, fid=40.0), TINY, "Run 1"),
            run_archive.archive_view(_view(300, 0.9, fid=25.0), TINY.replace(r1_gamma=0.0), "Run 2")]
    _browser_entry(at).archive = runs
    at.run()
    assert not at.exception
    specs = [str(chart.proto) for chart in at.get("vega_lite_chart")]
    overlays = [spec for spec in specs if "Run 1" in spec and "Run 2" in spec]
    assert len(overlays) == 3  # D loss, G loss, FID: one chart per metric, a colour per run
    assert any("FID" in spec for spec in overlays)
    assert any("Run 2: gan, step 300" in str(image.proto) for image in at.get("image"))
    assert any("`r1_gamma`" in markdown.value for markdown in at.markdown)
    at.button(key="compare_forget_runs").click().run()
    assert _browser_entry(at).archive == [] and not at.exception


def test_a_single_live_evaluation_per_run_is_drawn_as_a_point(patched):
    at = _open(patched, COMPARE_PAGE)
    _browser_entry(at).archive = [
        run_archive.archive_view(_view(3000, 1.3, fid=40.0, evaluations=1), TINY, "Run 1"),
        run_archive.archive_view(_view(3100, 0.9, fid=25.0, evaluations=1), TINY, "Run 2")]
    at.run()
    assert not at.exception
    fid = [spec for spec in (str(chart.proto) for chart in at.get("vega_lite_chart"))
           if "Run 1" in spec and "FID" in spec]
    assert fid and all('\\"point\\": true' in spec or '"point": true' in spec or 'point\\":true' in spec
                       for spec in fid), fid[0][:600]


def test_train_reset_train_reset_lands_two_runs_on_compare(patched):
    at = _open(patched, TRAIN_PAGE)
    for number in (1, 2):
        at.button(key="train_step").click().run()
        run = at.session_state["lab_run"]
        assert run.wait_for_step(10, timeout=START_S)
        assert _wait_idle(run)
        at.button(key="train_reset").click().run()
        assert not at.exception and "lab_run" not in at.session_state
        assert [r.name for r in _browser_entry(at).archive][-1] == f"Run {number}"
    at.switch_page(COMPARE_PAGE).run()
    assert not at.exception
    archived = _browser_entry(at).archive
    assert [r.step for r in archived] == [10, 10] and all(r.samples is not None for r in archived)
    assert [spec for spec in (str(c.proto) for c in at.get("vega_lite_chart")) if "Run 1" in spec and "Run 2" in spec]


def _wait_idle(run, timeout: float = 60.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not run.poll().busy:
            return True
        time.sleep(0.05)
    return False
