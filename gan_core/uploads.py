"""Uploaded files -> a training set: 28x28 grey digits made the way MNIST was, with a note per file.

Decisions:
- A stranger's bytes are never parsed in the caller's process: `convert_uploads`, `convert_folder` and
  `convert_zip_file` run the conversion in a limited child (gan_core/sandbox.py) and get back uint8 pixels,
  labels and notes. A child that crashes or passes its memory, CPU or time limit is a refusal naming the files.
  `convert_in_process` is the conversion itself, what the child runs.
- NumPy, Pillow and the standard library only: the web page's process imports this module and must never
  import TensorFlow. This module does not import gan_core.data (data imports it: one direction).
- Budgets before work: files past the count or byte total are refused before they are read (the page checks
  the sizes the browser declared before it reads a byte); an archive's entry count is read from the central
  directory zipfile will use (zip64 included) and counted before zipfile indexes it; every image's header
  says its size before it is decoded, and an upload may decode at most `max_decoded_pixels` in total; an
  array or IDX file is cut to the room left under `max_images` before any image is converted.
- Nothing from an upload is written to disk. Archives and gzip streams are read in memory, and every read is
  bounded, because a zip's central directory and a gzip header can both lie about sizes.
- A bad file never stops the good ones: each file (or archive entry) is converted on its own and a refusal
  becomes a note naming the file and the reason. Only the caller decides whether the images that remain are
  enough (`UploadResult.ok`).
- Images become MNIST's form (LeCun et al.: the digit's bounding box fitted into 20x20 with its aspect kept,
  then placed in 28x28 by its centre of mass), white ink on black. A light background (the mean of the border
  pixels above 0.5) is inverted; `invert=True/False` overrides that detection.
- Arrays and IDX files already at 28x28 are taken as they are (they are MNIST-format by construction); other
  sizes go through the same fitting as images.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import math
import os
import stat
import struct
import warnings
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image, ImageOps

from gan_core import sandbox
from gan_core.limits import CLI_LIMITS, CLI_PARSER_LIMITS, MIB, PAGE_PARSER_LIMITS, UPLOAD_LIMITS, ParserLimits, UploadLimits

IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF")  # the only Pillow decoders an upload may reach
IMAGE_MAGICS = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"BM": "BMP", b"GIF8": "GIF"}
NESTED_ARCHIVE_SUFFIXES = (".zip", ".npz", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst")
ARCHIVE_MAGICS = {b"7z\xbc\xaf\x27\x1c": "7z", b"Rar!": "RAR", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz",
                  b"\x28\xb5\x2f\xfd": "zstd"}
SYSTEM_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")
IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC = 0x0803, 0x0801  # 2051 and 2049
DIGIT_BOX, SIDE = 20, 28
INK_LEVEL = 0.1  # after contrast stretching, what counts as ink for the bounding box
MIN_CONTRAST = 0.1  # a picture whose ink is fainter than this over its background is blank
CUT_WORDS = "only the first"  # how a note says a file was cut to the room left
FIT_BLOCK_PIXELS = 8 * 1024 * 1024  # pixels fitted at once (32 MB of float32)
FIT_BLOCK_IMAGES = 4096  # images fitted at once (their 28x28 float32 results: 13 MB)
WORKING_SIDE = 560  # pictures are shrunk to at most this side before conversion: 28x the digit's 20 px box
ZIP_CENTRAL_ENTRY = b"PK\x01\x02"
ZIP_CENTRAL_ENTRY_SIZE = 46  # the fixed part of one central directory record


class UploadError(ValueError):
    """An upload that cannot become a training set; the message says why and what to upload instead."""


class Refused(Exception):
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
    pixels: np.ndarray  # uint8 (N, 28, 28), white digits on black
    labels: np.ndarray | None  # int64 (N,) digits 0-9, only when every image has one
    notes: list[FileNote]
    summary: str  # one line: "1,000 images used from 3 files; 2 files refused"
    min_images: int = UPLOAD_LIMITS.min_images
    report: sandbox.ParseReport | None = None  # what the parsing child cost, when there was one

    @property
    def images(self) -> np.ndarray:
        """float32 (N, 28, 28) in [0, 1], computed on each call: keep `pixels` (a quarter of the memory)."""
        return self.pixels.astype(np.float32) / 255.0

    @property
    def count(self) -> int:
        return int(self.pixels.shape[0])

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
        sha = hashlib.sha256(np.ascontiguousarray(self.pixels).tobytes())
        if self.labels is not None:
            sha.update(np.ascontiguousarray(self.labels).tobytes())
        return sha.hexdigest()

    def dataset_notes(self, max_notes: int = UPLOAD_LIMITS.max_notes, prefix: str = "") -> list[str]:
        """The refusals and cuts (at most `max_notes`, the rest counted) and the summary, as a Dataset's notes."""
        refused = [f"{prefix}{note}" for note in self.notes if note.refused or CUT_WORDS in note.reason]
        more = [f"{prefix}... and {len(refused) - max_notes} more files refused"] if len(refused) > max_notes else []
        return refused[:max_notes] + more + [prefix + self.summary]

    def to_plain(self) -> tuple[dict, dict[str, np.ndarray]]:
        """What crosses from the parsing child: JSON and plain arrays."""
        arrays = {"pixels": self.pixels}
        if self.labels is not None:
            arrays["labels"] = self.labels
        return {"notes": [asdict(note) for note in self.notes], "summary": self.summary,
                "min_images": self.min_images}, arrays

    @classmethod
    def from_plain(cls, meta: dict, arrays: dict[str, np.ndarray], report=None) -> "UploadResult":
        pixels = arrays.get("pixels")
        labels = arrays.get("labels")
        if (pixels is None or pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[1:] != (SIDE, SIDE)
                or (labels is not None and (labels.dtype != np.int64 or labels.shape != (len(pixels),)))):
            raise sandbox.SandboxRefusal("the reader's answer is not a set of 28x28 digits")
        notes = [FileNote(str(n["file"]), str(n["reason"]), int(n["used"]), bool(n["refused"])) for n in meta["notes"]]
        return cls(pixels, labels, notes, str(meta["summary"]), int(meta["min_images"]), report)


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
    flip = invert if invert is not None else detect_light_background(grey)
    fitted, kept = fit_batch(grey[None], flip)
    return fitted[0] if len(kept) else None


