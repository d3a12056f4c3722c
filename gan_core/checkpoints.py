"""Weights-only checkpoints (.weights.h5) plus JSON config, written atomically.

Every file or folder the package writes goes through `atomic_write` / `atomic_write_folder`: the new content
is written beside its destination under a temporary name that carries the writer's process id, flushed to
disk, and renamed over the destination in one step. A reader sees the old version or the new one, never a
half; a `kill -9` at any moment leaves at most a temporary that `remove_stale_temporaries` deletes once its
process is gone; two writers never share a temporary name.
"""

from __future__ import annotations

import csv
import ctypes
import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from gan_core.config import GANConfig

CONFIG_FILE = "config.json"
STATE_FILE = "state.json"
HISTORY_FILE = "history.csv"
CHECKPOINTS_DIR = "checkpoints"


class CheckpointError(ValueError):
    """A weights folder is missing, incomplete or does not fit the model; the message says which."""


# ".NAME.PID.RANDOM.tmpSUFFIX": the suffix stays last because np.save and friends insist on theirs.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp")


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix}")


def _fsync_path(path: Path) -> None:
    """Flush a file's or a folder's entries to disk; file systems that cannot (some network mounts) are let be."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """`write(temp)` fills a temporary sibling of `path`, which then replaces `path` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temporary_sibling(path)
    try:
        write(temp)
        _fsync_path(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_path(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda temp: temp.write_text(text))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda temp: temp.write_bytes(data))


_atomic_write_text = atomic_write_text  # the older private name


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0


