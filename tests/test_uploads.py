"""Uploads -> training set: every accepted format, MNIST-style centring, and a corpus of hostile files.

Each hostile file travels in the same upload as good files, which must still be used; each refusal must name
the file and say why. Everything is built here in memory: no network, no files outside tmp_path.
"""

from __future__ import annotations

import gzip
import io
import struct
import subprocess
import sys
import tomllib
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from gan_core import data, limits, uploads
from gan_core.uploads import FileNote, convert_uploads

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- builders

def digit_picture(size=(60, 80), ink=0, ground=255, mode="L", fmt="PNG", box=(0.3, 0.2, 0.7, 0.8)) -> bytes:
    """A ring (a '0') drawn in `ink` on `ground`, encoded as `fmt`."""
    width, height = size
    image = Image.new(mode, size, ground)
    ImageDraw.Draw(image).ellipse([width * box[0], height * box[1], width * box[2], height * box[3]],
                                  outline=ink, width=max(2, width // 10))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def good_files(count=70, prefix="good"):
    return [(f"{prefix}{i}.png", digit_picture((28 + i % 50, 40 + i % 30))) for i in range(count)]


def zip_bytes(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def npy_bytes(array, allow_pickle=False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height but carries no pixels: what a decompression bomb looks like to open()."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def idx_images(images) -> bytes:
    images = np.asarray(images, np.uint8)
    return struct.pack(">IIII", 2051, *images.shape) + images.tobytes()


def idx_labels(labels) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + np.asarray(labels, np.uint8).tobytes()


def note_for(result, name) -> FileNote:
    matches = [note for note in result.notes if note.file == name]
    assert matches, f"no note for {name}; notes: {result.messages}"
    return matches[0]


# ---------------------------------------------------------------- the hostile corpus

def _lying_zip() -> bytes:
    """One PNG entry whose central directory understates its size: zipfile must not trust it."""
    content = digit_picture()
    archive = bytearray(zip_bytes({"liar.png": content}))
    directory = archive.rfind(b"PK\x01\x02")
    struct.pack_into("<I", archive, directory + 24, 100)  # uncompressed size: 100 bytes, it is more
    return bytes(archive)


def _huge_claim_zip() -> bytes:
    archive = bytearray(zip_bytes({"claims.png": digit_picture()}))
    directory = archive.rfind(b"PK\x01\x02")
    struct.pack_into("<I", archive, directory + 24, 3_000_000_000)
    return bytes(archive)


def hostile_corpus() -> list[tuple[str, bytes, str, str]]:
    """(upload name, bytes, name the note carries, words the reason must contain)."""
    good_png = digit_picture()
    truncated_png = good_png[: len(good_png) // 2]
    corrupt_png = good_png[:40] + bytes(range(256)) * 4
    pickled = npy_bytes(np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    bomb_entry = zip_bytes({"bomb.png": b"\0" * (30 * limits.MIB)})
    traversal = zip_bytes({"../evil.png": good_png, "/etc/abs.png": good_png, "ok/fine.png": good_png})
    nested = zip_bytes({"inner.zip": zip_bytes({"a.png": good_png}), "inner2.bin": zip_bytes({"b.png": good_png})})
    truncated_idx = idx_images(np.zeros((5, 28, 28)))[:-50]
    return [
        ("notes.txt", b"hello, these are not pixels", "notes.txt", "not an image"),
        ("empty.png", b"", "empty.png", "empty file"),
        ("half.png", truncated_png, "half.png", "corrupt or truncated"),
        ("garbage.png", corrupt_png, "garbage.png", "corrupt or truncated"),
        ("bomb.png", png_header_only(30_000, 30_000), "bomb.png", "decompression bomb"),
        ("pickle.npy", pickled, "pickle.npy", "Python objects"),
        ("complex.npy", npy_bytes(np.zeros((70, 28, 28), np.complex64)), "complex.npy", "dtype complex64"),
        ("shape.npy", npy_bytes(np.zeros((70, 5), np.uint8)), "shape.npy", "shape (70, 5)"),
        ("range.npy", npy_bytes(np.full((70, 28, 28), 200.0, np.float32)), "range.npy", "divide by 255"),
        ("nan.npy", npy_bytes(np.full((70, 28, 28), np.nan, np.float32)), "nan.npy", "NaN"),
        ("zipbomb.zip", bomb_entry, "zipbomb.zip/bomb.png", "compression ratio"),
        ("paths.zip", traversal, "paths.zip/../evil.png", "unsafe path"),
        ("paths.zip", traversal, "paths.zip//etc/abs.png", "unsafe path"),
        ("nested.zip", nested, "nested.zip/inner.zip", "nested archive"),
        ("nested.zip", nested, "nested.zip/inner2.bin", "nested archive (zip)"),
        ("cut.zip", zip_bytes({"a.png": good_png})[:-30], "cut.zip", "not a readable zip"),
        ("liar.zip", _lying_zip(), "liar.zip/liar.png", "corrupt entry"),
        ("claims.zip", _huge_claim_zip(), "claims.zip", "MB uncompressed"),
        ("cut-images-idx3-ubyte", truncated_idx, "cut-images-idx3-ubyte", "truncated"),
        ("archive.tar", b"\0" * 257 + b"ustar" + b"\0" * 300, "archive.tar", "tar archives are not accepted"),
        ("blank.png", digit_picture(ink=255), "blank.png", "blank"),
    ]


def test_every_hostile_file_is_refused_by_name_and_the_good_files_still_load():
    corpus = hostile_corpus()
    uploads_seen, files = set(), []
    for upload_name, content, _, _ in corpus:
        if upload_name not in uploads_seen:
            uploads_seen.add(upload_name)
            files.append((upload_name, content))
    files[5:5] = good_files(70)  # good files in the middle: refusals before and after them
    result = convert_uploads(files)
    for _, _, noted_name, reason in corpus:
        note = note_for(result, noted_name)
        assert note.refused and reason in note.reason, (noted_name, note.reason)
    assert note_for(result, "paths.zip/ok/fine.png").used == 1  # the safe entry beside the unsafe ones
    assert result.count == 71 and result.ok
    assert result.images.shape == (71, 28, 28) and result.images.dtype == np.float32
    assert 0.0 <= result.images.min() and result.images.max() <= 1.0
    assert result.summary.startswith("71 images used from 71 files; ")
    assert result.summary.endswith(f"{len(result.refused)} files refused")


def test_a_bomb_past_pillows_own_limit_is_refused_without_touching_global_settings():
    before_limit, before_filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    generous = limits.UploadLimits(max_image_pixels=10**10)  # only Pillow's warning stands in the way
    result = convert_uploads([("huge.png", png_header_only(12_000, 12_000))] + good_files(64), limits=generous)
    assert "decompression bomb" in note_for(result, "huge.png").reason
    assert result.count == 64
    assert Image.MAX_IMAGE_PIXELS == before_limit and warnings.filters == before_filters


def test_archive_entry_count_is_checked_before_the_archive_is_indexed():
    few = limits.UploadLimits(max_entries=10)
    archive = zip_bytes({f"{i}.png": b"x" for i in range(11)})
    result = convert_uploads([("many.zip", archive)], limits=few)
    assert "more than 10 entries" in note_for(result, "many.zip").reason


def test_total_uncompressed_budget_is_enforced_while_reading():
    small = limits.UploadLimits(max_total_uncompressed=200_000, min_images=1)
    picture = digit_picture((300, 300), fmt="BMP")  # ~90 KB each, stored, so no ratio trips first
    result = convert_uploads([("a.zip", zip_bytes({"1.bmp": picture, "2.bmp": picture})),
                              ("b.zip", zip_bytes({"3.bmp": picture}))], limits=small)
    assert result.count == 2
    assert "MB uncompressed" in note_for(result, "b.zip").reason


def test_upload_size_and_file_count_limits_refuse_the_rest_by_name():
    tight = limits.UploadLimits(max_files=3, max_upload_bytes=10_000, min_images=1)
    files = [("a.png", digit_picture()), ("big.bin", b"\0" * 20_000), ("b.png", digit_picture()),
             ("c.png", digit_picture())]
    result = convert_uploads(files, limits=tight)
    assert "upload limit" in note_for(result, "big.bin").reason
    assert "at most 3 files" in note_for(result, "c.png").reason
    assert result.count == 2


def test_too_few_images_says_the_minimum_and_no_dataset_is_made():
    result = convert_uploads(good_files(10))
    assert result.count == 10 and not result.ok
    assert result.summary == "10 images used from 10 files; at least 64 images are needed to train"
    with pytest.raises(data.DatasetError, match="at least 64"):
        data.dataset_from_upload(result, "upload:few")


def test_empty_upload_is_answered():
    result = convert_uploads([])
    assert result.count == 0 and result.labels is None and not result.ok
    assert result.summary.startswith("nothing uploaded")


def test_max_images_keeps_the_first_ones_and_says_so():
    capped = limits.UploadLimits(max_images=100, min_images=1)
    result = convert_uploads([("many.npy", npy_bytes(np.zeros((150, 28, 28), np.uint8) + np.eye(28, dtype=np.uint8)
                                                     * 255))], limits=capped)
    assert result.count == 100
    assert "only the first 100 of 150" in note_for(result, "many.npy").reason


# ---------------------------------------------------------------- accepted formats

def test_zip_with_digit_folders_gives_labels():
    entries = {f"set/{digit}/{i}.png": digit_picture((30 + i, 50)) for digit in range(10) for i in range(7)}
    entries["set/readme.png"] = b"not a picture"
    entries["__MACOSX/set/._0.png"] = b"resource fork"  # macOS zip debris: skipped without a note
    result = convert_uploads([("digits.zip", zip_bytes(entries))])
    assert result.count == 70
    assert sorted(np.bincount(result.labels)) == [7] * 10
    assert "not an image" in note_for(result, "digits.zip/set/readme.png").reason
    assert not any("__MACOSX" in note.file for note in result.notes)


def test_labels_only_when_every_image_has_one():
    entries = {f"{digit}/{i}.png": digit_picture() for digit in range(3) for i in range(30)}
    entries.update({f"loose{i}.png": digit_picture() for i in range(5)})
    result = convert_uploads([("mixed.zip", zip_bytes(entries))])
    assert result.count == 95 and result.labels is None
    assert "5 images have no label" in note_for(result, "labels").reason


def test_png_jpeg_bmp_gif_and_transparent_png_all_convert():
    files = [("a.png", digit_picture()), ("b.jpg", digit_picture(fmt="JPEG")), ("c.bmp", digit_picture(fmt="BMP")),
             ("d.gif", digit_picture(fmt="GIF")),
             ("e.png", digit_picture(mode="RGBA", ink=(0, 0, 0, 255), ground=(0, 0, 0, 0))),
             ("f.png", digit_picture(mode="RGB", ink=(255, 255, 255), ground=(10, 10, 10)))]
    result = convert_uploads(files)
    assert [note.used for note in result.notes] == [1] * 6
    ring = convert_uploads([files[0]]).images[0]
    for image in result.images:  # the same ring whatever the format or colours
        assert np.abs(image - ring).mean() < 0.05


def test_mnist_form_fits_the_box_into_20_and_centres_the_mass():
    picture = np.ones((100, 100), np.float32)  # dark ink on white, far off-centre: inverted and moved
    picture[5:35, 60:70] = 0.0  # a bar 30 tall, 10 wide: aspect 3:1 must survive
    image = uploads.mnist_form(picture)
    rows, cols = np.nonzero(image > 0.1)
    assert rows.max() - rows.min() + 1 == 20 and 6 <= cols.max() - cols.min() + 1 <= 8
    mass = image.sum()
    centre = ((image.sum(1) * np.arange(28)).sum() / mass, (image.sum(0) * np.arange(28)).sum() / mass)
    assert np.allclose(centre, 13.5, atol=0.6)
    assert image[0].max() == 0 and image[:, 0].max() == 0  # white on black, like MNIST


def test_light_background_detection_and_the_invert_override():
    # Light ink on a mid-grey ground: the border (0.55) says "light background", which is wrong here.
    picture = digit_picture(ink=235, ground=140)
    auto = convert_uploads([("p.png", picture)])
    kept = convert_uploads([("p.png", picture)], invert=False)
    assert "blank" in note_for(auto, "p.png").reason and kept.count == 1
    array = (np.eye(28, dtype=np.float32)[None] * 0.8).repeat(70, 0)
    flipped = convert_uploads([("x.npy", npy_bytes(array))], invert=True)
    np.testing.assert_allclose(flipped.images, 1.0 - array)
    assert convert_uploads([("x.npy", npy_bytes(1.0 - array))]).images.max() == pytest.approx(0.8)


def test_arrays_npy_npz_and_mnist_npz_with_labels():
    rng = np.random.default_rng(0)
    pixels = (rng.random((80, 28, 28)) < 0.2).astype(np.uint8) * 255
    flat = pixels.reshape(80, 784)
    large = np.kron(pixels[:70], np.ones((1, 2, 2), np.uint8))  # (70, 56, 56): resized through the MNIST form
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=pixels, y_train=np.arange(80) % 10, x_test=pixels[:66],
                        y_test=np.arange(66) % 10)
    result = convert_uploads([("a.npy", npy_bytes(pixels)), ("b.npy", npy_bytes(flat)),
                              ("c.npy", npy_bytes(large)), ("mnist.npz", buffer.getvalue())])
    np.testing.assert_array_equal(result.images[:80], pixels / np.float32(255))
    np.testing.assert_array_equal(result.images[80:160], pixels / np.float32(255))
    assert note_for(result, "c.npy").used == 70
    assert note_for(result, "mnist.npz[x_train]").reason == "80 images with labels"
    assert result.count == 80 + 80 + 70 + 80 + 66 and result.labels is None  # the .npy files have none
    labelled = convert_uploads([("mnist.npz", buffer.getvalue())])
    assert list(labelled.labels[:12]) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_idx_uploads_raw_and_gz_pair_images_with_labels():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(70, 28, 28))
    labels = rng.integers(0, 10, size=70)
    result = convert_uploads([("train-images-idx3-ubyte.gz", gzip.compress(idx_images(pixels))),
                              ("train-labels-idx1-ubyte", idx_labels(labels))])
    np.testing.assert_allclose(result.images * 255, pixels, atol=1e-3)
    np.testing.assert_array_equal(result.labels, labels)
    wrong = convert_uploads([("train-images-idx3-ubyte", idx_images(pixels)),
                             ("train-labels-idx1-ubyte", idx_labels(labels[:60]))])
    assert wrong.count == 70 and wrong.labels is None
    assert "60 integer labels" not in note_for(wrong, "train-labels-idx1-ubyte").reason
    assert "one per image" in note_for(wrong, "train-labels-idx1-ubyte").reason


def test_a_dataset_is_named_by_content_and_speed_of_1000_pngs():
    import time

    files = [(f"{i}.png", digit_picture((28 + i % 73, 28 + (i * 7) % 73))) for i in range(1000)]
    started = time.perf_counter()
    result = convert_uploads(files)
    elapsed = time.perf_counter() - started
    assert result.count == 1000
    assert elapsed < 5.0, f"1,000 PNGs took {elapsed:.1f} s"
    dataset = data.dataset_from_upload(result, f"upload:{result.digest[:12]}")
    assert isinstance(dataset, data.Dataset) and len(dataset) == 1000
    assert dataset.notes[-1] == f"{dataset.name}: {result.summary}"
    assert convert_uploads(files[::-1]).digest != result.digest


# ---------------------------------------------------------------- folder: and zip: datasets, the CLI

def _write_digit_folder(root: Path, per_digit=7) -> None:
    for digit in range(10):
        (root / str(digit)).mkdir(parents=True)
        for i in range(per_digit):
            (root / str(digit) / f"{i}.png").write_bytes(digit_picture((30 + i, 40)))


def test_folder_and_zip_datasets_load_label_and_join(tmp_path):
    folder = tmp_path / "digits"
    _write_digit_folder(folder)
    (folder / "3" / "broken.png").write_bytes(digit_picture()[:60])
    archive = tmp_path / "more.zip"
    archive.write_bytes(zip_bytes({f"{d}/x{i}.png": digit_picture() for d in range(10) for i in range(7)}))
    from_folder = data.load_dataset(f"folder:{folder}")
    assert len(from_folder) == 70 and sorted(np.bincount(from_folder.labels)) == [7] * 10
    assert any("3/broken.png" in note and "corrupt" in note for note in from_folder.notes)
    assert from_folder.notes[-1] == f"folder:{folder}: 70 images used from 70 files; 1 file refused"
    joined = data.load_dataset(f"folder:{folder}+zip:{archive}+mnist-sample")
    assert len(joined) == 70 + 70 + 5000 and joined.labels is not None


def test_folder_and_zip_errors_are_dataset_errors(tmp_path):
    with pytest.raises(data.DatasetError, match="folder:.*nowhere: no such folder"):
        data.load_dataset(f"folder:{tmp_path / 'nowhere'}")
    with pytest.raises(data.DatasetError, match="zip:.*missing.zip: no such file"):
        data.load_dataset(f"zip:{tmp_path / 'missing.zip'}")
    (tmp_path / "few").mkdir()
    (tmp_path / "few" / "a.png").write_bytes(digit_picture())
    with pytest.raises(data.DatasetError, match=r"1 image used from 1 file; at least 64 images are needed"):
        data.load_dataset(f"folder:{tmp_path / 'few'}")


def test_cli_train_with_a_bad_folder_dataset_exits_2_with_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gan_core", "train", "--out", str(tmp_path / "run"), "--steps", "1",
                             "--dataset", f"folder:{tmp_path / 'nowhere'}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "nowhere: no such folder" in lines[0] and "Traceback" not in result.stderr


# ---------------------------------------------------------------- limits and process boundaries

def test_streamlit_upload_limit_matches_the_core_limit():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == limits.MAX_UPLOAD_MB
    assert limits.UPLOAD_LIMITS.max_upload_bytes == limits.MAX_UPLOAD_MB * 1024 * 1024
    assert config["server"].get("enableXsrfProtection", True) is True


def test_uploads_never_imports_tensorflow_or_streamlit():
    code = ("import sys, gan_core.uploads as u; u.convert_uploads([('a.png', b'x')]); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'streamlit')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_large_phone_photo_is_shrunk_and_turned_upright():
    photo = Image.new("RGB", (4000, 3000), (245, 245, 240))
    ImageDraw.Draw(photo).rectangle([1900, 600, 2100, 2400], fill=(20, 20, 20))  # a '1', 9:1 tall
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned, the viewer rotates 90 degrees
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", exif=exif.tobytes())
    image = convert_uploads([("IMG_0001.jpg", buffer.getvalue())]).images[0]
    rows, cols = np.nonzero(image > 0.5)
    assert cols.max() - cols.min() + 1 == 20 and rows.max() - rows.min() + 1 <= 4  # lying down once upright
