"""The Train page's data in and results out, in AppTest against real engine workers with tiny networks.

Your own images (a zip with good pictures and hostile entries: preview, count, each refusal, then training on
exactly those arrays), the data-root folder list that replaced the typed path, downloads (the bundle loads back
with the run's weights), continuing from a bundle at its step, the training timeline (the slider changes the
picture) and "Explore this moment" (Explore opens with that step's weights). Offline; every run is discarded.
"""

from __future__ import annotations

import csv
import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from gan_core import uploads
from gan_core.bundle import load_bundle_bytes
from gan_core.checkpoints import save_weights_folder
from gan_core.config import GANConfig
from gan_core.models import build_model
from process_support import wait_for as _wait

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60
START_S = 180  # a worker's first steps: a fresh process imports TensorFlow, on a loaded machine
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
GOOD_PICTURES = 70


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained") / "gan"
    return save_weights_folder(folder, build_model(TINY), TINY, {"step": 500})


@pytest.fixture(scope="module", autouse=True)
def fresh_caches():
    import streamlit as st

    st.cache_resource.clear()
    yield
    st.cache_resource.clear()  # releases this file's engine, which ends its workers


@pytest.fixture
def lab(monkeypatch, tiny_weights, tmp_path):
    from ui import state

    monkeypatch.setattr(state, "BASE_CONFIG", TINY)
    monkeypatch.setattr(state, "CHUNK_STEPS", 10)
    monkeypatch.setattr(state, "PRETRAINED_DIR", tiny_weights)
    monkeypatch.setattr(state, "DIRECTION_SAMPLES", 500)
    monkeypatch.setattr(state, "JUDGE_DIR", tmp_path / "no-judge")  # live quality off: nothing to wait for
    monkeypatch.delenv("GAN_LAB_DATA_ROOT", raising=False)
    at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, at.exception
    yield at
    run = _run(at)
    if run is not None:
        run.discard()


def _run(at):
    return at.session_state["lab_run"] if "lab_run" in at.session_state else None


def _idle(run, timeout=60.0) -> bool:
    return _wait(lambda: not run.poll().busy, timeout)


def _texts(at) -> str:
    return "\n".join(str(e.value) for kind in ("text", "info", "error", "warning", "success", "caption", "markdown")
                     for e in at.get(kind))


def _images(at) -> list:
    return [element.proto for element in at.get("image")]


def _image_with_caption(at, caption: str) -> str | None:
    """The media URL of the picture whose caption contains `caption` (the URL changes with the pixels)."""
    for element in at.get("image"):
        for image in element.proto.imgs:
            if caption in image.caption:
                return image.url
    return None


def _digit_png(rng: np.random.Generator) -> bytes:
    """A dark stroke on a light page, the way people photograph digits."""
    picture = Image.new("L", (60, 80), 255)
    draw = ImageDraw.Draw(picture)
    x0, y0 = rng.integers(10, 20), rng.integers(10, 25)
    draw.line([(x0, y0), (x0 + 25, y0 + 10), (x0 + 10, y0 + 45)], fill=0, width=7)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _upload_zip(labelled: bool = False) -> bytes:
    rng = np.random.default_rng(0)
    entries = {(f"{i % 10}/digit{i}.png" if labelled else f"digits/digit{i}.png"): _digit_png(rng)
               for i in range(GOOD_PICTURES)}
    entries.update({"../escape.png": _digit_png(rng), "notes.txt": b"hello", "broken.png": b"\x89PNG\r\n\x1a\nnope",
                    "**bold**.exe": b"MZ\x90\x00"})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _choose_upload(at, data: bytes, name: str = "my digits.zip"):
    at.selectbox(key="train_dataset").set_value("upload").run()
    at.file_uploader(key="train_upload_files").set_value([(name, data, "application/zip")]).run()
    assert not at.exception, at.exception
    return at


