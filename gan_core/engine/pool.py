"""The worker pool: the only code that starts or closes an engine worker, and the one that counts the cap.

Decisions, and why:
- Every worker the pool made is in exactly one place at a time: the pool's own spare, one lease, or the
  closing set. Nothing else holds a raw worker it could close or forget, so a close can never miss a worker
  nor end one that someone else now holds.
- `lease(role, owner)` returns at once: with the warm spare's worker when there is one, else empty. Its holder
  gets the worker with `lease.worker()` on a thread of its own (making one can take a while: a cluster's
  queue); while a refill is making the spare, that call waits for it instead of starting a second process. A
  worker that becomes ready for a lease released meanwhile is closed at once, so `close_all()` and a run's close
  reach workers that are still being made.
- `release()` takes the worker out of the lease at once (it counts no more) and closes it on a thread of the
  pool's, after the holder's `before_close` (a last snapshot): no page ever waits for a process to end.
  `lease.ended` is set once it has; a holder that needs the worker's files finished (Resume) waits on that.
- The trainer cap counts leases, server-wide (max_trainers) and per owner (a browser session): a lease whose
  worker died counts no more, so a killed worker frees its slot without its holder doing anything.
- The spare belongs to the pool until leased: a refill that fails closes it only while it is still the spare.
- Making a worker is bounded (`connect_timeout_s`): an unreachable cluster is a message within seconds, and
  the late worker, if it ever comes, is closed.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable

from gan_core.engine.errors import CapacityError, EngineError
from gan_core.transport import WorkerError, WorkerGone

TRAINER_CORES = 2  # the cores one training run keeps busy (TensorFlow's thread pools; measured on 2 cores: 1.8)


class Lease:
    """One worker for one holder (a run, an inference lane), until `release()`."""

    def __init__(self, pool: "WorkerPool", role: str, owner: str, counted: bool, worker=None):
        self.pool = pool
        self.role = role
        self.owner = owner
        self.counted = counted  # a trainer slot (inference lanes do not count against the cap)
        self.from_spare = worker is not None
        self.released = False
        self.ended = threading.Event()  # the worker is closed (or was never made)
        self._worker = worker
        self._making = False

    @property
    def current(self):
        """The worker if it exists yet, else None (never makes one)."""
        return self._worker

    def worker(self):
        """The lease's worker, made now on the caller's thread if need be; WorkerGone once released."""
        return self.pool._worker_for(self)

    def holds_slot(self) -> bool:
        if self.released:
            return False
        worker = self._worker
        return worker is None or worker.alive()

    def release(self, before_close: Callable | None = None) -> threading.Event:
        """Give the worker back (it is ended); returns `ended`. Never blocks, never raises."""
        return self.pool.release(self, before_close)


class WorkerPool:
    def __init__(self, make_worker, env: dict | None = None, *, max_trainers: int | Callable[[], int] = 1,
                 max_per_owner: int | Callable[[], int] | None = None, spare: bool = True,
                 prepare_spare: Callable | None = None, connect_timeout_s: float = 20.0):
        self.make_worker = make_worker
        self.env = dict(env or {})
        # Numbers, or callables read at each lease (an operator, or a test, may change the cap of a live engine).
        self._max_trainers = max_trainers
        self._max_per_owner = max_per_owner
        self.keep_spare = spare
        self.prepare_spare = prepare_spare  # (worker) -> None: starts building the default recipe there
        self.connect_timeout_s = float(connect_timeout_s)
        self._lock = threading.RLock()
        self._leases: list[Lease] = []
        self._spare = None
        self._spare_making = False
        self._spare_made = threading.Condition(self._lock)  # notified when a spare being made arrives (or fails)
        self._closing: set = set()
        self._closed = False
        self.made = 0  # workers made (tests and benchmarks read it)

    @property
    def max_trainers(self) -> int:
        value = self._max_trainers() if callable(self._max_trainers) else self._max_trainers
        return int(value)

    @property
    def max_per_owner(self) -> int | None:
        value = self._max_per_owner() if callable(self._max_per_owner) else self._max_per_owner
        return None if value is None else int(value)

    # ---- making and closing workers (the only place that does) ------------------------------------
    def _make(self, role: str):
        """A new worker, or EngineError within connect_timeout_s; a late one is closed when it comes."""
        result: dict = {}
        gave_up = threading.Event()

        def make():
            try:
                worker = self.make_worker(role, self.env)
            except Exception as exc:  # an unreachable cluster, a bad setting: said to the caller
                result["error"] = exc
                return
            with self._lock:
                late = gave_up.is_set() or self._closed
                if not late:
                    result["worker"] = worker
                    self.made += 1
            if late:
                self._close_now(worker)

        maker = threading.Thread(target=make, daemon=True, name=f"make-{role}-worker")
        maker.start()
        maker.join(self.connect_timeout_s)
        with self._lock:
            if "worker" in result:
                return result["worker"]
            gave_up.set()
        if "error" in result:
            exc = result["error"]
            raise EngineError(f"A {role} worker could not be started: {exc}") from exc
        raise EngineError(f"A {role} worker could not be started within {self.connect_timeout_s:g} s "
                          f"(is the cluster reachable? see the server's console).")

    def _close_now(self, worker, timeout: float = 3.0) -> None:
        try:
            worker.close(timeout=timeout)
        except Exception:  # closing never takes the caller down
            pass

    def _close_later(self, worker, before_close: Callable | None, done: threading.Event) -> None:
        with self._lock:
            self._closing.add(worker)

        def close():
            try:
                if before_close is not None:
                    try:
                        before_close(worker)
                    except Exception:  # a last snapshot that fails must not keep the process alive
                        pass
                self._close_now(worker)
            finally:
                with self._lock:
                    self._closing.discard(worker)
                done.set()

        threading.Thread(target=close, daemon=True, name="close-worker").start()

    # ---- leases -----------------------------------------------------------------------------------
    def lease(self, role: str = "trainer", owner: str = "", counted: bool = True) -> Lease:
        """A lease, with the warm spare's worker when it can; CapacityError when the cap is reached."""
        with self._lock:
            if self._closed:
                raise EngineError("the engine has shut down")
            if counted:
                self._check_capacity(owner)
            spare = None
            if role == "trainer" and self._spare is not None:
                spare, self._spare = self._spare, None
                if not spare.alive():
                    self._closing.add(spare)
                    spare_dead, spare = spare, None
                    threading.Thread(target=self._close_dead, args=(spare_dead,), daemon=True).start()
            lease = Lease(self, role, owner, counted, worker=spare)
            self._leases.append(lease)
            return lease

    def _close_dead(self, worker) -> None:
        self._close_now(worker, timeout=1.0)
        with self._lock:
            self._closing.discard(worker)

    def _check_capacity(self, owner: str) -> None:
        held = [lease for lease in self._leases if lease.counted and lease.holds_slot()]
        if len(held) >= self.max_trainers:
            raise CapacityError(
                f"All {self.max_trainers} training slots of this server are in use (GAN_LAB_MAX_TRAINERS="
                f"{self.max_trainers}). Wait for someone to press Reset or close their tab, then press Start "
                f"again; the Explore page works meanwhile.")
        per_owner = self.max_per_owner
        if owner and per_owner is not None:
            mine = [lease for lease in held if lease.owner == owner]
            if len(mine) >= per_owner:
                raise CapacityError(
                    f"This session already trains {len(mine)} run(s), its share of this server "
                    f"(GAN_LAB_MAX_TRAINERS_PER_SESSION={per_owner}). Press Reset on a run, or wait for "
                    f"it to stop, then press Start again.")

    def _worker_for(self, lease: Lease):
        with self._lock:
            if lease.released:
                raise WorkerGone(f"the {lease.role} worker was released")
            if lease._worker is not None:
                return lease._worker
            if lease._making:
                raise RuntimeError("a lease's worker is being made by another thread")
            spare = self._spare_being_made_for(lease)
            if spare is not None:
                return spare
            if lease.released or self._closed:  # while it waited for the spare
                raise WorkerGone(f"the {lease.role} worker was released")
            lease._making = True
        try:
            worker = self._make(lease.role)
        finally:
            with self._lock:
                lease._making = False
        with self._lock:
            if not lease.released and not self._closed:
                lease._worker = worker
                return worker
        # Released (or the pool closed) while the worker was being made: it ends here, never runs.
        self._close_now(worker, timeout=1.0)
        lease.ended.set()
        raise WorkerGone(f"the {lease.role} worker was released while it started")

    def _spare_being_made_for(self, lease: Lease):
        """The spare a refill is making right now, once it arrives (the lock held): a trainer lease that found
        no spare waits for it rather than starting a second process beside it (on few cores both would
        import TensorFlow at half speed). None when no spare is being made, or it failed or went elsewhere."""
        if lease.role != "trainer" or not self._spare_making:
            return None
        self._spare_made.wait_for(lambda: not self._spare_making or lease.released or self._closed,
                                  timeout=self.connect_timeout_s)
        spare = self._spare
        if lease.released or self._closed or spare is None or not spare.alive():
            return None
        self._spare, lease._worker, lease.from_spare = None, spare, True
        return spare

    def release(self, lease: Lease, before_close: Callable | None = None) -> threading.Event:
        with self._lock:
            if lease.released:
                return lease.ended
            lease.released = True
            self._spare_made.notify_all()  # a lease waiting for the spare being made stops waiting
            if lease in self._leases:
                self._leases.remove(lease)
            worker, lease._worker = lease._worker, None
            making = lease._making
        if worker is not None:
            self._close_later(worker, before_close, lease.ended)
        elif not making:
            lease.ended.set()
        # (a worker being made is closed by _worker_for when it arrives, which then sets `ended`)
        return lease.ended

    # ---- the spare ----------------------------------------------------------------------------------
    def refill_spare(self) -> None:
        """Make and prepare a spare trainer if there is none and a slot is free; never raises."""
        with self._lock:
            if (self._closed or not self.keep_spare or self._spare_making
                    or (self._spare is not None and self._spare.alive())):
                return
            held = [lease for lease in self._leases if lease.counted and lease.holds_slot()]
            if len(held) >= self.max_trainers:
                return
            self._spare_making = True
            old, self._spare = self._spare, None
        if old is not None:
            self._close_now(old, timeout=1.0)
        try:
            worker = self._make("trainer")
        except EngineError:
            with self._lock:
                self._spare_making = False
                self._spare_made.notify_all()
            return
        with self._lock:  # one step: a lease waiting for this spare sees it the moment making ends
            self._spare_making = False
            if self._closed:
                spare_ok = False
            else:
                self._spare, spare_ok = worker, True
            self._spare_made.notify_all()
        if not spare_ok:
            self._close_now(worker, timeout=1.0)
            return
        if self.prepare_spare is None:
            return
        try:
            self.prepare_spare(worker)
        except (WorkerGone, WorkerError, TimeoutError):
            with self._lock:
                still_mine = self._spare is worker
                if still_mine:
                    self._spare = None
            if still_mine:  # a lease may have taken it meanwhile: then it is the lease's, never closed here
                self._close_now(worker, timeout=1.0)

    def refill_later(self) -> None:
        threading.Thread(target=self.refill_spare, daemon=True, name="refill-spare").start()

    def spare_fits_beside_training(self) -> bool:
        """Can the next spare warm now without taking cores from the runs that train?

        Warming is several CPU-seconds (importing TensorFlow, building and tracing a recipe), and one training
        run keeps about TRAINER_CORES cores busy (the CLI alone: 179% CPU on two). So beside training, a spare
        warms only where the cores go round; on a small machine it warms when a run ends. A cluster's factory
        answers for its own resources (`spare_fits_beside(trainers)`): a one-machine Ray head is a small machine
        too (its spare actor warmed beside the run at 117% of a core and took it from the run's actor).
        """
        fits = getattr(self.make_worker, "spare_fits_beside", None)
        if callable(fits):
            return bool(fits(self.trainers()))
        return (os.cpu_count() or 1) >= TRAINER_CORES * (self.trainers() + 1)

    def spare_status(self) -> dict:
        with self._lock:
            spare = self._spare
            making = self._spare_making
        warming = making
        alive = spare is not None and spare.alive()
        if alive:
            try:
                warming = not spare.call("ready", timeout=0.5)
            except TimeoutError:  # still starting (its first request holds the line)
                warming = True
            except (WorkerGone, WorkerError):
                warming = False
        return {"warming": warming, "spare": alive}

    # ---- what the engine reports ----------------------------------------------------------------------
    def trainers(self, owner: str | None = None) -> int:
        with self._lock:
            return sum(1 for lease in self._leases if lease.counted and lease.holds_slot()
                       and (owner is None or lease.owner == owner))

    def pids(self, role: str | None = None) -> list[int]:
        """Process ids of every worker the pool holds (leased, spare, closing); for tests and benchmarks."""
        with self._lock:
            workers = [lease._worker for lease in self._leases if role is None or lease.role == role]
            if role in (None, "trainer"):
                workers.append(self._spare)
            workers.extend(self._closing)
        return [w.pid for w in workers if w is not None and w.alive()]

    def spare_pid(self) -> int | None:
        with self._lock:
            spare = self._spare
        return spare.pid if spare is not None and spare.alive() else None

    @property
    def closed(self) -> bool:
        return self._closed

    def close_all(self, timeout: float = 1.0) -> None:
        """Every worker ends: leased, spare, closing, and (when it arrives) any still being made."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._spare_made.notify_all()
            leases, self._leases = list(self._leases), []
            spare, self._spare = self._spare, None
            closing = list(self._closing)
        workers = []
        for lease in leases:
            with self._lock:
                lease.released = True
                worker, lease._worker = lease._worker, None
            if worker is not None:
                workers.append((worker, lease.ended))
            elif not lease._making:
                lease.ended.set()
        if spare is not None:
            workers.append((spare, None))
        for worker in closing:
            workers.append((worker, None))
        deadline = time.monotonic() + 10.0
        for worker, ended in workers:
            self._close_now(worker, timeout=max(0.1, min(timeout, deadline - time.monotonic())))
            if ended is not None:
                ended.set()
