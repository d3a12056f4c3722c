"""The hostile corpus: one file of every row of issue 15's table, each refused or cut with a message naming it,
parsed in a limited child whose time and peak memory are held to generous bounds.

Every file is built here, in memory, at test time (tests/hostile_files.py). The bounds are far above what each
row costs on an idle machine (benchmarks/hostile.py prints the measured table) and far below what each row
cost before the parsing child and its budgets: 98 s and 7.1 GB, minutes of decoding, 2.8 GB.
"""

from __future__ import annotations

import io
import resource
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import hostile_files as hostile
from gan_core import bundle, data, limits, sandbox, uploads

TESTS = Path(__file__).resolve().parent

MAX_SECONDS = 20.0
MAX_CHILD_PEAK_MB = 1200.0


def assert_bounded(report: sandbox.ParseReport | None, what: str) -> None:
    assert report is not None, f"{what}: no parsing child ran"
    assert report.seconds < MAX_SECONDS, f"{what}: {report.seconds:.1f} s"
    assert report.peak_rss_mb < MAX_CHILD_PEAK_MB, f"{what}: child peak {report.peak_rss_mb:.0f} MB"


def note_for(result: uploads.UploadResult, name: str) -> uploads.FileNote:
    matches = [note for note in result.notes if note.file == name]
    assert matches, f"no note for {name}: {result.messages[:5]}"
    return matches[0]


@pytest.fixture(scope="module")
def tiny_npy() -> bytes:
    return hostile.many_tiny_images_npy()


# ---------------------------------------------------------------- row 1 and 2: a million 4x4 images

def test_a_million_tiny_images_on_the_command_line_are_cut_before_converting(tiny_npy, tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "tiny.npy").write_bytes(tiny_npy)
    result = uploads.convert_folder(folder, "folder:tiny")  # what `train --dataset folder:...` runs
    assert_bounded(result.report, "folder:tiny")
    note = note_for(result, "tiny.npy")
    assert "only the first 70,000 of 1,000,000 used" in note.reason
    assert 0 < result.count <= limits.CLI_LIMITS.max_images and result.pixels.dtype == np.uint8
    dataset = data.dataset_from_upload(result, "folder:tiny")
    assert any("tiny.npy: " in line and "70,000 of 1,000,000" in line for line in dataset.notes)


def test_the_same_file_uploaded_is_converted_in_the_child_and_only_uint8_digits_come_back(tiny_npy):
    result = uploads.convert_uploads([("tiny.npy", tiny_npy)])
    assert_bounded(result.report, "tiny.npy")
    assert "only the first 70,000 of 1,000,000 used" in note_for(result, "tiny.npy").reason
    assert result.pixels.dtype == np.uint8 and result.pixels.nbytes <= 70_000 * 28 * 28  # 55 MB at most


# ---------------------------------------------------------------- row 3: a flood of 4096x4096 PNGs

def test_a_zip_of_huge_tiny_pngs_stops_at_the_decoded_pixel_budget():
    flood = hostile.png_flood_zip(copies=4_000)  # 67 G pixels; the benchmark runs the full 12,000
    for result, what in ((uploads.convert_uploads([("flood.zip", flood)]), "upload"),
                         (_zip_on_the_command_line(flood), "zip:")):
        assert_bounded(result.report, f"flood.zip ({what})")
        spent = [note for note in result.notes if "budget" in note.reason and "spent" in note.reason]
        assert len(spent) > 3_900, (what, result.messages[:3])
        assert spent[0].file.startswith("flood.zip/flood/") and spent[0].refused


def _zip_on_the_command_line(content: bytes) -> uploads.UploadResult:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "flood.zip"
        path.write_bytes(content)
        return uploads.convert_zip_file(path, "zip:flood.zip")


# ---------------------------------------------------------------- rows 4 and 5: hostile HDF5 inside a bundle

@pytest.mark.parametrize("name, build, words", [
    ("alias.zip", hostile.hdf5_alias_bundle, "more than one path (an HDF5 hard link)"),
    ("chunk.zip", hostile.hdf5_big_chunk_bundle, "chunks larger than the array itself"),
])
def test_hostile_hdf5_in_a_bundle_is_refused_before_its_arrays_are_read(name, build, words):
    content = build()
    assert len(content) < 20_000  # a small file: the danger is what it declares
    with pytest.raises(bundle.BundleError) as caught:
        bundle.read_bundle(content, name=name)
    assert str(caught.value).startswith(f"{name}: generator.weights.h5: ") and words in str(caught.value)
    assert_bounded(caught.value.report, name)
    assert caught.value.report.peak_rss_mb < 200  # nothing was inflated: 32 MiB x 64 or 64 MiB never read