# ---- your own images ----------------------------------------------------------------------------
def test_an_uploaded_zip_is_previewed_with_its_refusals_then_trained_on(lab, monkeypatch):
    at = lab
    conversions = []
    real_convert = uploads.convert_uploads
    monkeypatch.setattr(uploads, "convert_uploads", lambda *a, **k: conversions.append(1) or real_convert(*a, **k))
    _choose_upload(at, _upload_zip())
    text = _texts(at)
    assert f"{GOOD_PICTURES} images used" in text and f"{GOOD_PICTURES} images** ready" in text
    for refused in ("../escape.png", "notes.txt", "broken.png", "**bold**.exe"):
        assert any(refused in str(t.value) for t in at.text), refused  # named, as plain text
    assert _image_with_caption(at, f"of {GOOD_PICTURES} digits, as training will see them")
    at.run()
    at.run()
    assert len(conversions) == 1  # cached by content: reruns never convert again

    at.button(key="train_step").click().run()
    run = _run(at)
    assert run is not None and run.config.dataset.startswith("upload:")
    assert run.dataset[0].shape == (GOOD_PICTURES, 28, 28) and run.dataset[0].dtype == np.uint8
    # Exactly the digits the preview showed, in order: the same zip converted on its own gives the same pixels.
    expected = real_convert([("my digits.zip", _upload_zip())]).pixels
    np.testing.assert_array_equal(run.dataset[0], expected)
    assert run.dataset[0].std() > 0  # real digits, not an empty stand-in of the right shape
    assert run.wait_for_step(10, timeout=START_S), run.poll().message
    assert _idle(run)
    assert run.poll().step == 10 and run.poll().status == "paused"
    assert not any("upload" in note and "unknown dataset" in note for note in run.notes)


def test_the_conditional_gan_needs_labels_and_says_so(lab):
    at = lab
    at.selectbox(key="train_model").set_value("cgan").run()
    _choose_upload(at, _upload_zip(labelled=False))
    assert any("conditional GAN needs a label" in e.value for e in at.sidebar.error)
    assert at.button(key="train_start").disabled
    _choose_upload(at, _upload_zip(labelled=True), name="labelled.zip")
    assert not any("conditional GAN needs a label" in e.value for e in at.sidebar.error)
    assert not at.button(key="train_start").disabled


