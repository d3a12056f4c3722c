"""Model bundles: exact round trips (run folder -> bundle -> samples; arrays -> bundle -> arrays), reading without
TensorFlow, and every way a hostile or damaged bundle is refused with the entry named."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gan_core import bundle
from gan_core.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden-units", "16", "--latent-dim", "8", "--batch-size", "16", "--steps-per-call", "5"]


@pytest.fixture(scope="module")
def run_and_bundle(tmp_path_factory):
    """A 10-step tiny run and its exported bundle, made once through the command line."""
    root = tmp_path_factory.mktemp("bundle")
    run, archive = root / "run", root / "run.zip"
    assert main(["train", "--out", str(run), "--steps", "10", "--checkpoint-every", "10", *TINY]) == 0
    assert main(["export", "--weights", str(run), "--out", str(archive)]) == 0
    return run, archive


def entries_of(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name) for name in opened.namelist()}


def repack(entries: dict[str, bytes], refresh_checksums: bool = True, manifest_edit=None) -> bytes:
    """Zip entries again; by default the manifest's checksums are recomputed, so only the intended fault remains."""
    entries = dict(entries)
    if MANIFEST in entries:
        manifest = json.loads(entries[MANIFEST])
        if refresh_checksums:
            manifest["entries"] = {name: {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
                                   for name, content in entries.items() if name != MANIFEST}
        if manifest_edit:
            manifest_edit(manifest)
        entries[MANIFEST] = json.dumps(manifest).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


MANIFEST = bundle.MANIFEST


def with_config(entries, **changes) -> dict[str, bytes]:
    config = json.loads(entries["config.json"])
    config.update(changes)
    return {**entries, "config.json": json.dumps(config).encode()}


# ---------------------------------------------------------------- round trips

def test_samples_from_the_bundle_equal_samples_from_the_run(run_and_bundle, tmp_path):
    run, archive = run_and_bundle
    assert set(entries_of(archive.read_bytes())) == {
        "manifest.json", "config.json", "state.json", "history.csv", "samples.png",
        "generator.weights.h5", "discriminator.weights.h5", "generator_ema.weights.h5"}
    from_run, from_bundle = tmp_path / "run.npy", tmp_path / "bundle.npy"
    assert main(["sample", "--weights", str(run), "--n", "50", "--seed", "4", "--out", str(from_run)]) == 0
    assert main(["sample", "--weights", str(archive), "--n", "50", "--seed", "4", "--out", str(from_bundle)]) == 0
    np.testing.assert_array_equal(np.load(from_bundle), np.load(from_run))
    report = tmp_path / "report.json"
    assert main(["evaluate", "--weights", str(archive), "--n", "100", "--json", str(report)]) == 0
    assert json.loads(report.read_text())["weights"] == str(archive)
    contents = bundle.read_bundle(archive)
    assert contents.state["step"] == 10 and len(contents.history["step"]) == 2
    manifest = contents.manifest
    assert manifest["format_version"] == bundle.BUNDLE_VERSION
    assert set(manifest["versions"]) == {"app", "keras", "tensorflow"}


def test_arrays_round_trip_through_bundle_bytes_exactly(run_and_bundle):
    from gan_core import checkpoints

    run, archive = run_and_bundle
    config, arrays, state, history = bundle.load_bundle_bytes(archive.read_bytes())
    model, _, _ = checkpoints.load_model(run)
    for stem, network in model.weight_networks().items():
        for mine, theirs in zip(arrays[stem], network.get_weights(), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    rebuilt = bundle.bundle_bytes_from_arrays(config, arrays, state, history, b"\x89PNG\r\n\x1a\nfake grid")
    again = bundle.load_bundle_bytes(rebuilt)
    assert again[0] == config and again[2] == state
    for stem in arrays:
        for mine, theirs in zip(arrays[stem], again[1][stem], strict=True):
            np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(again[3]["d_loss"], history["d_loss"])
    assert rebuilt == bundle.bundle_bytes_from_arrays(config, arrays, state, history, b"\x89PNG\r\n\x1a\nfake grid")


def test_a_convolutional_model_with_batch_norm_round_trips(tmp_path):
    """The DCGAN's arrays (kernels, biases, BN statistics) come back in get_weights() order."""
    from gan_core import checkpoints

    archive = tmp_path / "dcgan.zip"
    bundle.export_bundle(ROOT / "pretrained" / "dcgan", archive)
    model, config, _ = bundle.load_bundle_model(archive)
    original, _, _ = checkpoints.load_model(ROOT / "pretrained" / "dcgan")
    z = np.random.default_rng(0).normal(size=(8, config.latent_dim)).astype(np.float32)
    np.testing.assert_array_equal(model.generate(z), original.generate(z))
    # Convolutional shapes are not known without Keras: a mismatch is caught when the model is built.
    wrong = repack(with_config(entries_of(archive.read_bytes()), latent_dim=50))
    with pytest.raises(bundle.BundleError, match=r"^uploaded bundle: \w+.weights.h5 does not fit the \w+ of this config"):
        bundle.load_bundle_model(wrong)


def test_reading_an_uploaded_bundle_never_imports_tensorflow(run_and_bundle):
    _, archive = run_and_bundle
    code = ("import sys; from gan_core import bundle; "
            f"config, arrays, state, history = bundle.load_bundle_bytes(open({str(archive)!r}, 'rb').read()); "
            "assert [a.shape for a in arrays['generator']] == [(8, 16), (16,), (16, 784), (784,)]; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'streamlit')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- hostile and damaged bundles

def _hostile(entries: dict[str, bytes]) -> list[tuple[str, bytes, str]]:
    """(case, bundle bytes, words the error must contain)."""
    good = repack(entries)
    not_hdf5 = {**entries, "generator.weights.h5": b"not an hdf5 file at all"}
    tampered = with_config(entries, seed=99)
    return [
        ("truncated", good[: len(good) // 2], "not a readable zip"),
        ("traversal", repack({**entries, "../config.json": b"{}"}), "../config.json: unsafe path"),
        ("full keras model", repack({**entries, "model.keras": b"PK..."}), "model.keras: a full .keras model"),
        ("unexpected file", repack({**entries, "run.sh": b"rm -rf /"}), "run.sh: unexpected file"),
        ("folder entry", repack({**entries, "weights/": b""}), "weights/: unexpected file"),
        ("oversize entry", repack({**entries, "state.json": b" " * 300_000 + b"{}"}),
         "state.json is 300,002 bytes, over the limit"),
        ("tampered config", repack(tampered, refresh_checksums=False), "config.json: checksum mismatch"),
        ("unlisted entry", repack(entries, manifest_edit=lambda m: m["entries"].pop("samples.png")),
         "not listed: samples.png"),
        ("no manifest", repack({k: v for k, v in entries.items() if k != MANIFEST}), "no manifest.json"),
        ("newer format", repack(entries, manifest_edit=lambda m: m.update(format_version=99)), "newer GAN Lab"),
        ("wrong shapes", repack(with_config(entries, hidden_units=32)),
         "discriminator.weights.h5: array shapes [(784, 16), (16,), (16, 1), (1,)] do not fit"),
        ("string for an int", repack(with_config(entries, latent_dim="8")), "latent_dim must be an int"),
        ("bool for an int", repack(with_config(entries, latent_dim=True)), "latent_dim must be an int"),
        ("huge network", repack(with_config(entries, hidden_units=10**7)), "hidden_units 10000000 is over the limit"),
        ("unknown field", repack(with_config(entries, run_this="import os")), "unknown field 'run_this'"),
        ("invalid range", repack(with_config(entries, beta1=2.0)), "beta1 must be in [0, 1)"),
        ("negative step", repack({**entries, "state.json": b'{"step": -1}'}), "step must be a non-negative"),
        ("not hdf5", repack(not_hdf5), "generator.weights.h5: not an HDF5 weights file"),
        ("layout injection", repack(entries, manifest_edit=lambda m: m["networks"].update(
            generator=["../../etc/passwd"])), "no valid array list for generator"),
        ("bad history", repack({**entries, "history.csv": b"step,loss\n1,rm -rf\n"}), "every value must be a number"),
        ("NaN in JSON", repack({**entries, "state.json": b'{"step": 1, "x": NaN}'}), "state.json: not valid JSON"),
    ]


def test_every_hostile_bundle_is_refused_with_the_entry_named(run_and_bundle):
    _, archive = run_and_bundle
    entries = entries_of(archive.read_bytes())
    for case, content, words in _hostile(entries):
        with pytest.raises(bundle.BundleError) as caught:
            bundle.read_bundle(content, name="upload.zip")
        message = str(caught.value)
        assert message.startswith("upload.zip: ") and words in message, (case, message)
    bundle.read_bundle(repack(entries), name="upload.zip")  # the repacking itself is sound


def test_weights_of_another_model_in_the_bundle_are_refused(run_and_bundle):
    _, archive = run_and_bundle
    entries = entries_of(archive.read_bytes())
    entries["decoder.weights.h5"] = entries["generator.weights.h5"]
    with pytest.raises(bundle.BundleError, match="decoder.weights.h5: a gan model has no decoder"):
        bundle.read_bundle(repack(entries))


def test_cli_refuses_bad_bundles_with_exit_2_and_one_line(run_and_bundle, tmp_path, capsys):
    run, archive = run_and_bundle
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(repack(with_config(entries_of(archive.read_bytes()), seed=5), refresh_checksums=False))
    capsys.readouterr()
    assert main(["sample", "--weights", str(tampered), "--n", "5", "--out", str(tmp_path / "s.npy")]) == 2
    assert main(["evaluate", "--weights", str(tampered), "--n", "100"]) == 2
    assert main(["export", "--weights", str(run), "--out", str(archive)]) == 2  # never overwritten
    assert main(["export", "--weights", str(run), "--out", str(tmp_path / "b.tar")]) == 2
    assert main(["export", "--weights", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c.zip")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("error: ") for line in lines)
    assert f"{tampered}: config.json: checksum mismatch" in lines[0] and lines[0] == lines[1]
    assert "already exists" in lines[2] and "ending in .zip" in lines[3] and "nowhere" in lines[4]
    assert not (tmp_path / "c.zip").exists()