def test_the_total_of_a_bundles_arrays_is_checked_before_any_is_read():
    """Without the alias check, 64 distinct fill-value datasets of 32 MiB still declare 2 GiB: refused unread."""
    import h5py

    buffer = io.BytesIO()
    paths = [f"layers/dense_{index}/vars/0" for index in range(64)]
    with h5py.File(buffer, "w") as file:
        for path in paths:
            file.create_dataset(path, shape=(8 * 1024 * 1024,), dtype="f4", fillvalue=0.5)
    content = hostile._bundle(buffer.getvalue(), paths)
    with pytest.raises(bundle.BundleError, match=r"^fills\.zip: generator\.weights\.h5: its arrays declare "
                                                 r"2,147,483,648 bytes") as caught:
        bundle.read_bundle(content, name="fills.zip")
    assert caught.value.report.peak_rss_mb < 200


# ---------------------------------------------------------------- row 6: zip64 entry count

def test_a_zip64_directory_is_counted_as_zipfile_would_read_it():
    liar = hostile.zip64_entry_count_liar()
    result = uploads.convert_uploads([("liar.zip", liar)])
    assert_bounded(result.report, "liar.zip")
    assert "more than 20,000 entries" in note_for(result, "liar.zip").reason
    assert uploads.zip_directory_entries(liar, 10) == (11, 200_000 * 46 + sum(len(f"{i}.png") for i in
                                                                               range(200_000)))


# ---------------------------------------------------------------- row 7: several files in one widget

def test_several_files_over_the_total_are_refused_by_their_declared_sizes_before_any_is_read():
    admitted, refused = uploads.admit(hostile.oversized_files(), limits.UPLOAD_LIMITS)
    assert admitted == [0, 1] and [note.file for note in refused] == ["part2.npy"]
    assert "over the upload limit of 100 MB for all files together" in refused[0].reason


def _page_with_unreadable_files():
    """A Train-page conversion of three 45 MB files whose third must never be read (getvalue raises)."""
    import streamlit as st

    from ui import train_extras

    class DeclaredFile:  # what st.file_uploader hands the page: a name, a size, the bytes on demand
        def __init__(self, index: int):
            self.file_id, self.name, self.size = f"id{index}", f"part{index}.npy", 45 * 1024 * 1024

        def getvalue(self) -> bytes:
            if self.name == "part2.npy":
                raise AssertionError("part2.npy was read")
            return b"not really an array"

    result = train_extras.converted_upload([DeclaredFile(index) for index in range(3)], None)
    for note in result.notes:
        st.text(str(note))