def atomic_write_folder(folder: str | Path, fill: Callable[[Path], None]) -> Path:
    """`fill(temp)` writes a temporary sibling folder, which then takes `folder`'s place.

    An existing folder is swapped out in one step where the system allows it, so a reader never finds
    the name missing; elsewhere the gap is two renames long.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = _temporary_sibling(folder)
    temp.mkdir()
    try:
        fill(temp)
        for item in temp.rglob("*"):
            if item.is_file():
                _fsync_path(item)
        _fsync_path(temp)
        if not folder.exists():
            os.replace(temp, folder)
        elif _exchange(temp, folder):
            shutil.rmtree(temp, ignore_errors=True)  # it now holds the old version
        else:
            old = _temporary_sibling(folder)
            os.replace(folder, old)
            os.replace(temp, folder)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    _fsync_path(folder.parent)
    return folder


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # alive, and someone else's
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporaries in `folder` whose writing process is gone (a kill -9 mid-write); return them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for item in folder.iterdir():
        match = _TEMPORARY.match(item.name)
        if match and not _process_alive(int(match["pid"])):
            _remove(item)
            removed.append(item)
    return removed


def save_weights_folder(folder: Path, model, config: GANConfig, state: dict) -> Path:
    """Write every network of `model` plus config and state into `folder`, all or nothing."""

    def fill(temp: Path) -> None:
        for stem, network in model.weight_networks().items():
            network.save_weights(temp / f"{stem}.weights.h5")
        (temp / CONFIG_FILE).write_text(config.to_json())
        (temp / STATE_FILE).write_text(json.dumps(state, indent=2, sort_keys=True))

    return atomic_write_folder(folder, fill)


def save_checkpoint(run_dir: Path, model, config: GANConfig, step: int, extra_state: dict | None = None,
                    keep: int = 3) -> Path:
    run_dir = Path(run_dir)
    folder = run_dir / CHECKPOINTS_DIR / f"step-{step:08d}"
    remove_stale_temporaries(run_dir)
    remove_stale_temporaries(folder.parent)
    save_weights_folder(folder, model, config, {"step": int(step), **(extra_state or {})})
    atomic_write_text(run_dir / CONFIG_FILE, config.to_json())
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def list_checkpoints(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-")
                  and (p / STATE_FILE).is_file())


def resolve_weights_folder(path: str | Path) -> Path:
    """A folder written by `train` (its newest checkpoint) or a folder of weights (pretrained/gan)."""
    path = Path(path)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long, a NUL byte
        exists = False
    if not exists:
        raise CheckpointError(f"{path}: no such folder; give a folder written by 'train' or one under pretrained/.")
    if (path / "generator.weights.h5").is_file() or (path / "decoder.weights.h5").is_file():
        return path
    try:
        checkpoints = list_checkpoints(path)
    except OSError as exc:  # a file, or a folder we may not read
        raise CheckpointError(f"{path}: cannot be read as a weights folder ({exc.strerror or exc}).") from exc
    if checkpoints:
        return checkpoints[-1]
    raise CheckpointError(f"{path}: holds no generator/decoder weights and no checkpoints/step-*/ folder; "
                          f"give a folder written by 'train' or one under pretrained/.")


def read_config(folder: Path) -> GANConfig:
    folder = Path(folder)
    for candidate in (folder / CONFIG_FILE, folder.parent.parent / CONFIG_FILE):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise CheckpointError(f"{candidate}: not valid JSON ({exc}).") from exc
            if not isinstance(data, dict):
                raise CheckpointError(f"{candidate}: expected a JSON object of config fields.")
            try:
                return GANConfig.from_dict(data)
            except (TypeError, ValueError) as exc:
                raise CheckpointError(f"{candidate}: invalid config ({exc}).") from exc
    raise CheckpointError(f"{folder}: no {CONFIG_FILE} beside the weights.")


def read_state(folder: Path) -> dict:
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc}).") from exc
    if not isinstance(state, dict) or not isinstance(state.get("step", 0), int) or isinstance(state.get("step"), bool):
        raise CheckpointError(f"{path}: expected a JSON object whose 'step' is a whole number.")
    return state


def load_model(path: str | Path, need_discriminator: bool = True):
    """Build the model a weights folder describes and load its weights (no code is deserialised)."""
    from gan_core.models import build_model

    folder = resolve_weights_folder(path)
    config = read_config(folder)
    model = build_model(config)
    for stem, network in model.weight_networks().items():
        file = folder / f"{stem}.weights.h5"
        if not file.is_file():
            if stem == "generator_ema":  # a run without averaging: sample from the raw generator
                network.set_weights(model.generator.get_weights())
                continue
            if stem == "discriminator" and not need_discriminator:
                continue
            raise CheckpointError(f"{file}: missing; the folder is incomplete.")
        try:
            network.load_weights(file)
        except Exception as exc:  # wrong shapes, not HDF5, truncated
            raise CheckpointError(f"{file}: cannot be loaded into the {stem} of this config "
                                  f"({str(exc).splitlines()[0][:200]}).") from exc
    return model, config, read_state(folder)


def write_history_csv(path: Path, history: dict[str, np.ndarray]) -> None:
    """One row per recorded call; every value round-trips exactly (repr), whatever the step count."""
    names = list(history)

    def write(temp: Path) -> None:
        with temp.open("w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(names)
            for row in zip(*(history[name] for name in names)):
                writer.writerow([repr(float(value)) for value in row])

    atomic_write(Path(path), write)


def read_history_csv(path: Path, up_to_step: float | None = None) -> dict[str, np.ndarray]:
    """The series written by write_history_csv, only the rows up to `up_to_step` when given."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        with path.open(newline="") as stream:
            rows = list(csv.reader(stream))
        if len(rows) < 2:
            return {}
        names, values = rows[0], np.array(rows[1:], dtype=np.float64)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise CheckpointError(f"{path}: not a readable history ({str(exc)[:120]}); delete it to start "
                              f"the curves afresh.") from exc
    if values.ndim != 2 or values.shape[1] != len(names):
        raise CheckpointError(f"{path}: rows do not match its {len(names)} columns; delete it to start the "
                              f"curves afresh.")
    if up_to_step is not None and "step" in names:
        values = values[values[:, names.index("step")] <= up_to_step]
    return {name: values[:, i] for i, name in enumerate(names)}
