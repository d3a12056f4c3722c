"""Weights-only checkpoints (.weights.h5) plus JSON config, written atomically."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from gan_core.config import GANConfig

CONFIG_FILE = "config.json"
STATE_FILE = "state.json"
HISTORY_FILE = "history.csv"
CHECKPOINTS_DIR = "checkpoints"


class CheckpointError(ValueError):
    """A weights folder is missing, incomplete or does not fit the model; the message says which."""


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def save_weights_folder(folder: Path, model, config: GANConfig, state: dict) -> Path:
    """Write every network of `model` plus config and state into `folder`, all or nothing.

    Files go to a hidden sibling folder first, which is renamed into place once
    complete, so an interrupted write never leaves a half checkpoint.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        for stem, network in model.weight_networks().items():
            network.save_weights(temp / f"{stem}.weights.h5")
        (temp / CONFIG_FILE).write_text(config.to_json())
        (temp / STATE_FILE).write_text(json.dumps(state, indent=2, sort_keys=True))
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(temp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return folder


def save_checkpoint(run_dir: Path, model, config: GANConfig, step: int, extra_state: dict | None = None,
                    keep: int = 3) -> Path:
    run_dir = Path(run_dir)
    folder = run_dir / CHECKPOINTS_DIR / f"step-{step:08d}"
    save_weights_folder(folder, model, config, {"step": int(step), **(extra_state or {})})
    _atomic_write_text(run_dir / CONFIG_FILE, config.to_json())
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
    if not path.exists():
        raise CheckpointError(f"{path}: no such folder; give a folder written by 'train' or one under pretrained/.")
    if (path / "generator.weights.h5").is_file() or (path / "decoder.weights.h5").is_file():
        return path
    checkpoints = list_checkpoints(path)
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
            except json.JSONDecodeError as exc:
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
    return json.loads(path.read_text()) if path.is_file() else {}


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
    names = list(history)
    rows = zip(*(history[name] for name in names))
    lines = [",".join(names)] + [",".join(f"{v:.6g}" for v in row) for row in rows]
    _atomic_write_text(Path(path), "\n".join(lines) + "\n")


def read_history_csv(path: Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        return {}
    with path.open() as stream:
        rows = list(csv.reader(stream))
    if len(rows) < 2:
        return {}
    names, values = rows[0], np.array(rows[1:], dtype=np.float64)
    return {name: values[:, i] for i, name in enumerate(names)}