def test_the_train_page_checks_the_total_before_reading_a_file():
    at = AppTest.from_function(_page_with_unreadable_files, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    texts = [str(element.value) for element in at.text]
    assert any(text.startswith("part2.npy: not read: over the upload limit") for text in texts), texts
    assert any(text.startswith("part0.npy: not an image") for text in texts), texts


# ---------------------------------------------------------------- the box itself

def test_a_child_past_its_memory_limit_is_a_refusal_naming_the_file():
    small = limits.ParserLimits(memory_bytes=400 * limits.MIB, cpu_seconds=30, wall_seconds=60)
    big = io.BytesIO()
    np.save(big, np.zeros((700, 512, 512), np.uint8))  # 180 MB: fitting it needs more than the box holds
    result = uploads.convert_uploads([("big.npy", big.getvalue())], parser=small,
                                     limits=limits.UploadLimits(max_file_bytes=400 * limits.MIB,
                                                                max_upload_bytes=400 * limits.MIB,
                                                                max_decoded_pixels=10**12))
    note = note_for(result, "big.npy")
    assert note.refused and "memory" in note.reason, note.reason


@pytest.fixture
def test_jobs(monkeypatch):
    """The parsing child may import this folder's jobs (tests/hostile_files.py), as tests name them."""
    monkeypatch.setenv("PYTHONPATH", str(TESTS))

    def use(job: str) -> None:
        monkeypatch.setitem(sandbox.JOBS, "uploads", f"hostile_files:{job}")
    return use


def test_a_child_past_its_time_limit_is_killed_and_named(test_jobs):
    test_jobs("sleep_job")
    started = time.monotonic()
    result = uploads.convert_uploads([("slow.png", b"x")], parser=limits.ParserLimits(wall_seconds=3.0))
    assert time.monotonic() - started < 10
    assert "reading it took longer than 3 s" in note_for(result, "slow.png").reason


def test_a_crashing_child_is_a_refusal_naming_the_file(test_jobs):
    test_jobs("abort_job")
    result = uploads.convert_uploads([("crash.png", b"x")])
    assert "the reader crashed on it (SIGABRT)" in note_for(result, "crash.png").reason


def test_the_child_runs_under_its_own_limits(test_jobs):
    test_jobs("limits_job")
    box = limits.ParserLimits(memory_bytes=900 * limits.MIB, cpu_seconds=17)
    job = sandbox.run_job("uploads", {}, [], what="nothing", limits=box)
    assert job.meta == {"memory": 900 * limits.MIB, "cpu": 17, "core": 0}
    assert resource.getrlimit(resource.RLIMIT_CPU)[0] != 17  # the caller's own limits are untouched


def test_parsing_children_run_side_by_side_without_a_lock():
    """Two conversions at once take about as long as one: nothing serialises them."""
    from concurrent.futures import ThreadPoolExecutor

    files = [("a.npy", _npy(np.eye(28, dtype=np.uint8)[None].repeat(64, 0) * 255))]
    started = time.monotonic()
    uploads.convert_uploads(files)
    alone = time.monotonic() - started
    with ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        results = list(pool.map(lambda _: uploads.convert_uploads(files), range(2)))
        together = time.monotonic() - started
    assert all(result.count == 64 for result in results)
    assert together < 2.5 * alone + 1.0, (alone, together)


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# ---------------------------------------------------------------- the defaults of a public server

ROOT = TESTS.parent
ERROR_SCRIPT = """
from streamlit.testing.v1 import AppTest

at = AppTest.from_string('raise RuntimeError("secret /srv/gan-lab/data/mnist")')
at.run()
for e in at.exception:  # what the browser receives; the log (stdout too) is the operator's
    print("SHOWN:", e.proto.message, "|", e.proto.type, "|", "".join(e.proto.stack_trace))
"""


def test_streamlit_config_is_that_of_a_public_server():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False  # share links must not leave the building
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] in ("viewer", "minimal")
    assert "address" not in config.get("server", {})  # the operator's choice; `make run` says localhost
    assert "--server.address localhost" in (ROOT / "Makefile").read_text()


def test_a_visitor_never_sees_a_traceback_or_the_exceptions_text():
    """The app's own config, read as `streamlit run` reads it (from the project folder), in a fresh process."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", ERROR_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    shown = "\n".join(line for line in result.stdout.splitlines() if line.startswith("SHOWN:"))
    assert result.returncode == 0 and "has encountered an error" in shown, result.stdout + result.stderr
    assert "/srv/gan-lab" not in shown and "RuntimeError" not in shown and "Traceback" not in shown


def test_a_viewers_explore_page_drops_the_live_view_token_from_its_address(monkeypatch):
    """Explore's "link to this point" copies the address's parameters: the token must not be one of them."""
    import types

    from ui import state

    monkeypatch.setattr(state, "engine", lambda: types.SimpleNamespace(watch=lambda token: None))
    at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=60)
    at.query_params["watch"] = "t" * 43
    at.run()
    assert at.query_params.get("watch")  # the live view keeps the link the presenter shared
    at.switch_page("ui/watch_explore_page.py").run()
    assert not at.exception, at.exception
    assert "watch" not in at.query_params
    assert at.session_state["presenter_watch_token"] == "t" * 43  # still a viewer's session


def test_the_command_line_refuses_the_alias_bundle_with_exit_2_and_one_line(tmp_path, capsys):
    from gan_core.__main__ import main

    path = tmp_path / "alias.zip"
    path.write_bytes(hostile.hdf5_alias_bundle())
    assert main(["sample", "--weights", str(path), "--n", "5", "--out", str(tmp_path / "s.npy")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --weights: {path}: generator.weights.h5: ")
    assert "HDF5 hard link" in lines[0] and not (tmp_path / "s.npy").exists()
