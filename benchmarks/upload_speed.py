"""How fast uploads become a training set, and how fast a bundle is read: the numbers in benchmarks/README.md.

    .venv/bin/python benchmarks/upload_speed.py            # 1,000 PNGs of 28-100 px (3 rounds), as a zip, a 60k .npz; bundles
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_core.uploads import convert_uploads  # noqa: E402


def handwritten_pngs(count: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """Dark strokes on white at random sizes from 28 to 100 px: what a phone or paint program gives."""
    rng = np.random.default_rng(seed)
    files = []
    for i in range(count):
        width, height = (int(v) for v in rng.integers(28, 101, size=2))
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        points = [(float(x), float(y)) for x, y in rng.uniform(0.2, 0.8, size=(5, 2)) * (width, height)]
        draw.line(points, fill=0, width=max(2, min(width, height) // 10))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        files.append((f"{i}.png", buffer.getvalue()))
    return files


def main() -> None:
    files = handwritten_pngs(1000)
    print(f"1,000 PNGs, {sum(len(b) for _, b in files) / 1e6:.2f} MB in all")
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        result = convert_uploads(files)
        timings.append(time.perf_counter() - started)
    print(f"convert_uploads: {result.summary}; rounds {', '.join(f'{t:.2f}' for t in timings)} s, "
          f"median {statistics.median(timings):.2f} s")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, content in files:
            zipped.writestr(f"{int(name[:-4]) % 10}/{name}", content)
    started = time.perf_counter()
    result = convert_uploads([("digits.zip", archive.getvalue())])
    print(f"the same PNGs in one .zip (folders 0-9): {result.summary}; {time.perf_counter() - started:.2f} s")
    pixels = (np.random.default_rng(1).random((60_000, 28, 28)) * 255).astype(np.uint8)
    array = io.BytesIO()
    np.savez_compressed(array, x_train=pixels, y_train=np.arange(60_000) % 10)
    started = time.perf_counter()
    result = convert_uploads([("mnist-sized.npz", array.getvalue())])
    print(f"a 60,000-image .npz ({len(array.getvalue()) / 1e6:.0f} MB): {result.summary}; "
          f"{time.perf_counter() - started:.2f} s")

    from gan_core import bundle

    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "gan.zip"
        started = time.perf_counter()
        bundle.export_bundle(ROOT / "pretrained" / "gan", archive)
        exported = time.perf_counter() - started
        data = archive.read_bytes()
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        bundle.load_bundle_bytes(data)
        rounds.append(time.perf_counter() - started)
    print(f"pretrained/gan bundle: {len(data) / 1e6:.2f} MB; export {exported:.2f} s (incl. building the model); "
          f"load_bundle_bytes median {statistics.median(rounds) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
