"""The training timeline: the fixed-noise grid through training, and the model's weights at coarser moments.

Decisions, and why:
- The worker records, the page only receives. Each chunk end may add the fixed-noise grid (uint8, 64 x 28 x 28
  = 50 KB). Past `max_frames` every other older frame is dropped and the gap between recorded frames doubles,
  so the frames stay evenly spread over the whole run at a fixed cost (300 frames: 15 MB), however long it runs.
- The weights a picture needs (the sampler, with D for adversarial models so D(x) still means something, or
  encoder and decoder) are kept the same way at most `max_weights` times (~30). Past `memory_cap` bytes held,
  a snapshot is written to an .npz file in the run's recovery folder and read back when asked for.
- The page gets only frames after the last step it holds (gan_core.messages.Known), and thins its own copy
  with `thin_evenly`, so its memory is bounded too.
NumPy only: the page process imports this module.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

MAX_FRAMES = 300  # frames of the fixed-noise grid kept, worker and page side
MAX_WEIGHT_SNAPSHOTS = 30
WEIGHTS_MEMORY_CAP = 64 * 1024 * 1024  # bytes of weight snapshots held in memory before spilling to disk


def thin_evenly(count: int) -> list[int]:
    """The indices to keep when a list of `count` items is halved: every other one, and always the newest."""
    if count <= 2:
        return list(range(count))
    keep = list(range(0, count - 1, 2))
    return keep + [count - 1]


def _average_gap(steps: list[int]) -> float:
    return (steps[-1] - steps[0]) / (len(steps) - 1) if len(steps) > 1 else 0.0


class TimelineRecorder:
    """Frames and weight snapshots of one run, in the worker; safe from the trainer thread and the RPC thread."""

    def __init__(self, max_frames: int = MAX_FRAMES, max_weights: int = MAX_WEIGHT_SNAPSHOTS,
                 memory_cap: int = WEIGHTS_MEMORY_CAP, spill_dir: str | Path | None = None):
        self.max_frames = int(max_frames)
        self.max_weights = int(max_weights)
        self.memory_cap = int(memory_cap)
        self.spill_dir = Path(spill_dir) if spill_dir else None
        self._lock = threading.Lock()
        self._steps: list[int] = []
        self._frames: list[np.ndarray] = []
        self._frame_gap = 0.0
        self._weight_steps: list[int] = []
        self._weights: dict[int, dict[str, list[np.ndarray]] | Path] = {}
        self._weight_gap = 0.0
        self._held_bytes = 0

    # ---- frames
    def add_frame(self, step: int, frame: np.ndarray) -> bool:
        """Keep the grid at `step` (uint8) unless it is closer than the current gap to the last kept one."""
        step = int(step)
        with self._lock:
            if self._steps and (step <= self._steps[-1] or step - self._steps[-1] < self._frame_gap):
                return False
            self._steps.append(step)
            self._frames.append(np.array(frame, np.uint8))
            if len(self._steps) > self.max_frames:
                keep = thin_evenly(len(self._steps))
                self._steps = [self._steps[i] for i in keep]
                self._frames = [self._frames[i] for i in keep]
                self._frame_gap = _average_gap(self._steps)
            return True

    def frames_after(self, step: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(steps, uint8 frames) recorded after `step`; frames is None when there are none."""
        with self._lock:
            index = int(np.searchsorted(np.asarray(self._steps, np.int64), int(step), side="right"))
            steps = np.asarray(self._steps[index:], np.int64)
            frames = np.stack(self._frames[index:]) if index < len(self._frames) else None
        return steps, frames

    @property
    def last_frame_step(self) -> int:
        with self._lock:
            return self._steps[-1] if self._steps else -1

    # ---- weights
    def wants_weights(self, step: int) -> bool:
        with self._lock:
            return not self._weight_steps or (int(step) > self._weight_steps[-1]
                                              and int(step) - self._weight_steps[-1] >= self._weight_gap)

    def add_weights(self, step: int, weights: dict[str, list[np.ndarray]]) -> bool:
        step = int(step)
        if not self.wants_weights(step):
            return False
        copy = {stem: [np.array(a) for a in arrays] for stem, arrays in weights.items()}
        size = sum(a.nbytes for arrays in copy.values() for a in arrays)
        with self._lock:
            if self._held_bytes + size > self.memory_cap and self.spill_dir is not None:
                self._weights[step] = self._spill(step, copy)
            else:
                self._weights[step] = copy
                self._held_bytes += size
            self._weight_steps.append(step)
            if len(self._weight_steps) > self.max_weights:
                keep = set(thin_evenly(len(self._weight_steps)))
                for index, old in enumerate(list(self._weight_steps)):
                    if index not in keep:
                        self._forget(old)
                self._weight_steps = [s for i, s in enumerate(self._weight_steps) if i in keep]
                self._weight_gap = _average_gap(self._weight_steps)
        return True

    def _spill(self, step: int, weights: dict[str, list[np.ndarray]]) -> Path:
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        path = self.spill_dir / f"weights-{step}.npz"
        np.savez(path, **{f"{stem}__{i}": a for stem, arrays in weights.items() for i, a in enumerate(arrays)})
        return path

    def _forget(self, step: int) -> None:
        held = self._weights.pop(step, None)
        if isinstance(held, Path):
            held.unlink(missing_ok=True)
        elif held is not None:
            self._held_bytes -= sum(a.nbytes for arrays in held.values() for a in arrays)

    def weight_steps(self) -> list[int]:
        with self._lock:
            return list(self._weight_steps)

    def weights_near(self, step: int) -> tuple[int, dict[str, list[np.ndarray]]]:
        """The kept snapshot nearest to `step` (the earlier one on a tie): (its step, a copy of its weights)."""
        with self._lock:
            if not self._weight_steps:
                raise LookupError("no weights kept yet; they are recorded at the end of each training chunk")
            kept = min(self._weight_steps, key=lambda s: (abs(s - int(step)), s))
            held = self._weights[kept]
        if isinstance(held, Path):
            with np.load(held) as stored:
                weights: dict[str, list[np.ndarray]] = {}
                for name in sorted(stored.files, key=lambda n: (n.rsplit("__", 1)[0], int(n.rsplit("__", 1)[1]))):
                    weights.setdefault(name.rsplit("__", 1)[0], []).append(np.array(stored[name]))
            return kept, weights
        return kept, {stem: [np.array(a) for a in arrays] for stem, arrays in held.items()}
