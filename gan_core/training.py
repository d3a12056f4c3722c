"""The Trainer: chunks of steps in a worker thread, history, snapshots, callbacks. Knows no model type."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from gan_core.history import downsample  # noqa: F401  (re-exported: older imports)

GOOD_STATE_EVERY_S = 1.0  # timed chunks: how often the divergence rollback point is refreshed
FIRST_POINT_STEPS = 5  # a live run's first call: its first loss point within tens of milliseconds of Start
STATUSES = ("idle", "running", "paused", "finished", "diverged", "stopped", "error")
# Steps/s is measured over this much training time: over the last few calls alone (a fraction of a second on a fast
# machine) the number jumped with every busy moment of a shared machine.
SPEED_WINDOW_S = 3.0
RECENT_CALLS = 512  # enough calls for the window at ~170 calls a second (25 steps at ~4,000 steps/s)


def recent_speed(calls, window_s: float = SPEED_WINDOW_S) -> float:
    """Steps per second over the newest `window_s` seconds of `calls` ((steps, seconds) pairs, oldest first), or
    over all of them when they add up to less; 0 when there are none."""
    steps = seconds = 0.0
    for count, duration in reversed(calls):
        steps += count
        seconds += duration
        if seconds >= window_s:
            break
    return steps / seconds if seconds > 0 else 0.0


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    return value


class FusedSteps:
    """Runs `steps` calls of `model.train_step` inside one traced call.

    Batches are drawn in-graph (uniformly, with replacement) from images held as
    one tensor, so there is no Python or tf.data work per step. Returns the
    means of the model's metrics over the steps of the call.
    """

    def __init__(self, model: keras.Model, images: np.ndarray, batch_size: int, seed: int = 0,
                 labels: np.ndarray | None = None):
        self.model = model
        self.images = tf.constant(np.asarray(images, np.float32))
        self.labels = None if labels is None else tf.constant(np.asarray(labels, np.int32))
        self.batch_size = int(batch_size)
        self.count = int(self.images.shape[0])
        self.seed_generator = keras.random.SeedGenerator(seed + 7919)
        self._run = tf.function(self._run_eager)

    def _run_eager(self, steps):
        for tracker in self.model.metrics:
            tracker.reset_state()
        for _ in tf.range(steps):
            index = keras.random.randint((self.batch_size,), 0, self.count, seed=self.seed_generator)
            batch = tf.gather(self.images, index)
            self.model.train_step(batch if self.labels is None else (batch, tf.gather(self.labels, index)))
        return {tracker.name: tracker.result() for tracker in self.model.metrics}

    def __call__(self, steps: int) -> dict[str, float]:
        logs = self._run(tf.constant(int(steps), tf.int32))
        return {name: float(value) for name, value in logs.items()}


@dataclass(frozen=True)
class TrainerSnapshot:
    """A consistent, private copy of the trainer's state; safe to read from any thread."""

    status: str
    step: int
    elapsed_s: float
    steps_per_second: float
    history: dict[str, np.ndarray]  # "step", "time" and one array per metric, all the same length
    samples: np.ndarray | None  # the fixed-noise grid, (N, 28, 28) in [0, 1]
    samples_step: int
    message: str = ""
    total_steps: int | None = None
    chunks: int = 0
    extras: dict = field(default_factory=dict)
    busy: bool = False  # the worker is in a chunk (or has one queued): more steps are coming

    def latest(self, name: str, default: float = float("nan")) -> float:
        series = self.history.get(name)
        return float(series[-1]) if series is not None and len(series) else default


