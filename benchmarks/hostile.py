"""Issue 15's hostile table, measured: each crafted file through the app's parsing child, with what it cost and
how long a second visitor's small upload took meanwhile.

    .venv/bin/python benchmarks/hostile.py            # the full table (~1 minute)

Per row: the result (refused / cut, and the note that names the file), wall seconds, the parsing child's
peak memory (VmHWM), and the median and worst latency of a small upload (64 digits as a .npy) converted over
and over by a second thread while the hostile file is parsed: that is what another session waits for.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import hostile_files as hostile  # noqa: E402
from gan_core import bundle, limits, uploads  # noqa: E402


def small_upload() -> list[tuple[str, bytes]]:
    buffer = io.BytesIO()
    np.save(buffer, (np.eye(28, dtype=np.uint8) * 255)[None].repeat(64, 0))
    return [("small.npy", buffer.getvalue())]


class SecondSession:
    """Converts a small upload in a loop, timing each: another visitor, while the hostile file is parsed."""

    def __init__(self):
        self.files, self.latencies, self.stop = small_upload(), [], threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            assert uploads.convert_uploads(self.files).count == 64
            self.latencies.append(time.monotonic() - started)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def first_words(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def upload_row(name: str, content: bytes):
    result = uploads.convert_uploads([(name, content)])
    note = next((n for n in result.notes if n.refused or uploads.CUT_WORDS in n.reason), result.notes[0])
    return f"{result.count:,} kept; {note}", result.report


def folder_row(name: str, content: bytes):
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_bytes(content)
        result = uploads.convert_folder(folder, "folder:tiny")
    note = next(n for n in result.notes if uploads.CUT_WORDS in n.reason or n.refused)
    return f"{result.count:,} kept; {note}", result.report


def zip_row(name: str, content: bytes):
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_bytes(content)
        result = uploads.convert_zip_file(Path(folder) / name, f"zip:{name}")
    spent = sum(1 for n in result.notes if "budget" in n.reason)
    return f"{result.count:,} kept; {spent:,} entries not decoded (pixel budget); {result.notes[-1]}", result.report


def bundle_row(name: str, content: bytes):
    try:
        bundle.read_bundle(content, name=name)
    except bundle.BundleError as exc:
        return f"refused: {exc}", exc.report
    return "ACCEPTED", None


def sizes_row(_name: str, _content: bytes):
    started = time.monotonic()
    _, refused = uploads.admit(hostile.oversized_files(), limits.UPLOAD_LIMITS)
    return f"refused before reading: {refused[0]}", type("R", (), {"seconds": time.monotonic() - started,
                                                                   "peak_rss_mb": 0.0})()


def main() -> int:
    tiny = hostile.many_tiny_images_npy()
    rows = [
        ("1M 4x4 images, 16 MB .npy (CLI folder:)", folder_row, "tiny.npy", tiny),
        ("the same .npy uploaded (Train page)", upload_row, "tiny.npy", tiny),
        ("12,000 4096x4096 PNGs in a zip (CLI zip:)", zip_row, "flood.zip", hostile.png_flood_zip()),
        ("bundle: 32 MiB dataset hard-linked at 64 paths", bundle_row, "alias.zip", hostile.hdf5_alias_bundle()),
        ("bundle: 1-element dataset in a 64 MiB gzip chunk", bundle_row, "chunk.zip",
         hostile.hdf5_big_chunk_bundle()),
        ("zip: classic record 1 entry, zip64 200,000", upload_row, "liar.zip", hostile.zip64_entry_count_liar()),
        ("3 files of 45 MB in one upload widget (page)", sizes_row, "", b""),
    ]
    idle = SecondSession()
    with idle:
        time.sleep(5)
    baseline = statistics.median(idle.latencies)
    print(f"load average {os.getloadavg()[0]:.2f}; a small upload alone: median {baseline * 1000:.0f} ms "
          f"({len(idle.latencies)} runs)\n")
    print("| input | result | s | child peak MB | 2nd session median / worst ms |")
    print("|---|---|---|---|---|")
    for label, run, name, content in rows:
        with SecondSession() as other:
            started = time.monotonic()
            text, report = run(name, content)
            wall = time.monotonic() - started
        seconds = report.seconds if report is not None else wall
        peak = f"{report.peak_rss_mb:.0f}" if report is not None and report.peak_rss_mb else "-"
        meanwhile = (f"{statistics.median(other.latencies) * 1000:.0f} / {max(other.latencies) * 1000:.0f}"
                     if other.latencies else "-")
        print(f"| {label} | {first_words(text, 110)} | {seconds:.1f} | {peak} | {meanwhile} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
