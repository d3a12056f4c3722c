"""Pictures: sample grids and crisp nearest-neighbour upscales (no ML here)."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray) -> np.ndarray:
    return np.round(np.clip(np.asarray(images, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def grid(images: np.ndarray, columns: int | None = None, padding: int = 2, background: float = 1.0) -> np.ndarray:
    """Tile (N, H, W) images into one (rows*H, columns*W) array with a light border."""
    images = np.asarray(images, np.float32)
    count, height, width = images.shape
    columns = columns or int(math.ceil(math.sqrt(count)))
    rows = int(math.ceil(count / columns))
    out = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding),
                  background, np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = padding + r * (height + padding), padding + c * (width + padding)
        out[top:top + height, left:left + width] = image
    return out


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale: every pixel becomes a factor x factor block, edges stay crisp."""
    return np.kron(np.asarray(image), np.ones((factor, factor), dtype=np.asarray(image).dtype))


def to_png(image: np.ndarray, scale: int = 1, invert: bool = False) -> bytes:
    """A [0, 1] greyscale array as PNG bytes, upscaled crisply."""
    pixels = to_uint8(image)
    if invert:
        pixels = 255 - pixels
    if scale > 1:
        pixels = upscale(pixels, scale)
    buffer = io.BytesIO()
    # zlib level 1: a third of the default level's time (a slider's digit is encoded on every move), ~10% larger.
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """A PNG inside its own URL: a browser shows it from the message that carries it, with no second request."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def grid_png(images: np.ndarray, columns: int | None = None, scale: int = 3) -> bytes:
    """White-on-black digits, tiled and upscaled: what the sample grid looks like everywhere."""
    return to_png(grid(images, columns, background=0.25), scale=scale)


def sample_columns(config) -> int:
    """Columns of every sample grid of a run: the conditional GAN's fixed labels cycle 0..9, so ten columns put one
    digit per column; the other models draw their 64 samples 8 by 8."""
    return 10 if config is not None and config.model == "cgan" else 8


def to_gif(frames: np.ndarray, scale: int = 8, frame_ms: int = 80, bounce: bool = True) -> bytes:
    """An animated GIF of (N, H, W) frames in [0, 1], looping (forward then back when bounce)."""
    pixels = [upscale(to_uint8(f), scale) for f in frames]
    if bounce and len(pixels) > 2:
        pixels = pixels + pixels[-2:0:-1]
    buffer = io.BytesIO()
    first, *rest = [Image.fromarray(p, mode="L") for p in pixels]
    first.save(buffer, format="GIF", save_all=True, append_images=rest, duration=frame_ms, loop=0)
    return buffer.getvalue()