def test_server_folders_are_offered_only_from_the_data_root_never_typed(lab, monkeypatch, tmp_path):
    from ui import state

    at = lab
    assert "server-folder" not in at.selectbox(key="train_dataset").options
    assert not [t for t in at.text_input if t.key == "train_idx_path"]
    root = tmp_path / "data"
    (root / "digits").mkdir(parents=True)
    (root / "empty").mkdir()
    pixels = np.zeros((64, 28, 28), np.uint8)
    (root / "digits" / "train-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, 64, 28, 28) + pixels.tobytes())
    monkeypatch.setenv("GAN_LAB_DATA_ROOT", str(root))
    at.run()
    at.selectbox(key="train_dataset").set_value("server-folder").run()
    folder = at.selectbox(key="train_server_folder")
    assert list(folder.options) == ["digits"]
    asked = []

    def new_run(config, *args, **kwargs):  # what Start asks the engine for, without starting a worker
        asked.append(config)
        raise state.EngineError("not in this test")

    monkeypatch.setattr(state, "new_run", new_run)
    at.button(key="train_start").click().run()
    assert [config.dataset for config in asked] == ["data:digits"]  # the worker finds the folder by name
    assert str(root) not in _texts(at)


# ---- results out, a bundle in, the timeline ------------------------------------------------------
def test_downloads_timeline_explore_this_moment_and_continuing_from_the_bundle(lab):
    at = lab
    at.button(key="train_start").click().run()
    run = _run(at)
    assert run.wait_for_step(30, timeout=START_S), run.poll().message
    # The worker sends a timeline frame at most at the page's redraw rate (chunks are timed, not counted).
    assert _wait(lambda: len(run.poll().timeline_steps) >= 3, START_S), run.poll().timeline_steps
    at.button(key="train_pause").click().run()
    assert _idle(run)
    at.run()
    view = run.poll()
    steps = list(view.timeline_steps)
    assert len(steps) >= 3 and steps[-1] == view.step

    # The slider scrubs: another step, another picture, with no request to the worker.
    slider = at.select_slider(key="train_timeline_step")
    # AppTest reports the options as the page formats them (thousands separated: a run may pass step 1,000).
    assert list(slider.options) == [f"{s:,}" if isinstance(slider.options[0], str) else s for s in steps]
    assert _image_with_caption(at, "Timeline at step") is None  # the newest grid is the live grid: drawn once
    slider.set_value(steps[1]).run()
    newer = _image_with_caption(at, f"Timeline at step {steps[1]:,}:")
    slider.set_value(steps[0]).run()
    oldest = _image_with_caption(at, f"Timeline at step {steps[0]:,}:")
    assert newer and oldest and newer != oldest
    assert not np.array_equal(view.timeline_frame(steps[0]), view.timeline_frame(steps[-1]))

    # Downloads are built only when asked for.
    assert "train_downloads" not in at.session_state
    at.button(key="train_prepare_downloads").click().run()
    prepared = at.session_state["train_downloads"]
    files = prepared["files"]
    assert files["png"].startswith(b"\x89PNG") and files["gif"].startswith(b"GIF8")
    rows = list(csv.reader(io.StringIO(files["csv"].decode())))
    assert rows[0][0] == "step" and [int(r[0]) for r in rows[1:]] == [int(s) for s in run.poll().history["step"]]
    config, weights, bundle_state, history = load_bundle_bytes(files["zip"])
    copy = run.weights()
    assert bundle_state["step"] == copy["step"] == prepared["step"]
    assert set(weights) == set(copy["weights"])
    for stem, arrays in copy["weights"].items():
        assert all(np.array_equal(a, b) for a, b in zip(arrays, weights[stem])), stem
    assert {b.key for b in at.get("download_button")} >= {"train_download_png", "train_download_gif",
                                                          "train_download_csv", "train_download_zip"}

    # Explore this moment: the Explore page opens with the weights kept nearest to the chosen step.
    at.select_slider(key="train_timeline_step").set_value(steps[0]).run()
    kept = min(view.timeline_weight_steps, key=lambda s: (abs(s - steps[0]), s))
    at.button(key="train_timeline_explore").click().run()
    assert not at.exception, at.exception
    model = at.session_state["explore_session_model"]
    assert model.key == f"session:{run.run_id}:timeline:{kept}"
    assert at.radio(key="explore_source").value == "This session's model"
    moment = run.timeline_weights(steps[0])
    sampler = "generator_ema" if "generator_ema" in moment["weights"] else "generator"
    assert all(np.array_equal(a, b) for a, b in zip(model.model.numpy_model.networks[sampler].arrays,
                                                   moment["weights"][sampler]))
    assert not all(np.array_equal(a, b) for a, b in zip(moment["weights"][sampler], copy["weights"][sampler]))

    # Continue from the downloaded bundle: a new run starts at its step, with its curves.
    at.switch_page("ui/train_page.py").run()
    at.button(key="train_reset").click().run()
    at.file_uploader(key="train_bundle_file").set_value(("broken.zip", b"PK\x03\x04 not a zip", "application/zip"))
    at.run()
    assert any("broken.zip" in str(t.value) for t in at.text) and at.button(key="train_start").disabled
    at.file_uploader(key="train_bundle_file").set_value(("my model.zip", files["zip"], "application/zip")).run()
    assert not at.exception, at.exception
    assert any(f"at step {prepared['step']:,}" in s.value for s in at.success)
    at.button(key="train_step").click().run()
    continued = _run(at)
    assert continued is not run and continued.initial["step"] == prepared["step"]
    assert continued.wait_for_step(prepared["step"] + 10, timeout=START_S), continued.poll().message
    assert _idle(continued)
    view = continued.poll()
    assert view.step == prepared["step"] + 10
    continued_steps = [int(s) for s in view.history["step"]]
    old_steps = [int(r[0]) for r in rows[1:]]
    assert continued_steps[:len(old_steps)] == old_steps and continued_steps[-1] == prepared["step"] + 10
    assert any(f"bundle's weights at step {prepared['step']:,}" in note for note in continued.notes)


# ---- no server path on the page -----------------------------------------------------------------
def _all_page_text(at) -> str:
    """Every string the page sends the browser: each element's whole message (labels, values, options, help)."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def _bundle_trained_on(tiny_weights: Path, dataset: str) -> bytes:
    """The tiny model as a bundle whose recipe says it was trained on `dataset` (checksums right)."""
    from gan_core import bundle

    archive = zipfile.ZipFile(io.BytesIO(bundle.bundle_bytes_from_arrays(
        TINY, {"generator": build_model(TINY).generator.get_weights()}, {"step": 7}, None, None)))
    files = {name: archive.read(name) for name in archive.namelist() if name != bundle.MANIFEST}
    layout = __import__("json").loads(archive.read(bundle.MANIFEST))["networks"]
    files[bundle.CONFIG] = TINY.replace(dataset=dataset).to_json().encode()
    return bundle.pack_bundle(files, layout, {"app": "gan-lab"})


def test_no_server_path_reaches_the_page_and_a_broken_folder_says_what_is_wrong(lab, monkeypatch, tmp_path,
                                                                                tiny_weights):
    at = lab
    root = tmp_path / "secret-server-root"
    (root / "digits").mkdir(parents=True)
    (root / "broken").mkdir()
    header = struct.pack(">IIII", 2051, 64, 28, 28)
    (root / "digits" / "train-images-idx3-ubyte").write_bytes(header + bytes(64 * 784))
    (root / "broken" / "train-images-idx3-ubyte").write_bytes(header + bytes(100))  # truncated
    monkeypatch.setenv("GAN_LAB_DATA_ROOT", str(root))
    import streamlit as st

    st.cache_resource.clear()  # a new engine: its workers find data:NAME under the root, as a server's would
    secret = str(tmp_path)
    at.run()

    # A data folder, chosen and started: broken, it says what is wrong, by the folder's name only.
    at.selectbox(key="train_dataset").set_value("server-folder").run()
    at.selectbox(key="train_server_folder").set_value("broken").run()
    at.button(key="train_start").click().run()
    run = _run(at)
    assert run is not None and run.config.dataset == "data:broken"
    assert _wait(lambda: "truncated" in (run.poll().message or ""), START_S), run.poll().message
    at.run()
    text = _all_page_text(at)
    assert "data:broken/train-images-idx3-ubyte" in text and "truncated or corrupt" in text
    assert secret not in text
    at.button(key="train_reset").click().run()

    # An upload, and a bundle whose recipe was trained on a folder of its maker's machine.
    _choose_upload(at, _upload_zip())
    at.file_uploader(key="train_bundle_file").set_value(
        ("model.zip", _bundle_trained_on(tiny_weights, "idx:/home/maker/private/mnist"), "application/zip")).run()
    assert not at.exception, at.exception
    text = _all_page_text(at)
    assert "trained on: idx:mnist" in text and "/home/maker" not in text
    assert f"{GOOD_PICTURES} images" in text and secret not in text
    for page in ("ui/explore_page.py", "ui/model_page.py", "ui/compare_page.py", "ui/train_page.py"):
        at.switch_page(page).run()
        assert secret not in _all_page_text(at), page


def test_an_exported_bundle_names_its_dataset_without_the_folders(tmp_path):
    from gan_core import bundle

    folder = save_weights_folder(tmp_path / "w", build_model(TINY), TINY.replace(dataset="idx:/srv/secret/mnist+mnist"),
                                 {"step": 1})
    bundle.export_bundle(folder, tmp_path / "b.zip")
    with zipfile.ZipFile(tmp_path / "b.zip") as archive:
        config = archive.read("config.json").decode()
    assert '"idx:mnist+mnist"' in config and "/srv/secret" not in config


def test_the_history_download_is_the_run_folders_csv_with_the_step_first(tmp_path):
    from gan_core import checkpoints
    from ui.train_extras import history_csv

    history = {"d_loss": np.array([0.12345678912345, np.nan]), "step": np.array([5.0, 1_000_005.0])}
    text = history_csv(history).decode()
    assert text.splitlines() == ["step,d_loss", "5,0.12345678912345", "1000005,nan"]  # exact, never rounded
    checkpoints.write_history_csv(tmp_path / "history.csv", {"step": history["step"], "d_loss": history["d_loss"]})
    assert (tmp_path / "history.csv").read_text() == text  # the CLI's file and the download: one writer
    back = checkpoints.read_history_csv(tmp_path / "history.csv")
    assert list(back) == ["step", "d_loss"] and np.array_equal(back["step"], history["step"])
    assert np.array_equal(back["d_loss"], history["d_loss"], equal_nan=True)
