"""Uploaded files -> a training set: 28x28 grey digits in [0, 1] made the way MNIST was, with a note per file.

Decisions:
- This runs in the web page's process, which must never import TensorFlow: NumPy, Pillow and the standard
  library only.
- Nothing from an upload is written to disk. Archives and gzip streams are read in memory, and every read is
  bounded, because a zip's central directory and a gzip header can both lie about sizes.
- A bad file never stops the good ones: each file (or archive entry) is converted on its own and a refusal
  becomes a note naming the file and the reason. Only the caller decides whether the images that remain are
  enough (`UploadResult.to_dataset`).
- Images become MNIST's form (LeCun et al.: the digit's bounding box fitted into 20x20 with its aspect kept,
  then placed in 28x28 by its centre of mass), white ink on black. A light background (the mean of the border
  pixels above 0.5) is inverted; `invert=True/False` overrides that detection.
- Arrays and IDX files already at 28x28 are taken as they are (they are MNIST-format by construction); other
  sizes go through the same fitting as images.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import stat
import struct
import threading
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image, ImageOps

from gan_core.data import Dataset, DatasetError
from gan_core.limits import CLI_LIMITS, MIB, UPLOAD_LIMITS, UploadLimits

IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF")  # the only Pillow decoders an upload may reach
IMAGE_MAGICS = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"BM": "BMP", b"GIF8": "GIF"}
NESTED_ARCHIVE_SUFFIXES = (".zip", ".npz", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst")
ARCHIVE_MAGICS = {b"7z\xbc\xaf\x27\x1c": "7z", b"Rar!": "RAR", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz",
                  b"\x28\xb5\x2f\xfd": "zstd"}
SYSTEM_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")
IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC = 0x0803, 0x0801
DIGIT_BOX, SIDE = 20, 28
INK_LEVEL = 0.1  # after contrast stretching, what counts as ink for the bounding box
MIN_CONTRAST = 0.1  # a picture whose ink is fainter than this over its background is blank
WORKING_SIDE = 560  # pictures are shrunk to at most this side before conversion: 28x the digit's 20 px box
_DECODE_LOCK = threading.Lock()  # warnings.catch_warnings is process-wide state; page sessions share threads


class UploadError(DatasetError):
    """An upload that cannot become a training set; the message says why and what to upload instead."""


class _Refused(Exception):
    """One file (or entry) cannot be used; the message is the reason shown beside its name."""


@dataclass(frozen=True)
class FileNote:
    """What happened to one file: `used` images taken from it, or a refusal and its reason."""

    file: str
    reason: str
    used: int = 0
    refused: bool = False

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass
class UploadResult:
    images: np.ndarray  # float32 (N, 28, 28) in [0, 1], white digits on black
    labels: np.ndarray | None  # int64 (N,) digits 0-9, only when every image has one
    notes: list[FileNote]
    summary: str  # one line: "1,000 images used from 3 files; 2 files refused"
    min_images: int = UPLOAD_LIMITS.min_images

    @property
    def count(self) -> int:
        return int(self.images.shape[0])

    @property
    def messages(self) -> list[str]:
        return [str(note) for note in self.notes]

    @property
    def refused(self) -> list[FileNote]:
        return [note for note in self.notes if note.refused]

    @property
    def ok(self) -> bool:
        """Enough images to train on."""
        return self.count >= self.min_images

    @property
    def digest(self) -> str:
        """SHA-256 of the converted pixels and labels: the same upload always gets the same name."""
        sha = hashlib.sha256(np.ascontiguousarray(self.images).tobytes())
        if self.labels is not None:
            sha.update(np.ascontiguousarray(self.labels).tobytes())
        return sha.hexdigest()

    def to_dataset(self, name: str | None = None, max_notes: int = UPLOAD_LIMITS.max_notes) -> Dataset:
        """A Dataset training can use, named 'upload:<sha256 prefix>' unless a name is given."""
        if not self.ok:
            raise UploadError(self.summary + "".join(f"; {note}" for note in self.refused[:3]))
        notes = [str(note) for note in self.refused[:max_notes]]
        if len(self.refused) > max_notes:
            notes.append(f"... and {len(self.refused) - max_notes} more files refused")
        notes.append(self.summary)
        return Dataset(name or f"upload:{self.digest[:12]}", self.images, self.labels, notes)


# ---------------------------------------------------------------- pictures -> MNIST form

def detect_light_background(grey: np.ndarray) -> bool:
    """True when the border pixels of (H, W) or (N, H, W) images in [0, 1] average above 0.5."""
    grey = np.asarray(grey, np.float32)
    border = np.concatenate([grey[..., 0, :].ravel(), grey[..., -1, :].ravel(),
                             grey[..., :, 0].ravel(), grey[..., :, -1].ravel()])
    return bool(border.size) and float(border.mean()) > 0.5


def mnist_form(grey: np.ndarray, invert: bool | None = None) -> np.ndarray | None:
    """One (H, W) picture in [0, 1] -> (28, 28) float32 white-on-black digit, or None when it is blank."""
    grey = np.asarray(grey, np.float32)
    if invert if invert is not None else detect_light_background(grey):
        grey = 1.0 - grey
    # Photos and scans have a grey background: measure it on the border and stretch ink to [0, 1] above it.
    background = float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))
    peak = float(grey.max())
    if peak - background < MIN_CONTRAST:
        return None
    ink = np.clip((grey - background) / (peak - background), 0.0, 1.0)
    rows, cols = np.nonzero(ink > INK_LEVEL)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = ink.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size != (width, height):
        # Pillow's resampling filters widen with the scale factor, so shrinking anti-aliases as MNIST's did.
        ink = np.asarray(Image.fromarray(ink, mode="F").resize(size, Image.Resampling.BILINEAR), np.float32)
        ink = np.clip(ink, 0.0, 1.0)
    return _place_by_centre_of_mass(ink)


def _place_by_centre_of_mass(ink: np.ndarray) -> np.ndarray:
    height, width = ink.shape
    total = float(ink.sum())
    if total <= 0:
        centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    else:
        centre_y = float((ink.sum(axis=1) * np.arange(height)).sum()) / total
        centre_x = float((ink.sum(axis=0) * np.arange(width)).sum()) / total
    middle = (SIDE - 1) / 2
    # Kept inside the frame: a lopsided digit (a 7's heavy bar) would otherwise lose a stroke to the edge.
    top = min(max(int(round(middle - centre_y)), 0), SIDE - height)
    left = min(max(int(round(middle - centre_x)), 0), SIDE - width)
    out = np.zeros((SIDE, SIDE), np.float32)
    out[top:top + height, left:left + width] = ink
    return out


def _grey_from_pillow(image: Image.Image) -> np.ndarray:
    """Any PNG/JPEG/BMP/GIF mode -> (H, W) float32 grey in [0, 1]; transparency becomes a contrasting ground."""
    if image.mode.startswith("I"):  # 16-bit PNG: Pillow's convert("L") would clip it to white
        pixels = np.asarray(image, np.float32)[::_shrink_factor(image.size), ::_shrink_factor(image.size)]
        return pixels / max(float(pixels.max()), 1.0) if pixels.max() > 255 else pixels / 255.0
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    # Shrink big photos while still uint8: a 4,000-px side in float32 RGBA would take a quarter of a gigabyte,
    # and the digit ends up 20 px tall anyway.
    image = image.convert("LA" if has_alpha else "L")
    factor = _shrink_factor(image.size)
    if factor > 1:
        image = image.reduce(factor)
    if not has_alpha:
        return np.asarray(image, np.float32) / 255.0
    grey_alpha = np.asarray(image, np.float32) / 255.0
    grey, alpha = grey_alpha[..., 0], grey_alpha[..., 1]
    if float(alpha.sum()) == 0.0:
        return np.zeros_like(grey)
    # Ink drawn on a transparent canvas: its own colour says which ground makes it visible.
    ink_is_light = float((grey * alpha).sum() / alpha.sum()) > 0.5
    return alpha * grey + (1.0 - alpha) * (0.0 if ink_is_light else 1.0)


def _shrink_factor(size: tuple[int, int]) -> int:
    return max(1, -(-max(size) // WORKING_SIDE))


def decode_image(data: bytes, limits: UploadLimits = UPLOAD_LIMITS) -> np.ndarray:
    """PNG/JPEG/BMP/GIF bytes -> (H, W) float32 grey in [0, 1]; raises _Refused with the reason."""
    with _DECODE_LOCK, warnings.catch_warnings():
        # Pillow warns, rather than fails, on a merely large image; here that is a refusal. Per call, so
        # the process-wide Image.MAX_IMAGE_PIXELS stays as other code expects it.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                width, height = image.size
                if width * height > limits.max_image_pixels:
                    raise _Refused(f"{width} x {height} pixels is over the limit of {limits.max_image_pixels:,} "
                                   f"(a decompression bomb?); shrink it first")
                if width < 1 or height < 1:
                    raise _Refused("has no pixels")
                image.seek(0)  # an animated GIF: its first frame
                image.load()
                return _grey_from_pillow(ImageOps.exif_transpose(image))  # phone photos carry their rotation
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise _Refused(f"refused as a possible decompression bomb ({_short(exc)})") from exc
        except Image.UnidentifiedImageError as exc:
            kind = next((kind for magic, kind in IMAGE_MAGICS.items() if data.startswith(magic)), None)
            if kind:  # the signature is right but the header behind it is not
                raise _Refused(f"corrupt or truncated {kind} image (its header cannot be read)") from exc
            raise _Refused("not an image (PNG, JPEG, BMP or GIF), a .zip, IDX or .npy/.npz file") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError) as exc:
            raise _Refused(f"corrupt or truncated image ({_short(exc)})") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


# ---------------------------------------------------------------- arrays, IDX

def _array_to_unit(array: np.ndarray, what: str) -> np.ndarray:
    """uint8 0-255 (or any integer array within it) or float 0-1 -> float32 in [0, 1]."""
    if array.dtype.kind in "ui":
        if array.size and (int(array.min()) < 0 or int(array.max()) > 255):
            raise _Refused(f"{what} holds integers outside 0-255 ({int(array.min())} to {int(array.max())})")
        return array.astype(np.float32) / 255.0
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise _Refused(f"{what} holds NaN or infinite values")
        low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
        if low < 0.0 or high > 1.0 + 1e-6:
            hint = "; divide by 255 first" if high <= 255.0 and low >= 0.0 else ""
            raise _Refused(f"{what} holds floats from {low:g} to {high:g}, expected 0 to 1{hint}")
        return np.clip(array.astype(np.float32), 0.0, 1.0)
    raise _Refused(f"{what} has dtype {array.dtype}; expected uint8 (0-255) or float (0-1)")


def _images_from_array(array: np.ndarray, what: str, invert: bool | None,
                       limits: UploadLimits) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28), (N, 784), (N, H, W) or (N, H, W, 1) -> float32 (M, 28, 28) and the kept indices."""
    shape = array.shape
    if array.ndim == 4 and shape[-1] == 1:
        array = array[..., 0]
    elif array.ndim == 2 and shape[1] == SIDE * SIDE:
        array = array.reshape(-1, SIDE, SIDE)
    if array.ndim != 3 or 0 in array.shape:
        raise _Refused(f"{what} has shape {shape}; expected (N, 28, 28), (N, 784) or (N, H, W)")
    if max(array.shape[1:]) > limits.max_array_side or min(array.shape[1:]) < 4:
        raise _Refused(f"{what} has images of {array.shape[1]} x {array.shape[2]}; sides from 4 to "
                       f"{limits.max_array_side} are accepted")
    images = _array_to_unit(array, what)
    flip = invert if invert is not None else detect_light_background(images)
    if images.shape[1:] == (SIDE, SIDE):
        return (1.0 - images if flip else images), np.arange(len(images))
    formed = [mnist_form(image, flip) for image in images]
    kept = np.array([i for i, image in enumerate(formed) if image is not None], dtype=np.int64)
    if not len(kept):
        raise _Refused(f"{what}: every image is blank")
    return np.stack([formed[i] for i in kept]), kept


