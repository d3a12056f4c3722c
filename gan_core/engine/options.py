"""The engine's settings, and the one home of run-option defaults (the worker merges its requests over them).

Environment settings read here (each has a default that suits one machine):
- GAN_LAB_ENGINE: `local` (worker processes) or `ray` (cluster actors).
- GAN_LAB_MAX_TRAINERS: trainer leases the server hands out at once (default: one per CPU core).
- GAN_LAB_MAX_TRAINERS_PER_SESSION: trainer leases one session (owner) may hold (default 1).
- GAN_LAB_RECOVERY_DIR: where runs keep their recovery snapshots (default: a temporary folder); on a
  multi-node Ray cluster, a folder every node shares, so Resume finds a snapshot whatever node wrote it.
- GAN_LAB_RECOVERY_QUOTA_MB: recovery storage of the whole server; the oldest ended runs' folders go first.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from gan_core.config import GANConfig

ROOT = Path(__file__).resolve().parents[2]

# What a worker's run uses unless the engine says otherwise (gan_core.run_service merges requests over this).
RUN_OPTION_DEFAULTS = {
    "chunk_seconds": 0.2,  # a chunk is about this long: steps per chunk adapt to the machine and the model
    "chunk_steps": 100,  # ...never more steps than this in one chunk (nor fewer than one traced call)
    "views_every_s": 1.0,  # the D view, the grid and the timeline frame: at most this often (the Train page's
                           # live redraw, ui/train_page.LIVE_REFRESH_S; the D view is drawn every 8 s)
    "quality_every": 2000, "quality_n": 1000, "view_count": 256, "judge_dir": None,
    "quality_min_interval_s": 10.0,  # live quality at most this often (gan_core.monitor: a scoring costs ~1 CPU-s)
    "reference_dataset": "mnist-sample", "recovery_dir": None, "recovery_every_s": 20.0, "total_steps": None,
}


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return max(minimum, int(value))
    except ValueError:
        raise ValueError(f"{name} must be a whole number (got {value!r})") from None


def default_max_trainers() -> int:
    value = os.environ.get("GAN_LAB_MAX_TRAINERS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValueError(f"GAN_LAB_MAX_TRAINERS must be a whole number of trainers (got {value!r})") from None
    return max(1, os.cpu_count() or 1)


def default_max_trainers_per_owner() -> int:
    return _int_env("GAN_LAB_MAX_TRAINERS_PER_SESSION", 1)


def default_recovery_root() -> str | None:
    return os.environ.get("GAN_LAB_RECOVERY_DIR", "").strip() or None


def default_recovery_quota_mb() -> float:
    return float(_int_env("GAN_LAB_RECOVERY_QUOTA_MB", 2048))


def default_browser_grace_s(default: float) -> float:
    """GAN_LAB_BROWSER_GRACE_S: seconds a browser may be away before its run is saved and ended. A page reads it
    at import, so a bad value is logged and the default kept (a page must not fail on it)."""
    text = os.environ.get("GAN_LAB_BROWSER_GRACE_S", "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 7 * 24 * 3600:
        logging.getLogger(__name__).warning(
            "GAN_LAB_BROWSER_GRACE_S must be a number of seconds above 0 (got %r); using %g", text[:40], default)
        return default
    return value


def default_make_worker():
    """The worker factory GAN_LAB_ENGINE names: `local` (default: worker processes) or `ray` (cluster actors).

    A factory is called as (role, env) and returns a worker with call / alive / close / pid / exit_description.
    One may also offer publish_share / withdraw_share / lookup_share / attach: a registry every replica of the
    app sees, which is how a presenter's link works from any replica (gan_core.transport_ray).
    """
    kind = os.environ.get("GAN_LAB_ENGINE", "local").strip().lower() or "local"
    if kind == "local":
        from gan_core.transport import LocalWorker

        return LocalWorker
    if kind == "ray":
        from gan_core.transport_ray import RayWorkers  # only here: the local default never imports Ray

        return RayWorkers()
    raise ValueError(f"GAN_LAB_ENGINE must be 'local' or 'ray' (got {kind!r})")


@dataclass
class EngineOptions:
    max_trainers: int = field(default_factory=default_max_trainers)
    max_trainers_per_owner: int = field(default_factory=default_max_trainers_per_owner)
    warm_spare: bool = True
    spare_config: GANConfig = field(default_factory=GANConfig)
    chunk_steps: int = RUN_OPTION_DEFAULTS["chunk_steps"]
    chunk_seconds: float = RUN_OPTION_DEFAULTS["chunk_seconds"]
    views_every_s: float = RUN_OPTION_DEFAULTS["views_every_s"]
    quality_every: int = RUN_OPTION_DEFAULTS["quality_every"]
    quality_n: int = RUN_OPTION_DEFAULTS["quality_n"]
    quality_min_interval_s: float = RUN_OPTION_DEFAULTS["quality_min_interval_s"]
    view_count: int = RUN_OPTION_DEFAULTS["view_count"]
    judge_dir: str | None = str(ROOT / "pretrained" / "classifier")
    reference_dataset: str = RUN_OPTION_DEFAULTS["reference_dataset"]
    recovery_every_s: float = RUN_OPTION_DEFAULTS["recovery_every_s"]
    recovery_root: str | None = field(default_factory=default_recovery_root)
    recovery_quota_mb: float = field(default_factory=default_recovery_quota_mb)
    recovery_grace_s: float = 3600.0  # an ended session's snapshot is kept this long for a reconnect
    direction_samples: int = 4000  # generated digits behind the principal directions (GANSpace)
    direction_count: int = 6
    inference_timeout_s: float = 300.0  # a long request (an evaluation) gives up after this
    quick_timeout_s: float = 120.0  # a slider's request gives up after this (its lane's first start included)
    connect_timeout_s: float = 20.0  # making a worker (joining a cluster) gives up after this
    worker_env: dict = field(default_factory=dict)
    make_worker: object = field(default_factory=lambda: default_make_worker())  # (role, env) -> a worker

    def run_options(self, quality_every: int | None = None) -> dict:
        return {**RUN_OPTION_DEFAULTS,
                "chunk_steps": self.chunk_steps, "chunk_seconds": self.chunk_seconds,
                "views_every_s": self.views_every_s,
                "quality_every": self.quality_every if quality_every is None else int(quality_every),
                "quality_n": self.quality_n, "quality_min_interval_s": self.quality_min_interval_s,
                "view_count": self.view_count, "judge_dir": self.judge_dir,
                "reference_dataset": self.reference_dataset, "recovery_every_s": self.recovery_every_s}