def fit_batch(grey: np.ndarray, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) pictures in [0, 1] -> (M, 28, 28) float32 digits in MNIST form and the indices kept (blanks
    dropped), a whole array at once: a 70,000-image array fits in seconds, where one image at a time took
    minutes.

    Photos and scans have a grey background: it is measured on the border and the ink stretched to [0, 1]
    above it; the ink's bounding box is fitted into 20x20 (aspect kept) and placed in 28x28 by its centre of
    mass, kept inside the frame (a lopsided 7 would otherwise lose a stroke to the edge). Boxes of one size are
    resized together with Pillow's own bilinear weights (read off by resizing an identity matrix), which widen
    with the scale factor, so shrinking anti-aliases as MNIST's did.
    """
    grey = np.asarray(grey, np.float32)
    if flip:
        grey = 1.0 - grey
    border = np.concatenate([grey[:, 0, :], grey[:, -1, :], grey[:, :, 0], grey[:, :, -1]], axis=1)
    background = np.median(border, axis=1).astype(np.float32)
    peak = grey.max(axis=(1, 2))
    kept = np.nonzero(peak - background >= MIN_CONTRAST)[0]
    span = (peak - background)[kept][:, None, None]
    ink = np.clip((grey[kept] - background[kept][:, None, None]) / span, 0.0, 1.0)
    mask = ink > INK_LEVEL
    rows_any, cols_any = mask.any(axis=2), mask.any(axis=1)
    top, left = rows_any.argmax(axis=1), cols_any.argmax(axis=1)
    heights = grey.shape[1] - rows_any[:, ::-1].argmax(axis=1) - top
    widths = grey.shape[2] - cols_any[:, ::-1].argmax(axis=1) - left
    out = np.zeros((len(kept), SIDE, SIDE), np.float32)
    for height, width in set(zip(heights.tolist(), widths.tolist())):
        members = np.nonzero((heights == height) & (widths == width))[0]
        rows = top[members][:, None, None] + np.arange(height)[None, :, None]
        cols = left[members][:, None, None] + np.arange(width)[None, None, :]
        crops = ink[members[:, None, None], rows, cols]
        scale = DIGIT_BOX / max(height, width)
        new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
        if (new_height, new_width) != (height, width):
            resized = _resample_matrix(height, new_height) @ crops @ _resample_matrix(width, new_width).T
            crops = np.clip(resized, 0.0, 1.0).astype(np.float32)
        _place_batch(out, members, crops)
    return out, kept


@functools.lru_cache(maxsize=1024)
def _resample_matrix(size: int, new_size: int) -> np.ndarray:
    """(new_size, size): Pillow's bilinear resampling of a line of `size` pixels to `new_size`, as a matrix."""
    identity = Image.fromarray(np.eye(size, dtype=np.float32), mode="F")
    return np.asarray(identity.resize((size, new_size), Image.Resampling.BILINEAR), np.float32)


def _place_batch(out: np.ndarray, members: np.ndarray, crops: np.ndarray) -> None:
    """_place_by_centre_of_mass for crops of one size, written into out[members]."""
    count, height, width = crops.shape
    total = crops.sum(axis=(1, 2)).astype(np.float64)  # float32 sums, as _place_by_centre_of_mass takes them
    safe = np.where(total > 0, total, 1.0)
    centre_y = np.where(total > 0, (crops.sum(axis=2) * np.arange(height)).sum(axis=1) / safe, (height - 1) / 2)
    centre_x = np.where(total > 0, (crops.sum(axis=1) * np.arange(width)).sum(axis=1) / safe, (width - 1) / 2)
    middle = (SIDE - 1) / 2
    top = np.clip(np.rint(middle - centre_y).astype(int), 0, SIDE - height)
    left = np.clip(np.rint(middle - centre_x).astype(int), 0, SIDE - width)
    rows = top[:, None, None] + np.arange(height)[None, :, None]
    cols = left[:, None, None] + np.arange(width)[None, None, :]
    out[members[:, None, None], rows, cols] = crops


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