def _labels_from_array(array: np.ndarray, count: int, what: str) -> np.ndarray:
    if array.ndim != 1 or array.dtype.kind not in "ui" or len(array) != count:
        raise _Refused(f"{what} should be {count} integer labels, one per image (got {array.dtype} {array.shape})")
    if len(array) and (int(array.min()) < 0 or int(array.max()) > 9):
        raise _Refused(f"{what} holds labels outside 0-9")
    return array.astype(np.int64)


def load_npy(data: bytes, what: str = "array") -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise _Refused(f"{what} holds Python objects, which are never unpickled; save plain numbers") from exc
        raise _Refused(f"{what} is not a readable .npy array ({_short(exc)})") from exc
    except (OSError, EOFError) as exc:
        raise _Refused(f"{what} is not a readable .npy array ({_short(exc)})") from exc


def parse_idx(data: bytes) -> tuple[int, np.ndarray]:
    """Raw IDX bytes -> (magic, uint8 array); raises _Refused when the header and the data disagree."""
    if len(data) < 8 or data[0:2] != b"\x00\x00" or data[2] != 0x08:
        raise _Refused("not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim not in (1, 3) or len(data) < header:
        raise _Refused(f"IDX file with {ndim} dimensions; expected 3 (images) or 1 (labels)")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    count = math.prod(dims)  # Python ints: a forged header cannot overflow into a matching size
    if len(data) != header + count:
        raise _Refused(f"IDX header promises {dims} ({count:,} bytes) but the file holds {len(data) - header:,}; "
                       f"it is truncated or corrupt")
    magic = IDX_IMAGES_MAGIC if ndim == 3 else IDX_LABELS_MAGIC
    return magic, np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


# ---------------------------------------------------------------- archives

def is_unsafe_path(name: str) -> bool:
    """Absolute paths, drive letters and '..' parts: entries that try to leave wherever they are unpacked."""
    normal = name.replace("\\", "/")
    return (normal.startswith("/") or (len(normal) > 1 and normal[1] == ":")
            or any(part == ".." for part in normal.split("/")))


def _is_system_file(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return "__MACOSX" in parts or parts[-1] in SYSTEM_FILES or parts[-1].startswith("._")


def _declared_zip_entries(data: bytes) -> tuple[int, int] | None:
    """(entry count, central directory bytes) from the end record, read before zipfile builds its index."""
    tail = data[-(65535 + 22):]
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or len(tail) - position < 22:
        return None
    _, _, _, _, total, directory_size, _, _ = struct.unpack("<4s4H2LH", tail[position:position + 22])
    return total, directory_size


def _bounded_read(stream, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        chunk = stream.read(min(MIB, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise _Refused(f"inflates past {limit:,} bytes, more than its header declared or the upload "
                           f"may hold in total (a zip bomb?)")


class _Budget:
    """Inflated bytes left for this conversion, shared by every archive entry and gzip stream."""

    def __init__(self, limits: UploadLimits):
        self.limits = limits
        self.uncompressed_left = limits.max_total_uncompressed

    def check_ratio(self, inflated: int, compressed: int, what: str) -> None:
        ratio = inflated / max(compressed, 1)
        if inflated > self.limits.ratio_floor_bytes and ratio > self.limits.max_compression_ratio:
            raise _Refused(f"{what} compression ratio {ratio:,.0f}:1 is over {self.limits.max_compression_ratio:g}:1 "
                           f"(a zip bomb?)")

    def take(self, size: int, what: str) -> None:
        if size > self.uncompressed_left:
            raise _Refused(f"{what} would inflate the upload past {self.limits.max_total_uncompressed // MIB} MB "
                           f"in total")
        self.uncompressed_left -= size

    def gunzip(self, data: bytes) -> bytes:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                out = _bounded_read(stream, self.uncompressed_left)
        except (OSError, EOFError, zlib.error) as exc:
            raise _Refused(f"not a readable gzip file ({_short(exc)})") from exc
        self.check_ratio(len(out), len(data), "gzip")
        self.take(len(out), "gzip")
        return out


def _zip_members(archive: str, data: bytes, budget: _Budget) -> Iterator[tuple[str, bytes | _Refused]]:
    """(name, bytes) for every usable entry, (name, _Refused) for each refused one; whole-archive problems raise."""
    limits = budget.limits
    declared = _declared_zip_entries(data)
    if declared is not None:
        count, directory_size = declared
        # 0xFFFF means a zip64 directory: past the limit for anything an honest upload holds.
        if count > limits.max_entries or directory_size > limits.max_entries * 300:
            shown = "65,535 or more" if count == 0xFFFF else f"{count:,}"
            raise _Refused(f"holds {shown} entries ({directory_size:,}-byte directory); at most "
                           f"{limits.max_entries:,} are accepted")
    try:
        archive_file = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error) as exc:
        raise _Refused(f"not a readable zip (truncated or corrupt: {_short(exc)})") from exc
    with archive_file:
        infos = archive_file.infolist()
        if len(infos) > limits.max_entries:
            raise _Refused(f"holds {len(infos):,} entries; at most {limits.max_entries:,} are accepted")
        files = [info for info in infos if not info.is_dir()]
        declared_total = sum(info.file_size for info in files)
        if declared_total > budget.uncompressed_left:
            raise _Refused(f"declares {declared_total / MIB:,.0f} MB uncompressed; at most "
                           f"{limits.max_total_uncompressed // MIB} MB in total are accepted")
        for info in files:
            name = info.filename
            if _is_system_file(name):
                continue
            try:
                yield name, _read_member(archive_file, info, budget)
            except _Refused as refusal:
                yield name, refusal


def _read_member(archive_file: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget) -> bytes:
    name = info.filename
    if is_unsafe_path(name):
        raise _Refused("unsafe path (absolute or with '..'); entries must stay inside the archive")
    if info.flag_bits & 0x1:
        raise _Refused("encrypted entry; zip it without a password")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise _Refused("symbolic link; put the file itself in the archive")
    if name.lower().endswith(NESTED_ARCHIVE_SUFFIXES):
        raise _Refused("nested archive; upload it on its own, not inside another")
    budget.check_ratio(info.file_size, info.compress_size, "entry")
    budget.take(info.file_size, "entry")
    try:
        with archive_file.open(info) as stream:
            content = _bounded_read(stream, info.file_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
        raise _Refused(f"corrupt entry ({_short(exc)})") from exc
    if _archive_kind(content):
        raise _Refused(f"nested archive ({_archive_kind(content)}); upload it on its own, not inside another")
    return content


def _archive_kind(data: bytes) -> str | None:
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[257:262] == b"ustar":
        return "tar"
    return next((kind for magic, kind in ARCHIVE_MAGICS.items() if data.startswith(magic)), None)


# ---------------------------------------------------------------- one conversion

def label_from_path(name: str) -> int | None:
    """The digit a file is filed under: its folder's name when that is one digit 0-9 ('7/a.png' -> 7)."""
    parts = name.replace("\\", "/").split("/")
    return int(parts[-2]) if len(parts) >= 2 and len(parts[-2]) == 1 and parts[-2].isdigit() else None


@dataclass
class _Collector:
    limits: UploadLimits
    invert: bool | None
    budget: _Budget = None  # type: ignore[assignment]
    batches: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray | None] = field(default_factory=list)
    notes: list[FileNote] = field(default_factory=list)
    count: int = 0
    full_note_given: bool = False

    def __post_init__(self) -> None:
        self.budget = _Budget(self.limits)

    def refuse(self, name: str, reason: str) -> None:
        self.notes.append(FileNote(name, reason, refused=True))

    def add(self, name: str, images: np.ndarray, labels: np.ndarray | None, what: str = "") -> None:
        room = self.limits.max_images - self.count
        if room <= 0:
            if not self.full_note_given:
                self.refuse(name, f"not used: the limit of {self.limits.max_images:,} images is reached")
                self.full_note_given = True
            return
        taken = images[:room]
        self.batches.append(taken.astype(np.float32, copy=False))
        self.labels.append(None if labels is None else labels[:room])
        self.count += len(taken)
        reason = what or f"{len(taken):,} images"
        if len(taken) < len(images):
            reason += f"; only the first {len(taken):,} of {len(images):,} used (limit {self.limits.max_images:,})"
        self.notes.append(FileNote(name, reason, used=len(taken)))

    # -- sources

    def read_file(self, name: str, data: bytes, in_archive: bool, idx_parts: dict) -> None:
        """Convert one file; anything wrong with it becomes a note, never an exception."""
        try:
            self._read(name, data, in_archive, idx_parts)
        except _Refused as refusal:
            self.refuse(name, str(refusal))
        except MemoryError:
            self.refuse(name, "too large to convert in memory")
        except Exception as exc:  # a decoder bug must not cost the user the other files
            self.refuse(name, f"could not be read ({type(exc).__name__}: {_short(exc)})")

    def _read(self, name: str, data: bytes, in_archive: bool, idx_parts: dict) -> None:
        lower = name.lower()
        if not data:
            raise _Refused("empty file")
        if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            if in_archive:
                raise _Refused("nested archive; upload it on its own, not inside another")
            if lower.endswith(".npz"):
                return self._read_npz(name, data)
            return self._read_zip(name, data)
        if data[:6] == b"\x93NUMPY":
            return self._read_array(name, load_npy(data, "the array"), None)
        if data[:2] == b"\x1f\x8b":
            if in_archive:
                raise _Refused("nested archive (gzip); upload it on its own, not inside another")
            raw = self.budget.gunzip(data)
            if raw[:3] != b"\x00\x00\x08":
                raise _Refused("a gzip file that holds no IDX data")
            return self._stash_idx(name, raw, idx_parts)
        if data[:3] == b"\x00\x00\x08":
            return self._stash_idx(name, data, idx_parts)
        kind = _archive_kind(data)
        if kind:
            raise _Refused(f"{kind} archives are not accepted; use a .zip")
        label = label_from_path(name)
        grey = decode_image(data, self.limits)
        digit = mnist_form(grey, self.invert)
        if digit is None:
            raise _Refused("blank: no digit stands out from the background")
        self.add(name, digit[None], None if label is None else np.array([label], np.int64), "1 image")

    def _read_array(self, name: str, array: np.ndarray, labels: np.ndarray | None, what: str = "the array") -> None:
        images, kept = _images_from_array(array, what, self.invert, self.limits)
        dropped = len(array) - len(images)
        suffix = f" ({dropped} blank images dropped)" if dropped else ""
        self.add(name, images, None if labels is None else labels[kept],
                 f"{len(images):,} images" + (" with labels" if labels is not None else "") + suffix)

    def _read_npz(self, name: str, data: bytes) -> None:
        # An .npz is a zip of .npy files: read through the same bounded reader, never np.load's lazy zip.
        arrays: dict[str, np.ndarray] = {}
        for member, content in _zip_members(name, data, self.budget):
            if isinstance(content, _Refused):
                raise _Refused(f"entry {member}: {content}")
            key = member.removesuffix(".npy")
            arrays[key] = load_npy(content, f"array '{key}'")
        image_keys = [key for key, array in arrays.items() if array.ndim >= 2]
        if not image_keys:
            raise _Refused(f"no array of images among {', '.join(sorted(arrays)) or 'no arrays'}")
        label_keys = [key for key, array in arrays.items() if array.ndim == 1]
        for key in image_keys:
            partner = _label_partner(key, label_keys, len(image_keys))
            what = f"array '{key}'"
            try:
                labels = None if partner is None else _labels_from_array(arrays[partner], len(arrays[key]),
                                                                           f"labels '{partner}'")
                self._read_array(f"{name}[{key}]", arrays[key], labels, what)
            except _Refused as refusal:
                self.refuse(f"{name}[{key}]", str(refusal))

    def _read_zip(self, name: str, data: bytes) -> None:
        idx_parts: dict = {}
        for member, content in _zip_members(name, data, self.budget):
            entry = f"{name}/{member}"
            if isinstance(content, _Refused):
                self.refuse(entry, str(content))
            else:
                self.read_file(entry, content, in_archive=True, idx_parts=idx_parts)
        self.finish_idx(idx_parts)

    def _stash_idx(self, name: str, raw: bytes, idx_parts: dict) -> None:
        """IDX images and labels arrive as separate files: keep them until every file of the group is read."""
        magic, array = parse_idx(raw)
        idx_parts.setdefault("images" if magic == IDX_IMAGES_MAGIC else "labels", {})[name] = array

    def finish_idx(self, idx_parts: dict) -> None:
        images, labels = idx_parts.get("images", {}), dict(idx_parts.get("labels", {}))
        for name, array in images.items():
            partner = _idx_partner(name, list(labels), len(images))
            label_array = labels.pop(partner) if partner is not None else None
            try:
                checked = None
                if label_array is not None:
                    try:
                        checked = _labels_from_array(label_array, len(array), f"labels file {partner}")
                    except _Refused as refusal:
                        self.refuse(partner, f"{refusal}; the images are used without labels")
                self._read_array(name, array, checked, "the IDX images")
            except _Refused as refusal:
                self.refuse(name, str(refusal))
        for name in labels:
            self.refuse(name, "IDX labels with no matching images file (name it like "
                              "'train-images-idx3-ubyte' beside 'train-labels-idx1-ubyte')")

    def result(self) -> UploadResult:
        images = np.concatenate(self.batches) if self.batches else np.zeros((0, SIDE, SIDE), np.float32)
        labelled = bool(self.labels) and all(part is not None for part in self.labels)
        labels = np.concatenate(self.labels) if labelled else None
        if not labelled and any(part is not None for part in self.labels):
            unlabelled = sum(len(b) for b, part in zip(self.batches, self.labels) if part is None)
            self.notes.append(FileNote("labels", f"not used: {unlabelled:,} images have no label (a folder "
                                                 f"named 0-9 or a labels array), so the set is unlabelled"))
        return UploadResult(images, labels, self.notes, self._summary(len(images)), self.limits.min_images)

    def _summary(self, count: int) -> str:
        used_files = sum(1 for note in self.notes if note.used)
        refused = sum(1 for note in self.notes if note.refused)
        if not self.notes and count == 0:
            return "nothing uploaded; add PNG, JPEG, BMP or GIF images, a .zip of them, IDX or .npy/.npz files"
        text = f"{count:,} {_plural(count, 'image')} used from {used_files:,} {_plural(used_files, 'file')}"
        if refused:
            text += f"; {refused:,} {_plural(refused, 'file')} refused"
        if count < self.limits.min_images:
            text += f"; at least {self.limits.min_images} images are needed to train"
        return text


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _label_partner(key: str, label_keys: list[str], image_arrays: int) -> str | None:
    """x_train -> y_train, images -> labels; with one image array and one 1-D array, that one."""
    for candidate in (key.replace("x", "y", 1), key.replace("X", "y", 1), key.replace("images", "labels"),
                      key.replace("image", "label")):
        if candidate != key and candidate in label_keys:
            return candidate
    return label_keys[0] if image_arrays == 1 and len(label_keys) == 1 else None


def _idx_partner(name: str, label_names: list[str], image_files: int) -> str | None:
    def stem(text: str) -> str:
        return text.lower().removesuffix(".gz").replace("labels-idx1", "images-idx3").replace("labels", "images")
    for label_name in label_names:
        if stem(label_name) == stem(name):
            return label_name
    return label_names[0] if image_files == 1 and len(label_names) == 1 else None


def convert_uploads(files: Iterable[tuple[str, bytes]], invert: bool | None = None,
                    limits: UploadLimits = UPLOAD_LIMITS) -> UploadResult:
    """(file name, bytes) pairs -> 28x28 training images, labels when every image has one, and a note per file.

    Accepts PNG / JPEG / BMP / GIF images, .zip archives of them (folders named 0-9 label their images),
    MNIST IDX files (raw or .gz, images with an optional labels file) and .npy / .npz arrays. Never raises for
    bad input: refusals are notes in the result.
    """
    collector = _Collector(limits, invert)
    idx_parts: dict = {}
    received = 0
    for index, (name, data) in enumerate(files):
        name = str(name) or "unnamed"
        if index >= limits.max_files:
            collector.refuse(name, f"not read: at most {limits.max_files:,} files in one upload")
            continue
        if len(data) > limits.max_file_bytes or received + len(data) > limits.max_upload_bytes:
            collector.refuse(name, f"not read: over the upload limit of {limits.max_upload_bytes // MIB} MB")
            continue
        received += len(data)
        collector.read_file(name, bytes(data), in_archive=False, idx_parts=idx_parts)
    collector.finish_idx(idx_parts)
    return collector.result()


# ---------------------------------------------------------------- the command line's folder: and zip: datasets

def _walk_folder(root: Path, limits: UploadLimits, skipped: list[FileNote]) -> Iterator[tuple[str, bytes]]:
    for directory, subdirectories, names in os.walk(root):
        subdirectories.sort()
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".") and d != "__MACOSX"]
        for file_name in sorted(names):
            path = Path(directory) / file_name
            relative = path.relative_to(root).as_posix()
            if _is_system_file(relative) or file_name.startswith("."):
                continue
            try:
                size = path.stat().st_size
                if size > limits.max_file_bytes:
                    skipped.append(FileNote(relative, f"not read: {size / MIB:,.0f} MB is over the "
                                                      f"{limits.max_file_bytes // MIB} MB limit for one file",
                                            refused=True))
                    continue
                yield relative, path.read_bytes()
            except OSError as exc:
                skipped.append(FileNote(relative, f"cannot be read ({exc.strerror or exc})", refused=True))


def load_folder(folder: str | Path, invert: bool | None = None, limits: UploadLimits = CLI_LIMITS) -> Dataset:
    """`--dataset folder:PATH`: every image, archive or array under PATH (recursively), converted as an upload."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UploadError(f"folder:{folder}: no such folder; give a folder of digit images (sub-folders 0-9 "
                          f"label them).")
    skipped: list[FileNote] = []
    result = convert_uploads(_walk_folder(root, limits, skipped), invert, limits)
    result.notes[:0] = skipped
    return _dataset_or_error(result, f"folder:{folder}", limits)


def load_zip(path: str | Path, invert: bool | None = None, limits: UploadLimits = CLI_LIMITS) -> Dataset:
    """`--dataset zip:PATH`: a .zip of digit images (or IDX / arrays), converted as an upload."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UploadError(f"zip:{path}: no such file; give a .zip of digit images.")
    if file.stat().st_size > limits.max_file_bytes:
        raise UploadError(f"zip:{path}: {file.stat().st_size / MIB:,.0f} MB is over the "
                          f"{limits.max_file_bytes // MIB} MB limit.")
    result = convert_uploads([(file.name, file.read_bytes())], invert, limits)
    return _dataset_or_error(result, f"zip:{path}", limits)


def _dataset_or_error(result: UploadResult, name: str, limits: UploadLimits) -> Dataset:
    if not result.ok:
        detail = "".join(f"; {note}" for note in result.refused[:3])
        raise UploadError(f"{name}: {result.summary}{detail}")
    refused = [f"{name}: {note}" for note in result.refused]
    summary = f"{name}: {result.summary}"
    dataset = result.to_dataset(name, limits.max_notes)
    dataset.notes = refused[:limits.max_notes] + (
        [f"{name}: ... and {len(refused) - limits.max_notes} more files refused"]
        if len(refused) > limits.max_notes else []) + [summary]
    return dataset
