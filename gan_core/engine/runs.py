"""A training run as the page holds it: a lease on one worker, the page's view of the run, and its commands.

Decisions, and why:
- A run holds a lease (gan_core.engine.pool), never a raw worker: closing the run releases the lease and the
  pool ends the process, even one still starting; the close returns at once (the last snapshot and the
  process's end happen on the pool's thread), so Reset or a closed tab never freezes a page.
- Creating the run in its worker happens on a thread of the run's; commands given meanwhile are queued and
  replayed once the worker answers, unless the lease was released first: then they are dropped with it.
- A worker that ended (killed, the session closed) is replaced on Start/Step: the old lease is released
  first (a Ray actor that merely stopped answering is killed there, never left training beside the new one),
  and the new worker starts only once the old one has ended, so it reads the old one's last snapshot whole.
- Resume continues from the newest recovery snapshot the worker reported (`saved_step`); a worker that cannot
  find it (a node that cannot see the recovery folder) says so, and the page shows that instead of starting
  silently from step 0.
- Every method the page calls returns quickly; only `wait_*` block, for scripts and tests.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

import numpy as np

from gan_core.config import GANConfig
from gan_core.engine.errors import EngineError, describe_failure
from gan_core.engine.options import EngineOptions
from gan_core.engine.pool import Lease, WorkerPool
from gan_core.messages import RunSnapshot, RunView
from gan_core.transport import WorkerError, WorkerGone

PREVIOUS_WORKER_WAIT_S = 30.0  # a revived run waits this long at most for the old worker's last snapshot


class RunClient:
    """One session's training run, driven through its leased worker. Every page-facing method returns quickly."""

    def __init__(self, pool: WorkerPool, options: EngineOptions, config: GANConfig, quality_every: int | None,
                 recovery_dir: Path, dataset: tuple | None = None, initial: dict | None = None, owner: str = "",
                 make_model: Callable | None = None, describe: Callable | None = None):
        self.pool = pool
        self.options = options
        self.owner = owner
        self.dataset = compact_dataset(dataset)  # (uint8 images, labels or None) sent to every worker of this run
        self.initial = initial  # {"weights", "step", "history"} the run starts from (a bundle), or None
        self.run_id = uuid.uuid4().hex
        self.config = config
        self.quality_every = options.quality_every if quality_every is None else int(quality_every)
        self.quality_n = options.quality_n
        self.quality_min_interval_s = options.quality_min_interval_s
        self.view = RunView()
        self.notes: list[str] = []
        self.quality_note = ""
        self.reused_spare = False
        self.recovery_dir = Path(recovery_dir)
        self.created = time.monotonic()
        self.first_point_s: float | None = None  # seconds from create to the first history point
        self.ended_at: float | None = None  # when the run last let its worker go (recovery cleanup reads it)
        self._make_model = make_model  # (key, config, weights, label, state) -> ModelHandle
        self._describe = describe  # (config) -> network descriptions
        self._on_ended: list[Callable[["RunClient"], None]] = []
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()  # the page's fragment and its live feed poll from two threads
        self._lease: Lease | None = None
        self._previous_end: threading.Event | None = None  # the last worker's end (its last snapshot written)
        self._created_in_worker = False  # the run exists in the leased worker (create answered)
        self._starting: threading.Thread | None = None
        self._queued: list[tuple[str, tuple]] = []  # commands given while the worker starts
        self._start_error = ""
        self._closed_by = ""  # why this run's worker was ended on purpose ("reset", "session ended")
        self._discarded = False

    def on_ended(self, callback: Callable[["RunClient"], None]) -> None:
        """`callback(run)` whenever the run lets its worker go (closed, reset, failed to start)."""
        self._on_ended.append(callback)

    # -- lifecycle
    @property
    def worker(self):
        """The leased worker, or None (not made yet, or released)."""
        lease = self._lease
        return None if lease is None else lease.current

    def launch(self, lease: Lease, resume: bool) -> None:
        """Create the run in the lease's worker on a thread of its own, then replay commands given meanwhile."""
        previous = self._previous_end

        def work():
            if previous is not None:
                previous.wait(PREVIOUS_WORKER_WAIT_S)  # the old worker's last snapshot is whole first
            try:
                worker = lease.worker()
                info = worker.call("create", self.config.to_dict(), {
                    **self.options.run_options(self.quality_every), "recovery_dir": str(self.recovery_dir)},
                    resume, timeout=600, dataset=self.dataset, initial=None if resume else self.initial)
            except (WorkerGone, WorkerError, TimeoutError, EngineError) as exc:
                if lease.released:
                    return  # closed while starting: the pool ends the worker, nothing is replayed
                current = lease.current
                if isinstance(exc, WorkerGone) or (current is not None and not current.alive()):
                    # The process died while it built the run (kill -9, out of memory): a worker that ended,
                    # as after any later kill, so Resume starts another from the snapshot when there is one.
                    # An error state would leave only Reset, which throws the snapshot and the curves away.
                    # The lease stays until Resume or Reset (a dead worker holds no slot), as after a later kill.
                    with self._lock:
                        self._queued = []
                    return
                with self._lock:
                    self._start_error = describe_failure(exc)
                    self._queued = []
                lease.release()
                self._ended()
                return
            with self._lock:
                if lease.released:
                    return
                self.notes = list(info["notes"])
                self.quality_note = info["quality_note"]
                self.reused_spare = bool(info["reused_spare"])
                self._created_in_worker = True
                queued, self._queued = self._queued, []
            for command, args in queued:
                try:
                    self._send(command, *args)
                except EngineError:
                    pass  # the next poll shows the state

        with self._lock:
            self._lease = lease
            self._start_error = ""
            self._closed_by = ""
            self._created_in_worker = False
            self.view.status = "starting"
            self._starting = threading.Thread(target=work, daemon=True, name=f"start-run-{self.run_id[:6]}")
            self._starting.start()

    @property
    def starting(self) -> bool:
        return self._starting is not None and self._starting.is_alive()

    def wait_started(self, timeout: float = 120.0) -> bool:
        if self._starting is not None:
            self._starting.join(timeout)
        return self.worker is not None and self._created_in_worker and not self.starting

    @property
    def live(self) -> bool:
        """The run has a worker process that is (still) alive."""
        worker = self.worker
        return worker is not None and worker.alive()

    @property
    def holds_lease(self) -> bool:
        lease = self._lease
        return lease is not None and not lease.released

    def _send(self, command: str, *args):
        with self._lock:
            if self.starting and not self._created_in_worker:
                self._queued.append((command, args))
                return None
            worker = self.worker
        if worker is None:
            raise EngineError(self.why_no_worker())
        try:
            return worker.call(command, *args, timeout=30)
        except WorkerGone:
            return None  # the next poll shows the state
        except (WorkerError, TimeoutError) as exc:
            raise EngineError(describe_failure(exc)) from exc

    start_error = property(lambda self: self._start_error)  # why the last start failed ("" if it did not)
    closed_by = property(lambda self: self._closed_by)  # why the worker was ended on purpose ("" if it was not)

    def why_no_worker(self) -> str:
        if self._start_error:
            return f"The training process could not start: {self._start_error}"
        if self._closed_by:
            return f"The training process was ended ({self._closed_by})."
        return "The training process is not running."

    def _revive(self) -> None:
        """A new lease for a run whose worker ended, continuing from its snapshot when there is one."""
        old = self._lease
        if old is not None and not old.released:
            self._previous_end = old.release()  # a worker that stopped answering is ended, never left running
        lease = self.pool.lease("trainer", self.owner)
        resume = self.view.saved_step >= 0 or (self.recovery_dir / "weights").exists()
        if not resume:
            self.view = RunView()
        self.launch(lease, resume=resume)

    # -- commands
    def start(self) -> None:
        """Start, or resume; a run whose worker ended (killed, session ended) continues from its snapshot."""
        if not self.live and not self.starting:
            self._revive()
        self._send("start")

    resume = start

    def pause(self) -> None:
        if self.live or self.starting:
            self._send("pause")

    def step(self, chunks: int = 1) -> None:
        if not self.live and not self.starting:
            self._revive()
        self._send("step", int(chunks))

    def set_learning_rates(self, g_learning_rate: float, d_learning_rate: float) -> None:
        self.config = self.config.replace(g_learning_rate=float(g_learning_rate),
                                          d_learning_rate=float(d_learning_rate))
        if self.live or self.starting:
            self._send("set_learning_rates", float(g_learning_rate), float(d_learning_rate))

    # -- reading
    def wait_for_step(self, step: int, timeout: float = 60.0) -> bool:
        """Block until the run reaches `step` (or stops advancing); for scripts and tests, never for a page."""
        deadline = time.monotonic() + timeout
        if not self.wait_started(timeout):
            return False
        try:
            self.worker.call("wait_for_step", int(step), max(0.0, deadline - time.monotonic()),
                             timeout=max(1.0, deadline - time.monotonic()) + 5)
        except (WorkerGone, WorkerError, TimeoutError, AttributeError):
            pass
        return self.poll().step >= step

    @property
    def status(self) -> str:
        return self.poll().status

    def poll(self) -> RunView:
        """Fold the worker's news into `view` and return it; never raises for a dead or starting worker.
        Thread-safe: two pollers (the page's redraw and its live feed) never fold the same news twice."""
        with self._poll_lock:
            return self._poll()

    def _poll(self) -> RunView:
        view = self.view
        if self.starting:
            view.status, view.busy = "starting", True
            view.message = self._starting_message()
            return view
        if self._start_error:
            view.status, view.busy, view.message = "error", False, self.why_no_worker()
            return view
        worker = self.worker
        if worker is None or not worker.alive():
            return self._mark_ended(view)
        try:
            snapshot: RunSnapshot = worker.call("snapshot", view.known(), timeout=15)
        except WorkerGone:
            return self._mark_ended(view)
        except (WorkerError, TimeoutError) as exc:
            view.message = f"The training process did not answer ({describe_failure(exc)}); retrying."
            return view
        view.apply(snapshot)
        if self.first_point_s is None and view.history.get("step") is not None and len(view.history["step"]):
            self.first_point_s = time.monotonic() - self.created
            # Only now: a spare importing TensorFlow beside a run's first chunk would slow both on few cores;
            # and on a machine this run fills, not even now: the next spare warms when a run ends (LabEngine).
            if self.pool.spare_fits_beside_training():
                self.pool.refill_later()
        return view

    def _starting_message(self) -> str:
        waited = time.monotonic() - self.created
        lease = self._lease
        if lease is not None and lease.current is None:
            where = "on the cluster" if getattr(self.pool.make_worker, "is_cluster", False) else ""
            return f"Starting a training process{(' ' + where) if where else ''}: {waited:.0f} s..."
        if lease is not None and lease.from_spare:
            return (f"Starting the training process: the warm trainer is finishing its preparation (TensorFlow, "
                    f"the recipe's model and its traced step): {waited:.0f} s...")
        return f"Starting the training process: building the model ({waited:.0f} s)..."

    def wait_first_point(self, timeout: float) -> bool:
        """Block up to `timeout` s for the first curve point (a warm Start shows it in the same redraw)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.poll().history.get("step", ())):
                return True
            time.sleep(0.03)
        return False

    def _mark_ended(self, view: RunView) -> RunView:
        before = (view.status, view.message)
        view.busy = False
        if self._closed_by:
            view.status = "stopped"
            view.message = (f"The training process was ended ({self._closed_by}) at step {view.step:,}. Your curves "
                            f"are kept; Resume continues from the last snapshot.")
        else:
            view.worker_gone = True
            view.status = "worker_gone"
            worker = self.worker
            how = worker.exit_description() if worker is not None else "is gone"
            view.message = (f"The training process ended ({how}). Resume restarts it from the last snapshot "
                            f"(saved every {self.options.recovery_every_s:.0f} s while training).")
        if (view.status, view.message) != before:
            view.revision += 1
        return view

    def weights(self) -> dict:
        """{"config", "step", "weights": {network: [arrays]}}: a private copy of the run's model."""
        answer = self._send("weights")
        if answer is None:
            raise EngineError(self.why_no_worker())
        return answer

    def model_copy(self):
        copy = self.weights()
        config = GANConfig.from_dict(copy["config"])
        return self._make_model(f"session:{self.run_id}:{copy['step']}", config, copy["weights"],
                                f"This session's model (step {copy['step']:,})", {"step": copy["step"]})

    def bundle(self) -> bytes:
        """The run as a model bundle (.zip bytes), built in the worker (gan_core.bundle)."""
        worker = self.worker
        if worker is None or not worker.alive():
            raise EngineError(self.why_no_worker())
        try:
            return worker.call("bundle", timeout=120)
        except (WorkerGone, WorkerError, TimeoutError) as exc:
            raise EngineError(describe_failure(exc)) from exc

    def bundle_with_step(self) -> tuple[bytes, int]:
        """The bundle and the step of the weights inside it (a download's file name says that step)."""
        worker = self.worker
        if worker is None or not worker.alive():
            raise EngineError(self.why_no_worker())
        try:
            answer = worker.call("bundle_with_step", timeout=120)
        except (WorkerGone, WorkerError, TimeoutError) as exc:
            raise EngineError(describe_failure(exc)) from exc
        return answer["bundle"], int(answer["step"])

    def timeline_weights(self, step: int) -> dict:
        """{"config", "step", "weights"}: the kept moment of the timeline nearest to `step`."""
        answer = self._send("timeline_weights", int(step))
        if answer is None:
            raise EngineError(self.why_no_worker())
        return answer

    def timeline_model(self, step: int):
        """A model to draw from, as it was at the kept moment nearest to `step`."""
        moment = self.timeline_weights(step)
        config = GANConfig.from_dict(moment["config"])
        kept = int(moment["step"])
        return self._make_model(f"session:{self.run_id}:timeline:{kept}", config, moment["weights"],
                                f"This session's model as it was at step {kept:,}", {"step": kept})

    def describe(self) -> dict:
        return self._describe(self.config)

    def close(self, reason: str = "reset") -> None:
        """Let the worker go (it saves a last snapshot first, on the pool's thread); returns at once."""
        with self._lock:
            lease = self._lease
            self._closed_by = reason
            self._queued = []
            created = self._created_in_worker
        if lease is None or lease.released:
            self._ended()
            return
        last_words = None
        if created and self._discarded:
            def last_words(worker):  # Reset: the worker deletes the snapshot on its own node, saves nothing more
                worker.call("discard_recovery", timeout=5)
        elif created:
            def last_words(worker):  # a last snapshot, so a later Resume loses nothing
                worker.call("save_recovery", timeout=10)
        self._previous_end = lease.release(last_words)
        self._ended()

    def discard(self) -> None:
        """Reset: end the worker and forget the snapshot."""
        self._discarded = True
        self.close("reset")
        ended = self._previous_end

        def remove():
            if ended is not None:
                ended.wait(PREVIOUS_WORKER_WAIT_S)
            shutil.rmtree(self.recovery_dir, ignore_errors=True)

        shutil.rmtree(self.recovery_dir, ignore_errors=True)  # now, and again once the worker is gone
        threading.Thread(target=remove, daemon=True, name="remove-recovery").start()

    def _ended(self) -> None:
        self.ended_at = time.monotonic()
        for callback in list(self._on_ended):
            try:
                callback(self)
            except Exception:  # a listener (a share) must never stop a close
                pass


def compact_dataset(dataset: tuple | None) -> tuple | None:
    """(images, labels) -> (uint8 images, int64 labels or None): a quarter of float32's size, MNIST's own form."""
    if dataset is None:
        return None
    images, labels = dataset
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.round(np.clip(images.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    return images, None if labels is None else np.asarray(labels, np.int64)
