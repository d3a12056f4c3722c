"""What crosses the boundary between an engine worker and the page: plain numbers and arrays, no live objects.

A worker answers `snapshot(known)` with a RunSnapshot holding only what the page lacks: the history points
after the last one it has, the sample grid only when it changed (uint8), the quality rows it has not seen,
the timeline frames after the last step it holds (uint8; see gan_core.timeline).
The page folds each answer into its RunView, which keeps the curves bounded (older points thinned), so a
run left for a day costs the page a fixed amount of memory and each redraw a fixed amount of work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gan_core.timeline import MAX_FRAMES, thin_evenly

VIEW_MAX_POINTS = 4000  # per series, page side; older points thinned evenly past this


@dataclass(frozen=True)
class Known:
    """What the page already holds, so the worker sends only the rest."""

    history_count: int = 0  # points of the worker's history the page has
    history_last_step: float = -1.0  # the step of the last of them (a mismatch means: send everything)
    samples_step: int = -1
    quality_count: int = 0
    extras_chunk: int = -1
    timeline_last_step: int = -1  # the step of the newest timeline frame the page holds
    timeline_weights_last: int = -1  # the newest step with kept weights the page knows of


@dataclass(frozen=True)
class RunSnapshot:
    status: str
    step: int
    elapsed_s: float
    steps_per_second: float
    chunks: int
    busy: bool
    message: str = ""
    total_steps: int | None = None
    history: dict[str, np.ndarray] = field(default_factory=dict)  # new points only, unless history_reset
    history_reset: bool = False  # True: `history` is the whole (thinned) history, replacing the page's
    history_count: int = 0  # points the worker holds in all
    samples: np.ndarray | None = None  # uint8 (N, 28, 28), only when newer than the page's
    samples_step: int = -1
    extras: dict = field(default_factory=dict)  # e.g. discriminator_view: {"real": ..., "fake": ...}
    extras_chunk: int = -1
    quality: dict[str, np.ndarray] | None = None  # the whole live-quality history, only when it grew
    quality_shares: np.ndarray | None = None
    quality_error: str = ""
    worker_gone: bool = False  # the worker process ended (killed, out of memory)
    timeline_steps: np.ndarray | None = None  # int64 (K,): the steps of the frames below
    timeline_frames: np.ndarray | None = None  # uint8 (K, 64, 28, 28): fixed-noise grids after the page's last
    timeline_weight_steps: tuple[int, ...] | None = None  # steps with kept weights; None: unchanged
    saved_step: int = -1  # the step of the run's newest recovery snapshot (-1: none yet)


class RunView:
    """The page's copy of one run: everything received so far, bounded. Lives in the session's state."""

    def __init__(self, max_points: int = VIEW_MAX_POINTS):
        self.max_points = int(max_points)
        self.status = "idle"
        self.step = 0
        self.elapsed_s = 0.0
        self.steps_per_second = 0.0
        self.chunks = 0
        self.busy = False
        self.message = ""
        self.total_steps: int | None = None
        self.history: dict[str, np.ndarray] = {}
        self.samples: np.ndarray | None = None  # float32 in [0, 1] for drawing
        self.samples_step = -1
        self.extras: dict = {}
        self.extras_chunk = -1
        self.quality: dict[str, np.ndarray] | None = None
        self.quality_shares: np.ndarray | None = None
        self.quality_error = ""
        self.worker_gone = False
        self.max_frames = MAX_FRAMES
        self.timeline_steps: list[int] = []  # the fixed-noise grid through training, bounded (thinned evenly)
        self.timeline_frames: list[np.ndarray] = []  # uint8 (64, 28, 28) each
        self.timeline_weight_steps: tuple[int, ...] = ()  # moments whose weights the worker can send
        self.saved_step = -1  # the newest recovery snapshot's step, as the worker last said
        self._worker_count = 0  # points the worker held at the last answer
        self.revision = 0  # bumps whenever anything drawn changes

    def known(self) -> Known:
        steps = self.history.get("step")
        last = float(steps[-1]) if steps is not None and len(steps) else -1.0
        return Known(self._worker_count, last, self.samples_step,
                     0 if self.quality is None else len(self.quality.get("step", ())), self.extras_chunk,
                     self.timeline_steps[-1] if self.timeline_steps else -1,
                     self.timeline_weight_steps[-1] if self.timeline_weight_steps else -1)

    def apply(self, snapshot: RunSnapshot) -> bool:
        """Fold one answer in; True when something the page draws changed."""
        before = self._drawn()
        self.status, self.step, self.elapsed_s = snapshot.status, snapshot.step, snapshot.elapsed_s
        self.steps_per_second, self.chunks, self.busy = snapshot.steps_per_second, snapshot.chunks, snapshot.busy
        self.message, self.total_steps = snapshot.message, snapshot.total_steps
        self.worker_gone = snapshot.worker_gone
        self.saved_step = max(self.saved_step, snapshot.saved_step)
        if not snapshot.worker_gone:
            self._apply_history(snapshot)
        if snapshot.samples is not None:
            self.samples = snapshot.samples.astype(np.float32) / 255.0
            self.samples_step = snapshot.samples_step
        if snapshot.extras_chunk != self.extras_chunk and snapshot.extras:
            self.extras, self.extras_chunk = dict(snapshot.extras), snapshot.extras_chunk
        if snapshot.quality is not None:
            self.quality = {name: np.asarray(values, np.float64) for name, values in snapshot.quality.items()}
        if snapshot.quality_shares is not None:
            self.quality_shares = np.asarray(snapshot.quality_shares)
        self.quality_error = snapshot.quality_error
        self._apply_timeline(snapshot)
        changed = before != self._drawn()
        if changed:
            self.revision += 1
        return changed

    def _drawn(self) -> tuple:
        """What the page draws, in short: a change here bumps the revision."""
        return (self.status, self.step, self.samples_step, self.busy, self.message, self.extras_chunk,
                self.quality_error, self.worker_gone,
                None if self.quality is None else len(self.quality.get("step", ())),
                self.timeline_steps[-1] if self.timeline_steps else -1, self.timeline_weight_steps)

    def _apply_history(self, snapshot: RunSnapshot) -> None:
        new = {name: np.asarray(values, np.float64) for name, values in snapshot.history.items()}
        if snapshot.history_reset:
            self.history = new
        elif new and len(new.get("step", ())):
            names = set(self.history) | set(new)
            count = len(self.history.get("step", ()))
            added = len(new["step"])
            # A series that appears late (live quality, a penalty) is padded with NaN where it had no points.
            self.history = {name: np.concatenate([self.history.get(name, np.full(count, np.nan)),
                                                  new.get(name, np.full(added, np.nan))]) for name in names}
        self._worker_count = snapshot.history_count
        self._thin()

    def _apply_timeline(self, snapshot: RunSnapshot) -> None:
        if snapshot.timeline_frames is not None and snapshot.timeline_steps is not None:
            last = self.timeline_steps[-1] if self.timeline_steps else -1
            for step, frame in zip(snapshot.timeline_steps, snapshot.timeline_frames):
                if int(step) > last:
                    self.timeline_steps.append(int(step))
                    self.timeline_frames.append(np.asarray(frame, np.uint8))
                    last = int(step)
            while len(self.timeline_steps) > self.max_frames:
                keep = thin_evenly(len(self.timeline_steps))
                self.timeline_steps = [self.timeline_steps[i] for i in keep]
                self.timeline_frames = [self.timeline_frames[i] for i in keep]
        if snapshot.timeline_weight_steps is not None:
            self.timeline_weight_steps = tuple(int(s) for s in snapshot.timeline_weight_steps)

    def timeline_frame(self, step: int) -> np.ndarray | None:
        """The kept grid (uint8) at `step`, or at the nearest kept step; None before the first frame."""
        if not self.timeline_steps:
            return None
        index = int(np.argmin(np.abs(np.asarray(self.timeline_steps) - int(step))))
        return self.timeline_frames[index]

    def _thin(self) -> None:
        steps = self.history.get("step")
        if steps is None or len(steps) <= self.max_points:
            return
        # Keep the newest quarter whole and every other older point: halves the old part each time it fills.
        count = len(steps)
        recent = self.max_points // 4
        keep = np.concatenate([np.arange(0, count - recent, 2), np.arange(count - recent, count)])
        self.history = {name: values[keep] for name, values in self.history.items()}

    def latest(self, name: str, default: float = float("nan")) -> float:
        series = self.history.get(name)
        return float(series[-1]) if series is not None and len(series) else default
