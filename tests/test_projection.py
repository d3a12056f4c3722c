"""Projection of digits to latents: GANs by optimisation, autoencoders by their encoder, the cGAN's label too.

Uses the shipped weights in pretrained/ (part of the repository, so no network and no ../shared) because a
projection only means something on a generator that draws digits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gan_core import checkpoints, projection
from gan_core.__main__ import labels_path, main
from gan_core.classifier import DigitJudge
from gan_core.latent import sample_z

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "pretrained"


@pytest.fixture(scope="module")
def judge():
    return DigitJudge.load(PRETRAINED / "classifier")


def _model(name: str):
    return checkpoints.load_model(PRETRAINED / name, need_discriminator=False)[0]


def test_a_digit_generated_from_a_known_z_is_found_again(judge):
    gan = _model("gan")
    targets = gan.generate(sample_z(2, gan.latent_dim, seed=11))
    settings = projection.ProjectionSettings(steps=150, restarts=2, seed=1)
    progress = []
    found = projection.project(gan, targets, judge, settings, chunk=50,
                               on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(50, 150), (100, 150), (150, 150)]
    assert found.z.shape == (2, gan.latent_dim) and found.labels is None
    np.testing.assert_allclose(found.images, gan.generate(found.z), atol=1e-5)  # the pictures are G(z)
    # Close to the target, and far closer than where the search started (a random z's picture).
    start_error = np.abs(gan.generate(sample_z(2, gan.latent_dim, seed=1)) - targets).mean()
    assert found.pixel_error.max() < 0.03 < start_error
    assert (judge.predict_labels(found.images) == judge.predict_labels(targets)).all()
    assert abs(float((found.z ** 2).mean()) - 1.0) < 0.3  # the prior kept z where N(0, I) lives


def test_the_vae_projects_with_its_encoder():
    vae = _model("vae")
    digits = vae.generate(sample_z(3, vae.latent_dim, seed=2))
    found = projection.project(vae, digits)  # no classifier needed: no optimisation
    np.testing.assert_allclose(found.z, vae.encode(digits), atol=1e-6)
    np.testing.assert_allclose(found.images, vae.generate(found.z), atol=1e-6)
    np.testing.assert_allclose(found.pixel_error, np.abs(found.images - digits).mean(axis=(1, 2)), atol=1e-6)
    report = projection.project_chunk(vae, digits, judge=None)
    assert report["done"] and report["state"] is None and report["steps"] == 0


def test_the_conditional_gan_finds_the_label_and_z(judge):
    cgan = _model("cgan")
    wanted = np.array([3, 8])
    targets = cgan.generate(sample_z(2, cgan.latent_dim, seed=4), wanted)
    settings = projection.ProjectionSettings(steps=100, restarts=1, label_candidates=3, seed=0)
    found = projection.project(cgan, targets, judge, settings)
    assert found.labels.tolist() == wanted.tolist()
    np.testing.assert_allclose(found.images, cgan.generate(found.z, found.labels), atol=1e-5)
    assert found.pixel_error.max() < 0.05


def test_chunks_resume_where_the_last_one_stopped(judge):
    gan = _model("gan")
    digit = gan.generate(sample_z(1, gan.latent_dim, seed=3))
    settings = {"steps": 40, "restarts": 2}
    first = projection.project_chunk(gan, digit, judge, None, 20, settings)
    assert not first["done"] and first["step"] == 20 and first["steps"] == 40
    last = projection.project_chunk(gan, digit, judge, first["state"], 20, settings)
    assert last["done"] and last["step"] == 40
    whole = projection.project_chunk(gan, digit, judge, None, 40, settings)
    np.testing.assert_allclose(last["z"], whole["z"], atol=1e-4)  # two chunks = one run of the same length
    assert last["input_probabilities"].shape == last["projection_probabilities"].shape == (1, 10)


def test_the_project_command_writes_latents_labels_projections_and_a_grid(tmp_path, capsys):
    cgan = _model("cgan")
    digits = (cgan.generate(sample_z(2, cgan.latent_dim, seed=9), [1, 7]) * 255).astype(np.uint8)
    np.save(tmp_path / "x.npy", digits)
    out, recon, png = tmp_path / "z.npy", tmp_path / "r.npy", tmp_path / "grid.png"
    code = main(["project", "--weights", str(PRETRAINED / "cgan"), "--images", str(tmp_path / "x.npy"),
                 "--out", str(out), "--recon", str(recon), "--png", str(png), "--steps", "60", "--restarts", "1"])
    assert code == 0, capsys.readouterr().err
    assert np.load(out).shape == (2, cgan.latent_dim) and np.load(out).dtype == np.float32
    assert np.load(labels_path(out)).tolist() == [1, 7]
    assert np.load(recon).shape == (2, 28, 28)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "projected 2 digit(s)" in capsys.readouterr().out


@pytest.mark.parametrize("images, extra, message", [
    ("missing.npy", [], "--images {dir}/missing.npy: no such file"),
    ("bad_shape.npy", [], "shape (3, 20, 20); expected (N, 28, 28)"),
    ("too_bright.npy", [], "float images must lie in [0, 1]"),
    ("digits.txt", [], "give a .npy file"),
    ("digits.npy", ["--out", "z.csv"], "--out z.csv: give a file name ending in .npy"),
    ("digits.npy", ["--steps", "0"], "steps must be at least 1"),
    ("digits.npy", ["--steps", "100000"], "--steps 100000: at most 5,000"),
    ("digits.npy", ["--seed", "-1"], "--seed must be in [0, "),
    ("digits.npy", ["--weights", "no/such/folder"], "--weights"),
])
def test_project_usage_errors_exit_2_naming_the_input(tmp_path, capsys, monkeypatch, images, extra, message):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "bad_shape.npy", np.zeros((3, 20, 20), np.float32))
    np.save(tmp_path / "too_bright.npy", np.full((2, 28, 28), 3.0, np.float32))
    np.save(tmp_path / "digits.npy", np.zeros((2, 28, 28), np.uint8))
    (tmp_path / "digits.txt").write_text("not an array")
    args = {"--weights": str(PRETRAINED / "gan"), "--images": str(tmp_path / images), "--out": "z.npy",
            "--recon": "r.npy"}
    args.update(dict(zip(extra[::2], extra[1::2])))
    assert main(["project", *[part for pair in args.items() for part in pair]]) == 2
    assert message.format(dir=tmp_path) in capsys.readouterr().err


def _hostile_images(path: Path, kind: str) -> None:
    """A .npy of digits made by a stranger: each kind must be refused by name, never parsed in this process."""
    if kind == "pickle":
        np.save(path, np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    elif kind == "claims_a_billion":  # a header promising 1e9 digits (6 TB of floats) over a few bytes of data
        header = {"descr": "<f8", "fortran_order": False, "shape": (10**9, 28, 28)}
        with open(path, "wb") as file:
            np.lib.format.write_array_header_1_0(file, header)
            file.write(b"\0" * 64)
    elif kind == "truncated":
        data = (np.ones((5, 28, 28)) * 0.5).astype(np.float32)
        np.save(path, data)
        path.write_bytes(path.read_bytes()[:-1000])
    elif kind == "garbage":
        path.write_bytes(b"\x93NUMPY\x01\x00" + b"\xff" * 300)
    elif kind == "too_many":
        np.save(path, np.zeros((11, 28, 28), np.uint8))
    elif kind == "oversized":
        np.save(path, np.zeros((40, 28, 28), np.float64))  # 250 KB against a 200 KB budget (patched)


@pytest.mark.parametrize("kind, message", [
    ("pickle", "holds Python objects, which are never unpickled"),
    ("claims_a_billion", "1,000,000,000 digits; at most 10 per command (split the file)"),
    ("truncated", "not a readable .npy array"),
    ("garbage", "not a readable .npy array"),
    ("too_many", "11 digits; at most 10 per command"),
    ("oversized", "MB is over the 0 MB limit for one file of digits"),
])
def test_project_refuses_a_strangers_images_file_by_name_with_exit_2(tmp_path, capsys, monkeypatch, kind, message):
    from gan_core import __main__ as cli

    monkeypatch.setattr(cli, "MAX_PROJECT", 10)
    monkeypatch.setattr(projection, "MAX_PROJECT_FILE_BYTES", 200 * 1024)
    monkeypatch.setattr(projection.read_digits_file, "__defaults__",
                        (projection.MAX_PROJECT_DIGITS, 200 * 1024, None))
    images = tmp_path / "digits.npy"
    _hostile_images(images, kind)
    code = main(["project", "--weights", str(PRETRAINED / "gan"), "--images", str(images), "--out",
                 str(tmp_path / "z.npy"), "--recon", str(tmp_path / "r.npy")])
    error = capsys.readouterr().err
    assert code == 2 and f"--images {images}: " in error and message in error, error
    assert "Traceback" not in error and not (tmp_path / "z.npy").exists()


def test_the_digits_file_is_parsed_in_the_limited_child_not_here(tmp_path, monkeypatch):
    digits = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", digits)
    np.save(tmp_path / "u8.npy", (digits[0] * 255).astype(np.uint8))  # one digit, (28, 28), uint8

    def no_load_here(*args, **kwargs):
        raise AssertionError("np.load ran in the caller's process")

    monkeypatch.setattr(np, "load", no_load_here)
    np.testing.assert_array_equal(projection.read_digits_file(tmp_path / "x.npy", "x.npy"), digits)
    one = projection.read_digits_file(tmp_path / "u8.npy", "u8.npy")
    assert one.shape == (1, 28, 28) and one.dtype == np.float32 and one.max() <= 1.0
    tiny = projection.ParserLimits(memory_bytes=64 * 1024 * 1024)  # NumPy alone needs more: the child dies
    with pytest.raises(projection.sandbox.SandboxRefusal, match=r"^x\.npy: not read: "):  # and this one lives on
        projection.read_digits_file(tmp_path / "x.npy", "x.npy", parser=tiny)


def test_the_canvas_drawing_becomes_an_mnist_form_digit():
    from ui.draw_digit import SEND_SIDE, digit_from_drawing

    assert digit_from_drawing({"side": SEND_SIDE, "pixels": []}) is None  # cleared canvas
    assert digit_from_drawing({"side": SEND_SIDE, "pixels": [0] * SEND_SIDE ** 2}) is None  # blank
    assert digit_from_drawing({"side": 5, "pixels": [255] * 25}) is None  # not what the component sends
    assert digit_from_drawing({"side": SEND_SIDE, "pixels": ["x"] * SEND_SIDE ** 2}) is None
    canvas = np.zeros((SEND_SIDE, SEND_SIDE))
    canvas[10:40, 50:58] = 255  # a short bar in the top half: a "1" drawn small and off centre
    digit = digit_from_drawing({"side": SEND_SIDE, "pixels": canvas.ravel().astype(int).tolist()})
    rows, cols = np.nonzero(digit > 0.5)
    assert digit.shape == (28, 28) and rows.max() - rows.min() + 1 == 20  # fitted into MNIST's 20-pixel box
    assert abs(rows.mean() - 13.5) < 1.5 and abs(cols.mean() - 13.5) < 1.5  # and centred by its mass


def test_the_page_projects_through_the_inference_worker_in_chunks():
    from gan_core.engine import LabEngine, EngineOptions

    engine = LabEngine(EngineOptions(max_trainers=1, warm_spare=False, quality_every=0,
                                     judge_dir=str(PRETRAINED / "classifier")))
    try:
        gan = engine.shipped_model(PRETRAINED / "gan", "gan")  # dense: NumPy in the page, weights travel along
        digit = gan.generate(sample_z(1, gan.latent_dim, seed=5))
        reports, state = [], None
        while not reports or not reports[-1]["done"]:
            reports.append(gan.project(digit, state, 100))
            state = reports[-1]["state"]
        assert [r["step"] for r in reports] == [100, 200] and reports[-1]["steps"] == 200
        last = reports[-1]
        assert last["z"].shape == (1, gan.latent_dim) and last["labels"] is None
        np.testing.assert_allclose(last["images"], gan.generate(last["z"]), atol=1e-5)
        assert last["pixel_error"][0] < 0.03
        assert last["input_probabilities"].argmax() == last["projection_probabilities"].argmax()
        vae = engine.shipped_model(PRETRAINED / "vae", "vae")
        encoded = vae.project(digit)
        assert encoded["done"] and encoded["steps"] == 0
        np.testing.assert_allclose(encoded["z"], vae.encode(digit), atol=1e-5)
    finally:
        engine.shutdown()


def test_an_uploaded_picture_becomes_a_digit_or_a_reason():
    import io

    from PIL import Image

    from ui.draw_digit import digit_from_upload

    paper = np.full((90, 60), 255, np.uint8)
    paper[20:70, 28:34] = 0  # a dark "1" on white paper
    buffer = io.BytesIO()
    Image.fromarray(paper).save(buffer, format="PNG")
    digit, reason = digit_from_upload(buffer.getvalue())
    assert reason is None and digit.shape == (28, 28)
    assert digit.max() == 1.0 and digit[0].max() == 0.0  # inverted to white ink on black, ink kept off the border
    assert digit_from_upload(b"plain text")[0] is None and "not an image" in digit_from_upload(b"plain text")[1]
    blank = io.BytesIO()
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(blank, format="PNG")
    assert digit_from_upload(blank.getvalue()) == (None, "the picture is blank (no ink to find)")
