"""A transport with no processes, for the engine's ownership races: workers that are slow to make, to create a
run or to prepare, each step held until the test lets it go (no TensorFlow, no timing luck)."""

from __future__ import annotations

import itertools
import threading

from gan_core.messages import RunSnapshot
from gan_core.transport import WorkerGone

_pids = itertools.count(10_000_000)


class FakeWorkers:
    """The factory (EngineOptions.make_worker). Each gate is an Event the matching step waits on when set."""

    def __init__(self, make_gate: threading.Event | None = None, create_gate: threading.Event | None = None,
                 prepare_gate: threading.Event | None = None, prepare_fails: bool = False,
                 evaluate_gate: threading.Event | None = None):
        self.make_gate, self.create_gate, self.prepare_gate = make_gate, create_gate, prepare_gate
        self.evaluate_gate = evaluate_gate
        self.prepare_fails = prepare_fails
        self.made: list[FakeWorker] = []
        self.making = threading.Event()  # set once a make has begun (the test knows it is inside it)
        self._lock = threading.Lock()

    def __call__(self, role: str, env: dict | None = None) -> "FakeWorker":
        self.making.set()
        if self.make_gate is not None:
            self.make_gate.wait(30)
        worker = FakeWorker(role, self)
        with self._lock:
            self.made.append(worker)
        return worker


class FakeWorker:
    def __init__(self, role: str, factory: FakeWorkers):
        self.role, self.factory, self.pid = role, factory, next(_pids)
        self.closed = threading.Event()
        self.calls: list[str] = []
        self.in_create = threading.Event()
        self.in_prepare = threading.Event()
        self.step = 0

    def alive(self) -> bool:
        return not self.closed.is_set()

    def exit_description(self) -> str:
        return "was closed"

    def close(self, timeout: float = 3.0) -> None:
        self.closed.set()

    def _wait(self, gate: threading.Event | None) -> None:
        # A gated step ends when the test opens the gate, or as the worker is closed (its process ending).
        while gate is not None and not gate.is_set() and not self.closed.is_set():
            gate.wait(0.01)
        if self.closed.is_set():
            raise WorkerGone(f"the {self.role} worker was closed")

    def call(self, method: str, *args, timeout: float = 120.0, **kwargs):
        if self.closed.is_set():
            raise WorkerGone(f"the {self.role} worker was closed")
        self.calls.append(method)
        if method == "create":
            self.in_create.set()
            self._wait(self.factory.create_gate)
            return {"notes": [], "quality_note": "", "reused_spare": False, "pid": self.pid, "step": 0}
        if method == "prepare":
            self.in_prepare.set()
            self._wait(self.factory.prepare_gate)
            if self.factory.prepare_fails:
                raise TimeoutError("the trainer worker did not answer 'prepare' within 60 s")
            return True
        if method == "ready":
            return True
        if method == "evaluate":
            self._wait(self.factory.evaluate_gate)
            return {"scores": "a long evaluation"}
        if method == "describe":
            return {"generator": []}
        if method in ("start", "step"):
            self.step += 10
            return None
        if method == "snapshot":
            return RunSnapshot(status="running", step=self.step, elapsed_s=0.0, steps_per_second=0.0, chunks=0,
                               busy=False)
        return None
