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


KEEP_CHECKPOINTS = 3  # the newest checkpoints a run keeps (0: all)


def save_checkpoint(run_dir: Path, model, config: GANConfig, step: int, extra_state: dict | None = None,
                    keep: int = KEEP_CHECKPOINTS) -> Path:
    run_dir = Path(run_dir)
    folder = run_dir / CHECKPOINTS_DIR / f"step-{step:08d}"
    remove_stale_temporaries(run_dir)
    remove_stale_temporaries(folder.parent)
    save_weights_folder(folder, model, config, {"step": int(step), **(extra_state or {})})
    atomic_write_text(run_dir / CONFIG_FILE, config.to_json())
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
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
    """The whole history as one CSV file, atomically (history_csv_text's format)."""
    atomic_write_text(Path(path), history_csv_text(history))


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


def _csv_value(name: str, value: float) -> str:
    # A step is a whole number and is written as one (a spreadsheet shows 1200, not 1200.0).
    if name == "step" and np.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(float(value))


def history_csv_rows(history: dict[str, np.ndarray], names: list[str] | None = None) -> list[list[str]]:
    """The rows of a history CSV: one per point, every value round-trips exactly (repr), whatever the step."""
    names = list(history) if names is None else names
    return [[_csv_value(name, value) for name, value in zip(names, row)]
            for row in zip(*(np.asarray(history[name], np.float64) for name in names))]


def history_csv_text(history: dict[str, np.ndarray]) -> str:
    """A whole history as CSV text: the one format of every history CSV here (a run folder's, a recovery
    snapshot's, a bundle's, the Train page's download); read_history_csv reads it back exactly."""
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(history))
    writer.writerows(history_csv_rows(history))
    return buffer.getvalue()


class HistoryLog:
    """An append-only history CSV: each save adds the points since the last one, never rewriting the file.

    A recovery snapshot records how many rows it covers (`rows`), so a half-written tail from a kill is never
    read. The file is written whole again (atomically) only when the curves changed under it: rolled back
    after a divergence, or a new series appeared.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.names: list[str] | None = None
        self.rows = 0  # rows written
        self.last_step = -1.0

    def append(self, delta: dict[str, np.ndarray], reset: bool, total: int) -> int:
        """Add `delta` (the trainer's history_since answer); returns the rows the file now holds."""
        names = list(delta)
        if reset or self.names is None or names != self.names:
            text = history_csv_text(delta)
            atomic_write_text(self.path, text)
            self.names, self.rows = names, len(delta.get("step", ()))
        elif len(delta.get("step", ())):
            with self.path.open("a", newline="") as stream:
                csv.writer(stream, lineterminator="\n").writerows(history_csv_rows(delta, names))
                stream.flush()
                os.fsync(stream.fileno())
            self.rows += len(delta["step"])
        steps = delta.get("step", ())
        if len(steps):
            self.last_step = float(steps[-1])
        return self.rows


def read_history_rows(path: Path, rows: int) -> dict[str, np.ndarray]:
    """The first `rows` points of a history CSV (what a recovery snapshot covers; a torn tail is ignored)."""
    path = Path(path)
    if rows <= 0 or not path.is_file():
        return {}
    try:
        with path.open(newline="") as stream:
            reader = csv.reader(stream)
            names = next(reader)
            values = [row for _, row in zip(range(rows), reader)]
        table = np.array(values, dtype=np.float64).reshape(len(values), len(names))
    except (OSError, UnicodeDecodeError, ValueError, StopIteration, csv.Error) as exc:
        raise CheckpointError(f"{path.name}: not a readable history ({str(exc)[:120]}).") from exc
    return {name: table[:, i] for i, name in enumerate(names)}


# ---- a run's recovery snapshot: one consistent moment, committed by one rename ---------------------------
CURRENT_SNAPSHOT = "weights"  # recovery_dir/weights -> snapshots/<name>: the one pointer a reader follows
SNAPSHOTS_DIR = "snapshots"
QUALITY_FILE = "quality.csv"


def save_recovery_snapshot(recovery_dir: Path, model, config: GANConfig, step: int, history_rows: int,
                           quality: dict[str, np.ndarray] | None, extra_state: dict | None = None) -> Path:
    """Weights, step, the history's row count and the live-quality scores in a new folder, then the
    `weights` pointer swapped to it in one rename: a reader (Resume) sees the old snapshot or the new one whole.
    Call it between two training chunks, so the weights and the step describe one moment."""
    recovery_dir = Path(recovery_dir)
    root = recovery_dir / SNAPSHOTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{int(step):012d}-{secrets.token_hex(4)}"
    state = {"step": int(step), "history_rows": int(history_rows), **(extra_state or {})}
    folder = save_weights_folder(root / name, model, config, state)
    if quality is not None and len(quality.get("step", ())):
        atomic_write_text(folder / QUALITY_FILE, history_csv_text(quality))
    pointer = recovery_dir / CURRENT_SNAPSHOT
    temp = _temporary_sibling(pointer)
    os.symlink(Path(SNAPSHOTS_DIR) / name, temp)
    os.replace(temp, pointer)
    _fsync_path(recovery_dir)
    for old in root.iterdir():
        if old.name != name and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return folder


def read_recovery_snapshot(recovery_dir: Path) -> dict | None:
    """{"folder", "step", "history", "quality"} of the current snapshot, or None when there is none."""
    recovery_dir = Path(recovery_dir)
    folder = recovery_dir / CURRENT_SNAPSHOT
    if not folder.is_dir():
        return None
    folder = folder.resolve()
    state = read_state(folder)
    step = int(state.get("step", 0))
    history = read_history_rows(recovery_dir / HISTORY_FILE, int(state.get("history_rows", 0)))
    quality_file = folder / QUALITY_FILE
    quality = read_history_csv(quality_file) if quality_file.is_file() else None
    return {"folder": folder, "step": step, "history": history, "quality": quality, "state": state}