def decode_image(data: bytes, limits: UploadLimits = UPLOAD_LIMITS, budget: "_Budget | None" = None) -> np.ndarray:
    """PNG/JPEG/BMP/GIF bytes -> (H, W) float32 grey in [0, 1]; raises Refused with the reason.

    The header's size is checked against the per-image limit and the upload's decoded-pixel budget before
    a pixel is decoded. A JPEG is decoded at the smallest scale (1/2 to 1/8) that still gives the working size.
    """
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            width, height = image.size
            if width * height > limits.max_image_pixels:
                raise Refused(f"{width} x {height} pixels is over the limit of {limits.max_image_pixels:,} "
                              f"(a decompression bomb?); shrink it first")
            if width < 1 or height < 1:
                raise Refused("has no pixels")
            if image.format == "JPEG":
                image.draft("L", (max(1, width * WORKING_SIDE // max(width, height)),
                                  max(1, height * WORKING_SIDE // max(width, height))))
            if budget is not None:
                budget.take_pixels(image.size[0] * image.size[1])
            image.seek(0)  # an animated GIF: its first frame
            image.load()
            return _grey_from_pillow(ImageOps.exif_transpose(image))  # phone photos carry their rotation
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise Refused(f"refused as a possible decompression bomb ({_short(exc)})") from exc
    except Image.UnidentifiedImageError as exc:
        kind = next((kind for magic, kind in IMAGE_MAGICS.items() if data.startswith(magic)), None)
        if kind:  # the signature is right but the header behind it is not
            raise Refused(f"corrupt or truncated {kind} image (its header cannot be read)") from exc
        raise Refused("not an image (PNG, JPEG, BMP or GIF), a .zip, IDX or .npy/.npz file") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError) as exc:
        raise Refused(f"corrupt or truncated image ({_short(exc)})") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


# ---------------------------------------------------------------- arrays, IDX

def _array_to_unit(array: np.ndarray, what: str) -> np.ndarray:
    """uint8 0-255 (or any integer array within it) or float 0-1 -> float32 in [0, 1]."""
    if array.dtype.kind in "ui":
        _check_integer_range(array, what)
        return array.astype(np.float32) / 255.0
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise Refused(f"{what} holds NaN or infinite values")
        low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
        if low < 0.0 or high > 1.0 + 1e-6:
            hint = "; divide by 255 first" if high <= 255.0 and low >= 0.0 else ""
            raise Refused(f"{what} holds floats from {low:g} to {high:g}, expected 0 to 1{hint}")
        return np.clip(array.astype(np.float32), 0.0, 1.0)
    raise Refused(f"{what} has dtype {array.dtype}; expected uint8 (0-255) or float (0-1)")


def _check_integer_range(array: np.ndarray, what: str) -> None:
    if array.dtype != np.uint8 and array.size and (int(array.min()) < 0 or int(array.max()) > 255):
        raise Refused(f"{what} holds integers outside 0-255 ({int(array.min())} to {int(array.max())})")


def to_pixels(images: np.ndarray) -> np.ndarray:
    """float images in [0, 1] -> uint8 0-255, rounded."""
    return np.rint(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def _image_stack(array: np.ndarray, what: str, limits: UploadLimits) -> np.ndarray:
    """(N, 28, 28), (N, 784), (N, H, W) or (N, H, W, 1) -> (N, H, W), refused when no such reading fits."""
    shape = array.shape
    if array.ndim == 4 and shape[-1] == 1:
        array = array[..., 0]
    elif array.ndim == 2 and shape[1] == SIDE * SIDE:
        array = array.reshape(-1, SIDE, SIDE)
    if array.ndim != 3 or 0 in array.shape:
        raise Refused(f"{what} has shape {shape}; expected (N, 28, 28), (N, 784) or (N, H, W)")
    if max(array.shape[1:]) > limits.max_array_side or min(array.shape[1:]) < 4:
        raise Refused(f"{what} has images of {array.shape[1]} x {array.shape[2]}; sides from 4 to "
                      f"{limits.max_array_side} are accepted")
    return array


def _pixels_from_array(array: np.ndarray, what: str, invert: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) numbers -> uint8 (M, 28, 28) white-on-black digits and the kept indices (blanks dropped).

    28x28 integer arrays are taken as they are (inverted when asked or detected), without a float copy.
    """
    if array.shape[1:] == (SIDE, SIDE) and array.dtype.kind in "ui":
        _check_integer_range(array, what)
        pixels = array.astype(np.uint8, copy=False)
        flip = invert if invert is not None else _border_mean(pixels) > 127.5
        return (255 - pixels if flip else np.array(pixels)), np.arange(len(pixels))
    if array.shape[1:] == (SIDE, SIDE):
        images = _array_to_unit(array, what)
        flip = invert if invert is not None else detect_light_background(images)
        return to_pixels(1.0 - images if flip else images), np.arange(len(images))
    # Other sizes are fitted in blocks of at most FIT_BLOCK_PIXELS: the float copies stay small.
    flip = invert if invert is not None else _border_mean(array) > (127.5 if array.dtype.kind in "ui" else 0.5)
    block = max(1, min(FIT_BLOCK_IMAGES, FIT_BLOCK_PIXELS // (array.shape[1] * array.shape[2])))
    parts, kept = [], []
    for start in range(0, len(array), block):
        fitted, kept_here = fit_batch(_array_to_unit(array[start:start + block], what), flip)
        parts.append(to_pixels(fitted))
        kept.append(kept_here + start)
    kept_all = np.concatenate(kept)
    if not len(kept_all):
        raise Refused(f"{what}: every image is blank")
    return np.concatenate(parts), kept_all


def _border_mean(pixels: np.ndarray) -> float:
    """The mean of the border pixels of (N, H, W) images, as detect_light_background weighs them."""
    total = sum(float(edge.sum(dtype=np.float64)) for edge in (pixels[:, 0, :], pixels[:, -1, :],
                                                                 pixels[:, :, 0], pixels[:, :, -1]))
    return total / max(1, 2 * pixels.shape[0] * (pixels.shape[1] + pixels.shape[2]))


def _labels_from_array(array: np.ndarray, count: int, what: str) -> np.ndarray:
    if array.ndim != 1 or array.dtype.kind not in "ui" or len(array) != count:
        raise Refused(f"{what} should be {count} integer labels, one per image (got {array.dtype} {array.shape})")
    if len(array) and (int(array.min()) < 0 or int(array.max()) > 9):
        raise Refused(f"{what} holds labels outside 0-9")
    return array.astype(np.int64)


def load_npy(data: bytes, what: str = "array") -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise Refused(f"{what} holds Python objects, which are never unpickled; save plain numbers") from exc
        raise Refused(f"{what} is not a readable .npy array ({_short(exc)})") from exc
    except (OSError, EOFError) as exc:
        raise Refused(f"{what} is not a readable .npy array ({_short(exc)})") from exc


def parse_idx(data: bytes, expected_magic: int | None = None, max_images: int | None = None) -> tuple[int, np.ndarray]:
    """Raw IDX bytes -> (magic, uint8 array): the one IDX reader (uploads and `idx:` datasets alike).

    Images (magic 2051) are (N, rows, cols), labels (2049) are (N,). Raises Refused when the header and the
    data disagree, or when the magic is not `expected_magic`. `max_images` keeps only the first ones (a view,
    nothing converted).
    """
    if len(data) < 8:
        raise Refused(f"too short to be an IDX file ({len(data)} bytes)")
    magic = int.from_bytes(data[0:4], "big")
    if expected_magic is not None and magic != expected_magic:
        kind = "images (magic 2051)" if expected_magic == IDX_IMAGES_MAGIC else "labels (magic 2049)"
        raise Refused(f"header magic is {magic}, expected IDX {kind}")
    if data[0:2] != b"\x00\x00" or data[2] != 0x08:
        raise Refused("not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim not in (1, 3) or len(data) < header:
        raise Refused(f"IDX file with {ndim} dimensions; expected 3 (images) or 1 (labels)")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    count = math.prod(dims)  # Python ints: a forged header cannot overflow into a matching size
    if len(data) != header + count:
        raise Refused(f"IDX header promises {dims} ({count:,} bytes) but the file holds {len(data) - header:,}; "
                      f"it is truncated or corrupt")
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
    return (IDX_IMAGES_MAGIC if ndim == 3 else IDX_LABELS_MAGIC), array[:max_images]


def gunzip_at_most(raw: bytes, limit: int, limits: UploadLimits = CLI_LIMITS) -> bytes:
    """gzip.decompress, but it stops at `limit` bytes or an implausible ratio: a small bomb never inflates."""
    limit = min(limit, max(limits.ratio_floor_bytes, int(len(raw) * limits.max_compression_ratio)))
    out, rest = bytearray(), raw
    try:
        while rest.strip(b"\0"):  # a gzip file may hold several members, and trailing zero padding
            stream = zlib.decompressobj(wbits=31)
            out += stream.decompress(rest, limit + 1 - len(out))
            if len(out) > limit or stream.unconsumed_tail:
                raise Refused(f"inflates to more than {limit / MIB:.1f} MB, more than this {len(raw):,}-byte file "
                              f"can honestly hold of digits; give the real file")
            if not stream.eof:
                raise Refused("the gzip stream ends early; the file is truncated, re-download it")
            rest = stream.unused_data
    except zlib.error as exc:
        raise Refused(f"not a readable gzip file ({exc}); re-download it") from exc
    return bytes(out)


# ---------------------------------------------------------------- archives

def is_unsafe_path(name: str) -> bool:
    """Absolute paths, drive letters and '..' parts: entries that try to leave wherever they are unpacked."""
    normal = name.replace("\\", "/")
    return (normal.startswith("/") or (len(normal) > 1 and normal[1] == ":")
            or any(part == ".." for part in normal.split("/")))


def _is_system_file(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return "__MACOSX" in parts or parts[-1] in SYSTEM_FILES or parts[-1].startswith("._")


def zip_directory_entries(data: bytes, stop_after: int) -> tuple[int, int] | None:
    """(entries, central directory bytes) of the directory zipfile will read, counted before it reads it.

    zipfile takes the directory's place and size from the end record it finds (the zip64 one when present,
    whatever the classic record says) and then parses every record in it, however many the counts claim. So
    the records are counted here, walking that same directory, and the walk stops at `stop_after + 1`.
    None when there is no end record (zipfile then refuses the file itself).
    """
    try:
        end = zipfile._EndRecData(io.BytesIO(data))  # zipfile's own reading of the end records
    except (OSError, struct.error, ValueError):
        return None
    if not end:
        return None
    size, offset = end[zipfile._ECD_SIZE], end[zipfile._ECD_OFFSET]
    concat = end[zipfile._ECD_LOCATION] - size - offset
    if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:
        concat -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
    position, stop, count = offset + concat, min(offset + concat + size, len(data)), 0
    while 0 <= position and position + ZIP_CENTRAL_ENTRY_SIZE <= stop and count <= stop_after:
        if data[position:position + 4] != ZIP_CENTRAL_ENTRY:
            break  # zipfile will refuse a broken directory on its own
        name_length, extra_length, comment_length = struct.unpack_from("<3H", data, position + 28)
        position += ZIP_CENTRAL_ENTRY_SIZE + name_length + extra_length + comment_length
        count += 1
    return count, size


def _bounded_read(stream, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        chunk = stream.read(min(MIB, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise Refused(f"inflates past {limit:,} bytes, more than its header declared or the upload "
                           f"may hold in total (a zip bomb?)")


class _Budget:
    """What one conversion may still spend: inflated bytes (every archive entry and gzip stream together) and
    decoded pixels (every image, read from its header before it is decoded, and every array converted)."""

    def __init__(self, limits: UploadLimits):
        self.limits = limits
        self.uncompressed_left = limits.max_total_uncompressed
        self.pixels_left = limits.max_decoded_pixels

    def take_pixels(self, pixels: int) -> None:
        if pixels > self.pixels_left:
            raise Refused(f"not decoded: the upload's budget of {self.limits.max_decoded_pixels / 1e6:,.0f} million "
                          f"decoded pixels is spent (this image has {pixels:,}); upload fewer or smaller pictures")
        self.pixels_left -= pixels

    def check_ratio(self, inflated: int, compressed: int, what: str) -> None:
        ratio = inflated / max(compressed, 1)
        if inflated > self.limits.ratio_floor_bytes and ratio > self.limits.max_compression_ratio:
            raise Refused(f"{what} compression ratio {ratio:,.0f}:1 is over {self.limits.max_compression_ratio:g}:1 "
                           f"(a zip bomb?)")

    def take(self, size: int, what: str) -> None:
        if size > self.uncompressed_left:
            raise Refused(f"{what} would inflate the upload past {self.limits.max_total_uncompressed // MIB} MB "
                           f"in total")
        self.uncompressed_left -= size

    def gunzip(self, data: bytes) -> bytes:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                out = _bounded_read(stream, self.uncompressed_left)
        except (OSError, EOFError, zlib.error) as exc:
            raise Refused(f"not a readable gzip file ({_short(exc)})") from exc
        self.check_ratio(len(out), len(data), "gzip")
        self.take(len(out), "gzip")
        return out


def _zip_members(archive: str, data: bytes, budget: _Budget) -> Iterator[tuple[str, bytes | Refused]]:
    """(name, bytes) for every usable entry, (name, Refused) for each refused one; whole-archive problems raise."""
    limits = budget.limits
    directory = zip_directory_entries(data, limits.max_entries)
    if directory is not None and directory[0] > limits.max_entries:
        raise Refused(f"holds more than {limits.max_entries:,} entries ({directory[1]:,}-byte directory); at most "
                      f"{limits.max_entries:,} are accepted")
    try:
        archive_file = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error) as exc:
        raise Refused(f"not a readable zip (truncated or corrupt: {_short(exc)})") from exc
    with archive_file:
        infos = archive_file.infolist()
        if len(infos) > limits.max_entries:
            raise Refused(f"holds {len(infos):,} entries; at most {limits.max_entries:,} are accepted")
        files = [info for info in infos if not info.is_dir()]
        declared_total = sum(info.file_size for info in files)
        if declared_total > budget.uncompressed_left:
            raise Refused(f"declares {declared_total / MIB:,.0f} MB uncompressed; at most "
                           f"{limits.max_total_uncompressed // MIB} MB in total are accepted")
        for info in files:
            name = info.filename
            if _is_system_file(name):
                continue
            try:
                yield name, _read_member(archive_file, info, budget)
            except Refused as refusal:
                yield name, refusal


def _read_member(archive_file: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget) -> bytes:
    name = info.filename
    if is_unsafe_path(name):
        raise Refused("unsafe path (absolute or with '..'); entries must stay inside the archive")
    if info.flag_bits & 0x1:
        raise Refused("encrypted entry; zip it without a password")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise Refused("symbolic link; put the file itself in the archive")
    if name.lower().endswith(NESTED_ARCHIVE_SUFFIXES):
        raise Refused("nested archive; upload it on its own, not inside another")
    budget.check_ratio(info.file_size, info.compress_size, "entry")
    budget.take(info.file_size, "entry")
    try:
        with archive_file.open(info) as stream:
            content = _bounded_read(stream, info.file_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
        raise Refused(f"corrupt entry ({_short(exc)})") from exc
    if _archive_kind(content):
        raise Refused(f"nested archive ({_archive_kind(content)}); upload it on its own, not inside another")
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

    @property
    def room(self) -> int:
        return self.limits.max_images - self.count

    def refuse_full(self, name: str) -> None:
        """Past max_images: one note for the first file that found no room, nothing read for the rest."""
        if not self.full_note_given:
            self.refuse(name, f"not used: the limit of {self.limits.max_images:,} images is reached")
            self.full_note_given = True

    def add(self, name: str, pixels: np.ndarray, labels: np.ndarray | None, what: str) -> None:
        """Keep uint8 (N, 28, 28) digits that fit in the room left (callers cut before converting)."""
        taken = pixels[:max(self.room, 0)]
        self.batches.append(taken)
        self.labels.append(None if labels is None else labels[:len(taken)])
        self.count += len(taken)
        self.notes.append(FileNote(name, what, used=len(taken)))

    # -- sources

    def read_file(self, name: str, data: bytes, in_archive: bool, idx_parts: dict) -> None:
        """Convert one file; anything wrong with it becomes a note, never an exception."""
        try:
            self._read(name, data, in_archive, idx_parts)
        except Refused as refusal:
            self.refuse(name, str(refusal))
        except MemoryError:
            self.refuse(name, "too large to convert in memory")
        except Exception as exc:  # a decoder bug must not cost the user the other files
            self.refuse(name, f"could not be read ({type(exc).__name__}: {_short(exc)})")

    def _read(self, name: str, data: bytes, in_archive: bool, idx_parts: dict) -> None:
        lower = name.lower()
        if not data:
            raise Refused("empty file")
        if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            if in_archive:
                raise Refused("nested archive; upload it on its own, not inside another")
            if lower.endswith(".npz"):
                return self._read_npz(name, data)
            return self._read_zip(name, data)
        if data[:6] == b"\x93NUMPY":
            return self._read_array(name, load_npy(data, "the array"), None)
        if data[:2] == b"\x1f\x8b":
            if in_archive:
                raise Refused("nested archive (gzip); upload it on its own, not inside another")
            raw = self.budget.gunzip(data)
            if raw[:3] != b"\x00\x00\x08":
                raise Refused("a gzip file that holds no IDX data")
            return self._stash_idx(name, raw, idx_parts)
        if data[:3] == b"\x00\x00\x08":
            return self._stash_idx(name, data, idx_parts)
        kind = _archive_kind(data)
        if kind:
            raise Refused(f"{kind} archives are not accepted; use a .zip")
        if self.room <= 0:
            return self.refuse_full(name)
        label = label_from_path(name)
        grey = decode_image(data, self.limits, self.budget)
        digit = mnist_form(grey, self.invert)
        if digit is None:
            raise Refused("blank: no digit stands out from the background")
        self.add(name, to_pixels(digit[None]), None if label is None else np.array([label], np.int64), "1 image")

    def _read_array(self, name: str, array: np.ndarray, labels: np.ndarray | None, what: str = "the array") -> None:
        """An array of images, cut to the room left and to the pixel budget before any image is converted."""
        stack = _image_stack(array, what, self.limits)
        if self.room <= 0:
            return self.refuse_full(name)
        total, image_pixels = len(stack), stack.shape[1] * stack.shape[2]
        take = min(total, self.room, self.budget.pixels_left // image_pixels)
        if take <= 0:
            self.budget.take_pixels(image_pixels)  # refuses, saying the budget is spent
        self.budget.take_pixels(take * image_pixels)
        pixels, kept = _pixels_from_array(stack[:take], what, self.invert)
        labels = None if labels is None else labels[:take][kept]
        dropped = take - len(pixels)
        note = f"{len(pixels):,} images" + (" with labels" if labels is not None else "")
        note += f" ({dropped} blank images dropped)" if dropped else ""
        if take < total:
            why = (f"limit {self.limits.max_images:,} images" if take == self.room
                   else f"the upload's budget of {self.limits.max_decoded_pixels / 1e6:,.0f} million pixels")
            note += f"; {CUT_WORDS} {take:,} of {total:,} used ({why})"
        self.add(name, pixels, labels, note)

    def _read_npz(self, name: str, data: bytes) -> None:
        # An .npz is a zip of .npy files: read through the same bounded reader, never np.load's lazy zip.
        arrays: dict[str, np.ndarray] = {}
        for member, content in _zip_members(name, data, self.budget):
            if isinstance(content, Refused):
                raise Refused(f"entry {member}: {content}")
            key = member.removesuffix(".npy")
            arrays[key] = load_npy(content, f"array '{key}'")
        image_keys = [key for key, array in arrays.items() if array.ndim >= 2]
        if not image_keys:
            raise Refused(f"no array of images among {', '.join(sorted(arrays)) or 'no arrays'}")
        label_keys = [key for key, array in arrays.items() if array.ndim == 1]
        for key in image_keys:
            partner = _label_partner(key, label_keys, len(image_keys))
            what = f"array '{key}'"
            try:
                labels = None if partner is None else _labels_from_array(arrays[partner], len(arrays[key]),
                                                                           f"labels '{partner}'")
                self._read_array(f"{name}[{key}]", arrays[key], labels, what)
            except Refused as refusal:
                self.refuse(f"{name}[{key}]", str(refusal))

    def _read_zip(self, name: str, data: bytes) -> None:
        idx_parts: dict = {}
        for member, content in _zip_members(name, data, self.budget):
            entry = f"{name}/{member}"
            if isinstance(content, Refused):
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
                    except Refused as refusal:
                        self.refuse(partner, f"{refusal}; the images are used without labels")
                self._read_array(name, array, checked, "the IDX images")
            except Refused as refusal:
                self.refuse(name, str(refusal))
        for name in labels:
            self.refuse(name, "IDX labels with no matching images file (name it like "
                              "'train-images-idx3-ubyte' beside 'train-labels-idx1-ubyte')")

    def result(self) -> UploadResult:
        images = np.concatenate(self.batches) if self.batches else np.zeros((0, SIDE, SIDE), np.uint8)
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


def admit(sizes: Iterable[tuple[str, int]], limits: UploadLimits) -> tuple[list[int], list[FileNote]]:
    """Which files of an upload may be read, from their names and sizes alone: (admitted indexes, refusals).

    The count and the byte total are checked before any file is read (the page passes the sizes the browser
    declared; Streamlit's own limit is per file).
    """
    admitted, notes, received = [], [], 0
    for index, (name, size) in enumerate(sizes):
        if index >= limits.max_files:
            notes.append(FileNote(name, f"not read: at most {limits.max_files:,} files in one upload", refused=True))
        elif size > limits.max_file_bytes or received + size > limits.max_upload_bytes:
            notes.append(FileNote(name, f"not read: over the upload limit of {limits.max_upload_bytes // MIB} MB "
                                        f"for all files together", refused=True))
        else:
            received += size
            admitted.append(index)
    return admitted, notes


def convert_in_process(files: Iterable[tuple[str, bytes]], invert: bool | None = None,
                       limits: UploadLimits = UPLOAD_LIMITS, skipped: list[FileNote] | None = None) -> UploadResult:
    """The conversion itself, in this process: what the parsing child runs. Callers want `convert_uploads`."""
    collector = _Collector(limits, invert)
    skipped = skipped if skipped is not None else []
    idx_parts: dict = {}
    with warnings.catch_warnings():
        # Pillow warns, rather than fails, on a merely large image; here that is a refusal.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        for name, data in files:
            collector.read_file(str(name) or "unnamed", bytes(data), in_archive=False, idx_parts=idx_parts)
        collector.finish_idx(idx_parts)
    collector.notes[:0] = skipped  # files refused before reading (a folder's walk adds them as it goes)
    return collector.result()


def sandbox_job(request: dict, blobs: list[bytes]) -> tuple[dict, dict[str, np.ndarray]]:
    """The parsing child's entry (gan_core.sandbox JOBS['uploads']): files, a folder or a zip -> plain result."""
    limits = UploadLimits(**request["limits"])
    invert = request["invert"]
    if request["kind"] == "files":
        skipped = [FileNote(**note) for note in request.get("skipped", [])]
        result = convert_in_process(zip(request["names"], blobs), invert, limits, skipped)
    elif request["kind"] == "folder":
        skipped: list[FileNote] = []
        walk = _walk_folder(Path(request["path"]), limits, skipped)
        result = convert_in_process(walk, invert, limits, skipped)
    else:
        file = Path(request["path"])
        result = convert_in_process([(file.name, file.read_bytes())], invert, limits)
    return result.to_plain()


def _in_sandbox(request: dict, blobs: list[bytes], names: list[str], parser: ParserLimits) -> UploadResult:
    """Run one conversion in the parsing child; a child that fails refuses every file it was given, by name."""
    what = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
    try:
        job = sandbox.run_job("uploads", request, blobs, what=what, limits=parser)
        return UploadResult.from_plain(job.meta, job.arrays, job.report)
    except sandbox.SandboxRefusal as refusal:
        reason = str(refusal).removeprefix(f"{what}: ")
        notes = [FileNote(**note) for note in request.get("skipped", [])]
        notes += [FileNote(name, reason, refused=True) for name in names]
        limits = UploadLimits(**request["limits"])
        summary = (f"0 images used from 0 files; {len(notes):,} {_plural(len(notes), 'file')} refused; at least "
                   f"{limits.min_images} images are needed to train")
        return UploadResult(np.zeros((0, SIDE, SIDE), np.uint8), None, notes, summary, limits.min_images)


def convert_uploads(files: Iterable[tuple[str, bytes]], invert: bool | None = None,
                    limits: UploadLimits = UPLOAD_LIMITS, parser: ParserLimits = PAGE_PARSER_LIMITS,
                    skipped: list[FileNote] | None = None) -> UploadResult:
    """(file name, bytes) pairs -> 28x28 training images, labels when every image has one, and a note per file.

    Accepts PNG / JPEG / BMP / GIF images, .zip archives of them (folders named 0-9 label their images),
    MNIST IDX files (raw or .gz, images with an optional labels file) and .npy / .npz arrays. Never raises for
    bad input: refusals are notes in the result. The files are parsed in a limited child process. `skipped`:
    files the caller already refused unread (`admit`), noted first.
    """
    files = [(str(name) or "unnamed", data) for name, data in files]
    admitted, refused_here = admit([(name, len(data)) for name, data in files], limits)
    skipped = list(skipped or []) + refused_here
    if not admitted:
        return convert_in_process([], None, limits, skipped)  # nothing to parse: no child needed
    names = [files[i][0] for i in admitted]
    request = {"kind": "files", "names": names, "invert": invert, "limits": asdict(limits),
               "skipped": [asdict(note) for note in skipped]}
    return _in_sandbox(request, [bytes(files[i][1]) for i in admitted], names, parser)


ONE_PICTURE_LIMITS = UploadLimits(max_files=1, min_images=1, max_images=1)


def convert_one_picture(name: str, data: bytes, parser: ParserLimits = PAGE_PARSER_LIMITS
                        ) -> tuple[np.ndarray | None, FileNote]:
    """One picture (a digit to project, say) -> its float32 28x28 digit or None, and the note naming it; parsed
    in the limited child like any upload. A blank picture's note starts with 'blank'."""
    result = convert_uploads([(name, data)], limits=ONE_PICTURE_LIMITS, parser=parser)
    note = next((n for n in result.notes if n.file == name), None) or FileNote(name, result.summary, refused=True)
    return (result.images[0] if result.count else None), note


# ---------------------------------------------------------------- the command line's folder: and zip: datasets

def _walk_folder(root: Path, limits: UploadLimits, skipped: list[FileNote]) -> Iterator[tuple[str, bytes]]:
    """(relative name, bytes) of every file under `root`; the count and byte total are checked before each read."""
    received, count = 0, 0
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
                count += 1
                if count > limits.max_files:
                    skipped.append(FileNote(relative, f"not read: at most {limits.max_files:,} files", refused=True))
                    return
                if size > limits.max_file_bytes or received + size > limits.max_upload_bytes:
                    skipped.append(FileNote(relative, f"not read: {size / MIB:,.1f} MB would pass the "
                                                      f"{limits.max_upload_bytes // MIB} MB limit for the folder",
                                            refused=True))
                    continue
                received += size
                yield relative, path.read_bytes()
            except OSError as exc:
                skipped.append(FileNote(relative, f"cannot be read ({exc.strerror or exc})", refused=True))


def convert_folder(folder: str | Path, label: str, invert: bool | None = None, limits: UploadLimits = CLI_LIMITS,
                   parser: ParserLimits = CLI_PARSER_LIMITS) -> UploadResult:
    """Every image, archive or array under `folder` (recursively), converted as an upload in the parsing child.

    `label` names the folder in messages ('folder:digits', 'data:mnist'); raises UploadError when there is no
    such folder.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UploadError(f"{label}: no such folder; give a folder of digit images (sub-folders 0-9 label them).")
    request = {"kind": "folder", "path": str(root.resolve()), "invert": invert, "limits": asdict(limits)}
    return _in_sandbox(request, [], [label], parser)


def convert_zip_file(path: str | Path, label: str, invert: bool | None = None, limits: UploadLimits = CLI_LIMITS,
                     parser: ParserLimits = CLI_PARSER_LIMITS) -> UploadResult:
    """A .zip of digit images (or IDX / arrays) on disk, converted as an upload in the parsing child."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UploadError(f"{label}: no such file; give a .zip of digit images.")
    if file.stat().st_size > limits.max_file_bytes:
        raise UploadError(f"{label}: {file.stat().st_size / MIB:,.0f} MB is over the "
                          f"{limits.max_file_bytes // MIB} MB limit.")
    request = {"kind": "zip", "path": str(file.resolve()), "invert": invert, "limits": asdict(limits)}
    return _in_sandbox(request, [], [file.name], parser)