class Trainer:
    """Trains in chunks of `chunk_steps`, between which it can pause, single-step or stop.

    `run_steps(n)` advances the model n steps and returns metric means;
    `preview()` returns the fixed-noise sample grid. Callbacks, set with
    `add_callback(event, fn)`, run on the worker thread: "on_chunk_end" gets a
    snapshot whose history holds that chunk's points only (the whole is `snapshot()`),
    "on_status" gets the new status.

    `chunk_seconds`: while running in the background, a chunk is about this long (its steps adapt to the
    measured speed, up to `max_chunk_steps`), so a fast model is not slowed by per-chunk work and a slow one
    still answers Pause promptly; a single Step is always `chunk_steps`. `views_every_s`: the grid and the
    probes (the page's pictures) are computed at most this often while running, and always at a chunk that
    ends in a pause, so a paused run's pictures match its step.

    Readers on other threads use the public read API: `status_numbers()`, `history_since(count, last_step)`,
    `views()`; a resumed or continued run is set up with `start_at(step, history)` before it trains.
    """

    def __init__(self, model: keras.Model, run_steps: Callable[[int], dict[str, float]],
                 preview: Callable[[], np.ndarray] | None = None, *, chunk_steps: int = 100,
                 steps_per_call: int = 25, total_steps: int | None = None, start_step: int = 0,
                 chunk_seconds: float | None = None, max_chunk_steps: int | None = None, views_every_s: float = 0.0):
        if chunk_steps < 1 or steps_per_call < 1:
            raise ValueError("chunk_steps and steps_per_call must be positive")
        self.model = model
        self.run_steps = run_steps
        self.preview = preview
        self.chunk_steps = int(chunk_steps)
        self.steps_per_call = int(steps_per_call)
        self.total_steps = total_steps
        self.chunk_seconds = None if not chunk_seconds else float(chunk_seconds)
        self.max_chunk_steps = int(max_chunk_steps) if max_chunk_steps else max(self.chunk_steps, 20 * self.chunk_steps)
        self.views_every_s = float(views_every_s)
        self._last_views = -math.inf
        self._last_good_time = -math.inf
        self._views_chunk = -1  # the chunk whose end last computed the pictures (grid, probes)
        self._lock = threading.RLock()  # re-entrant: callbacks may read a snapshot
        self._wake = threading.Condition(self._lock)
        self._history: dict[str, list[float]] = {"step": [], "time": []}
        self._step = int(start_step)
        self._continue_model_at(self._step)
        self._status = "idle"
        self._message = ""
        self._samples = None
        self._samples_step = -1
        self._elapsed_s = 0.0
        self._chunks = 0
        self._recent = deque(maxlen=RECENT_CALLS)  # (steps, seconds) of recent calls, for steps/s
        self._pending_steps = 0  # single-step requests while paused
        self._pending_actions: list[Callable[[], None]] = []
        self._pause_requested = False
        self._stop_requested = False
        self._thread: threading.Thread | None = None
        self._callbacks: dict[str, list[Callable]] = {"on_chunk_end": [], "on_status": []}
        self._probes: dict[str, tuple[Callable[[], object], int]] = {}
        self._extras: dict[str, object] = {}
        self._busy = False
        self._exiting = False  # the worker has decided to return: a start() must wait for it and begin anew
        self._last_good = None
        self._last_good_mark = (self._step, 0, 0.0)  # (step, history length, elapsed) of _last_good
        self.first_chunk_s: float | None = None
        self._created = time.perf_counter()

    # ---- control (any thread) ---------------------------------------------------------
    def add_callback(self, event: str, fn: Callable) -> None:
        if event not in self._callbacks:
            raise ValueError(f"unknown event {event!r}; choose from {sorted(self._callbacks)}")
        self._callbacks[event].append(fn)

    def add_probe(self, name: str, fn: Callable[[], object], every_chunks: int = 1) -> None:
        """Run `fn` on the worker after every `every_chunks` chunks; its result is in snapshot.extras[name]."""
        self._probes[name] = (fn, max(1, int(every_chunks)))

    def start(self) -> None:
        """Start training in the background, or resume it when paused."""
        with self._lock:
            if self._status in ("finished",):
                return
            self._pause_requested = False
            self._stop_requested = False  # a later start wins over an earlier stop the worker has not seen yet
            if self._status in ("paused", "diverged", "idle", "stopped"):
                self._set_status_locked("running", "")
            self._wake.notify_all()
        self._ensure_thread()

    resume = start

    def pause(self) -> None:
        with self._lock:
            self._pause_requested = True
            if self._status == "running":
                self._set_status_locked("paused", "")
            self._wake.notify_all()

    def step(self, chunks: int = 1) -> None:
        """Run `chunks` chunks, then hold paused."""
        with self._lock:
            if self._status == "finished":
                return
            self._pause_requested = True
            self._stop_requested = False
            self._pending_steps += chunks
            if self._status in ("running", "idle", "stopped", "diverged"):
                self._set_status_locked("paused", "")
            self._wake.notify_all()
        self._ensure_thread()

    def stop(self, timeout: float | None = 10.0) -> None:
        with self._lock:
            self._stop_requested = True
            self._wake.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def schedule(self, action: Callable[[], None]) -> None:
        """Run `action` on the worker between chunks (e.g. a live learning-rate change)."""
        with self._lock:
            self._pending_actions.append(action)
            self._wake.notify_all()
        if self._thread is None or not self._thread.is_alive():
            self._drain_actions()

    def wait_for_step(self, step: int, timeout: float = 30.0) -> bool:
        """Block until the step counter reaches `step` or training stops advancing."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._step < step and time.monotonic() < deadline:
                if self._status in ("finished", "diverged", "error", "stopped"):
                    break
                self._wake.wait(0.05)
            return self._step >= step

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> TrainerSnapshot:
        with self._lock:
            history = {name: np.array(values, dtype=np.float64) for name, values in self._history.items()}
            return TrainerSnapshot(
                status=self._status, step=self._step, elapsed_s=self._elapsed_s,
                steps_per_second=recent_speed(self._recent), history=history,
                samples=None if self._samples is None else self._samples.copy(),
                samples_step=self._samples_step, message=self._message,
                total_steps=self.total_steps, chunks=self._chunks,
                busy=self._busy or self._pending_steps > 0 or self._status == "running",
                extras={name: _copy(value) for name, value in self._extras.items()})

    def restore_history(self, history: dict[str, np.ndarray]) -> None:
        """Continue the curves of a resumed run (series as written by write_history_csv)."""
        with self._lock:
            self._history = {name: [float(v) for v in values] for name, values in history.items()}
            self._history.setdefault("step", [])
            self._history.setdefault("time", [])
            if len(self._history.get("time", [])):
                self._elapsed_s = self._history["time"][-1]
            self._last_good = None  # its mark counted the old curves: take a fresh one at the next chunk

    # ---- the public read API (any thread): what a worker's page answers need, without copying everything
    def status_numbers(self) -> dict:
        """status, step, elapsed_s, steps_per_second, message, busy, chunks, total_steps: no history copied."""
        with self._lock:
            return {"status": self._status, "step": self._step, "elapsed_s": self._elapsed_s,
                    "steps_per_second": recent_speed(self._recent),
                    "message": self._message, "chunks": self._chunks, "total_steps": self.total_steps,
                    "views_chunk": self._views_chunk,
                    "busy": self._busy or self._pending_steps > 0 or self._status == "running"}

    def history_since(self, count: int, last_step: float) -> tuple[dict[str, np.ndarray], bool, int]:
        """(the points after the first `count`, reset, total count). A reader that holds `count` points whose
        last is at `last_step` gets only the new ones; one whose tail no longer matches (curves restored or
        rolled back) gets everything, with reset=True."""
        with self._lock:
            history = self._history
            total = len(history["step"])
            reset = not (0 < count <= total and history["step"][count - 1] == last_step)
            start = 0 if reset else count
            return {name: np.asarray(values[start:], np.float64) for name, values in history.items()}, reset, total

    def history_length(self) -> int:
        with self._lock:
            return len(self._history["step"])

    def views(self) -> dict:
        """The latest pictures: samples (a private copy), samples_step, chunks, extras (copied)."""
        with self._lock:
            return {"samples": None if self._samples is None else self._samples.copy(),
                    "samples_step": self._samples_step, "chunks": self._chunks, "views_chunk": self._views_chunk,
                    "extras": {name: _copy(value) for name, value in self._extras.items()}}

    def start_at(self, step: int, history: dict[str, np.ndarray] | None = None) -> None:
        """Set a trainer that has not trained yet at `step`, with the curves so far (points past `step` dropped,
        so a resumed run's curves continue strictly increasing)."""
        with self._lock:
            if self._busy or self._status == "running":
                raise RuntimeError("start_at is for a trainer that is not training")
            self._step = int(step)
        self._continue_model_at(self._step)
        if history is not None and len(history.get("step", ())):
            steps = np.asarray(history["step"], np.float64)
            keep = steps <= step
            self.restore_history({name: np.asarray(values)[keep] for name, values in history.items()})
        else:
            self.restore_history({"step": [], "time": []})
        with self._lock:
            self._last_good_mark = (self._step, len(self._history["step"]), self._elapsed_s)

    def _continue_model_at(self, step: int) -> None:
        # A model whose loss follows a schedule in steps (the VAE's KL warm-up) continues it at a resumed step.
        if step and hasattr(self.model, "continue_at"):
            self.model.continue_at(step)

    def probe_functions(self) -> list[Callable[[], object]]:
        return [fn for fn, _ in self._probes.values()]

    # ---- blocking use (CLI, tests) -----------------------------------------------------
    def run(self, steps: int, on_chunk_end: Callable[[TrainerSnapshot], None] | None = None) -> TrainerSnapshot:
        """Train `steps` more steps in the calling thread."""
        target = self._step + int(steps)
        with self._lock:
            self._set_status_locked("running", "")
        while True:
            with self._lock:
                if self._stop_requested or self._status != "running":
                    break
                remaining = target - self._step
            if remaining <= 0:
                break
            self._run_chunk(min(self.chunk_steps, remaining))
            if on_chunk_end is not None:
                on_chunk_end(self.snapshot())
        with self._lock:
            if self._status == "running":
                self._set_status_locked("paused", "")
        return self.snapshot()

    # ---- worker ------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            old = self._thread
            if old is not None and old.is_alive() and not self._exiting:
                return
        if old is not None and old is not threading.current_thread():
            old.join()  # it has left its loop and holds no lock: this takes a moment
        with self._lock:
            if self._thread is not old and self._thread is not None and self._thread.is_alive():
                return  # another caller started one meanwhile
            self._stop_requested = False
            self._exiting = False
            self._thread = threading.Thread(target=self._worker, daemon=True, name="gan-trainer")
            self._thread.start()

    def _worker(self) -> None:
        try:
            while True:
                with self._lock:
                    while not (self._stop_requested or self._pending_actions
                               or self._status == "running" or self._pending_steps > 0):
                        self._wake.wait()
                    if self._stop_requested:
                        if self._status in ("running", "paused", "idle"):
                            self._set_status_locked("stopped", "")
                        self._exiting = True
                        return
                    run_chunk = self._status == "running" or self._pending_steps > 0
                    if self._status != "running" and self._pending_steps > 0:
                        self._pending_steps -= 1
                    self._busy = run_chunk  # set with the decision, so a snapshot never sees a gap
                self._drain_actions()
                if run_chunk:
                    # The first chunk is one traced call: the first loss point shows as soon as tracing ends.
                    running = self.status == "running"
                    steps = self._timed_chunk_steps() if running else self.chunk_steps
                    if self._chunks == 0 and running:
                        steps = min(steps, self.steps_per_call)
                    if self.total_steps is not None:
                        steps = min(steps, self.total_steps - self._step)
                    if steps > 0:
                        self._run_chunk(steps)
                with self._lock:
                    if self.total_steps is not None and self._step >= self.total_steps:
                        self._set_status_locked("finished", f"Reached {self.total_steps} steps.")
                        self._exiting = True
                        return
        except Exception as exc:  # reported through the snapshot, never raised into a UI thread
            with self._lock:
                # Nothing more is coming: a page that polls while busy must see it end.
                self._busy = False
                self._pending_steps = 0
                self._exiting = True
                self._set_status_locked("error", f"{type(exc).__name__}: {exc}")

    def _timed_chunk_steps(self) -> int:
        """Steps for about `chunk_seconds` at the recent speed, whole traced calls, within the bounds."""
        if self.chunk_seconds is None:
            return self.chunk_steps
        with self._lock:
            speed = recent_speed(self._recent)
        if speed <= 0:
            return self.chunk_steps
        calls = max(1, round(speed * self.chunk_seconds / self.steps_per_call))
        return int(min(self.max_chunk_steps, calls * self.steps_per_call))

    def _views_due(self) -> bool:
        """Pictures now? Always when this chunk ends in a pause (or stop), else at most every views_every_s."""
        with self._lock:
            holding = self._pause_requested or self._stop_requested or self._status != "running"
        return holding or time.perf_counter() - self._last_views >= self.views_every_s

    def _drain_actions(self) -> None:
        with self._lock:
            actions, self._pending_actions = self._pending_actions, []
        for action in actions:
            action()

    def _run_chunk(self, steps: int) -> None:
        with self._lock:
            self._busy = True
        try:
            self._run_chunk_steps(steps)
        finally:
            with self._lock:
                self._busy = False
                self._wake.notify_all()

    def _run_chunk_steps(self, steps: int) -> None:
        if self._last_good is None:
            self._remember_good_state()
        with self._lock:
            chunk_start = len(self._history["step"])
        done = 0
        while done < steps:
            n = min(self.steps_per_call, steps - done)
            if self._chunks == 0 and done == 0 and self.chunk_seconds is not None:
                # A live run's first point: a few steps, not a whole call, so a warm Start shows it in tens of
                # milliseconds; the rest of the call follows, so later points stay on multiples of the call.
                n = min(n, FIRST_POINT_STEPS)
            call_start = time.perf_counter()
            logs = self.run_steps(n)
            seconds = time.perf_counter() - call_start
            done += n
            if not all(math.isfinite(v) for v in logs.values()):
                self._handle_divergence(logs, self._step + n)
                return
            with self._lock:
                self._step += n
                self._elapsed_s += seconds
                if self._chunks > 0 or done > n:  # the first call includes tracing
                    self._recent.append((n, seconds))
                self._history["step"].append(self._step)
                self._history["time"].append(self._elapsed_s)
                for name, value in logs.items():
                    self._history.setdefault(name, []).append(value)
                self._wake.notify_all()
        views_due = self._views_due()
        samples = self.preview() if self.preview is not None and views_due else None
        probed = ({name: fn() for name, (fn, every) in self._probes.items() if self._chunks % every == 0}
                  if views_due else {})
        if views_due:
            self._last_views = time.perf_counter()
        # The rollback point for a divergence: every chunk for fixed chunks (the CLI), at most once a second for
        # timed ones, whose chunks are short (copying every weight and optimizer slot is not free).
        if self.chunk_seconds is None or time.perf_counter() - self._last_good_time >= GOOD_STATE_EVERY_S:
            self._remember_good_state()
        with self._lock:
            self._extras.update(probed)
            if samples is not None:
                self._samples, self._samples_step = samples, self._step
            if views_due:
                self._views_chunk = self._chunks
            self._chunks += 1
            if self.first_chunk_s is None:
                self.first_chunk_s = time.perf_counter() - self._created
        snapshot = self._chunk_snapshot(chunk_start)
        for fn in self._callbacks["on_chunk_end"]:
            fn(snapshot)

    def _chunk_snapshot(self, chunk_start: int) -> TrainerSnapshot:
        """A snapshot whose history is the last chunk's points only: callbacks never copy the whole curves."""
        with self._lock:
            numbers = self.status_numbers()
            history = {name: np.array(values[chunk_start:], dtype=np.float64) for name, values in self._history.items()}
            return TrainerSnapshot(
                status=numbers["status"], step=numbers["step"], elapsed_s=numbers["elapsed_s"],
                steps_per_second=numbers["steps_per_second"], history=history,
                samples=self._samples, samples_step=self._samples_step, message=numbers["message"],
                total_steps=self.total_steps, chunks=self._chunks, busy=numbers["busy"], extras=dict(self._extras))

    def _remember_good_state(self) -> None:
        self._last_good_time = time.perf_counter()
        state = self._save_state()
        with self._lock:
            self._last_good = state
            self._last_good_mark = (self._step, len(self._history["step"]), self._elapsed_s)

    def _save_state(self) -> list[np.ndarray]:
        return [np.array(v.numpy()) for v in self._state_variables()]

    def state_variables(self) -> list:
        """Every variable a step changes: the model's weights and its optimizers' slots."""
        return self._state_variables()

    def _state_variables(self) -> list:
        variables = list(self.model.weights)
        optimizers = {id(v): v for v in [*vars(self.model).values(), getattr(self.model, "optimizer", None)]
                      if isinstance(v, keras.optimizers.Optimizer)}
        for optimizer in optimizers.values():
            variables.extend(optimizer.variables)
        return variables

    def _handle_divergence(self, logs: dict[str, float], bad_step: int) -> None:
        bad = ", ".join(f"{k}={v}" for k, v in logs.items() if not math.isfinite(v))
        if self._last_good is not None:
            for variable, value in zip(self._state_variables(), self._last_good):
                variable.assign(value)
        with self._lock:
            # The counter, the curves and the clock go back with the weights, so they describe one state.
            good_step, good_length, good_elapsed = self._last_good_mark
            self._step, self._elapsed_s = good_step, good_elapsed
            for series in self._history.values():
                del series[good_length:]
            self._pause_requested = True
            self._pending_steps = 0
            self._set_status_locked(
                "diverged",
                f"Training diverged by step {bad_step} ({bad}). The last good weights (step "
                f"{good_step}) are restored and training is paused; lower the learning rates and resume.")

    def _set_status_locked(self, status: str, message: str) -> None:
        changed = status != self._status
        self._status, self._message = status, message
        self._wake.notify_all()
        if changed:
            for fn in self._callbacks["on_status"]:
                fn(status)
