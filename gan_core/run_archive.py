"""Finished runs kept for comparison: plain copies of a run's curves, samples and recipe. NumPy only.

Decisions:
- A run is archived when it is Reset (or replaced by a new Start), from the page's own RunView: no worker is
  asked, so archiving cannot fail or wait on a dead process. Runs that never reached step 1 are not kept.
- The archive is per session and bounded (KEEP_RUNS, oldest dropped first); each run's curves are thinned
  to ARCHIVE_POINTS a series, so the archive costs a fixed, small amount of memory (~1 MB at most).
- An ArchivedRun holds no live object (no client, no model): frozen, with private copies of its arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

KEEP_RUNS = 4
ARCHIVE_POINTS = 1000  # per series
LOSS_SERIES = ("d_loss", "g_loss", "loss", "recon_loss", "kl_loss")  # GAN losses, then the VAE / AE ones
QUALITY_SERIES = ("fid", "classes_covered")


@dataclass(frozen=True)
class ArchivedRun:
    name: str  # "Run 3": numbered in the order this session trained them
    config: dict[str, Any]
    step: int
    elapsed_s: float = 0.0
    history: dict[str, np.ndarray] = field(default_factory=dict)
    quality: dict[str, np.ndarray] | None = None
    samples: np.ndarray | None = None  # uint8 (N, 28, 28): the fixed-noise grid at samples_step
    samples_step: int = -1

    @property
    def model(self) -> str:
        return str(self.config.get("model", "gan"))


def _thin(series: dict, max_points: int) -> dict[str, np.ndarray]:
    arrays = {name: np.array(values, np.float64, copy=True) for name, values in series.items()}
    count = len(arrays.get("step", ()))
    if count <= max_points:
        return arrays
    recent = max_points // 4
    keep = np.concatenate([np.unique(np.linspace(0, count - recent - 1, max_points - recent).astype(int)),
                           np.arange(count - recent, count)])
    return {name: values[keep] if len(values) == count else values for name, values in arrays.items()}


def archive_view(view, config, name: str, max_points: int = ARCHIVE_POINTS) -> ArchivedRun | None:
    """A frozen copy of a RunView (gan_core.messages) and its recipe; None for a run that never trained."""
    if view is None or int(view.step) <= 0:
        return None
    samples = None
    if view.samples is not None:
        samples = np.round(np.clip(np.asarray(view.samples, np.float32), 0, 1) * 255).astype(np.uint8)
    recipe = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    return ArchivedRun(name=name, config=recipe, step=int(view.step), elapsed_s=float(view.elapsed_s),
                       history=_thin(view.history, max_points),
                       quality=None if view.quality is None else _thin(view.quality, max_points),
                       samples=samples, samples_step=int(view.samples_step))


def keep(runs: list[ArchivedRun], run: ArchivedRun | None, limit: int = KEEP_RUNS) -> list[ArchivedRun]:
    """The archive with `run` added last and the oldest dropped past `limit`."""
    runs = list(runs) + ([run] if run is not None else [])
    return runs[-limit:] if limit > 0 else []


def recipe_rows(runs: list[ArchivedRun]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per run (every recipe field), and the fields whose value is not the same in all of them."""
    names: list[str] = []
    for run in runs:
        names += [name for name in run.config if name not in names]
    rows = [{"run": run.name, **{name: run.config.get(name) for name in names}} for run in runs]
    differing = [name for name in names if len({repr(row[name]) for row in rows}) > 1]
    return rows, differing


def series_present(runs: list[ArchivedRun], candidates: tuple[str, ...], quality: bool = False) -> list[str]:
    """The candidate series at least one run has a finite point of, in the candidates' order."""
    found = []
    for name in candidates:
        for run in runs:
            source = run.quality if quality else run.history
            values = None if source is None else source.get(name)
            if values is not None and len(values) and np.isfinite(np.asarray(values, np.float64)).any():
                found.append(name)
                break
    return found
