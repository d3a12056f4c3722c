"""The transport between the page process and one engine worker: a child process and pickled messages.

Decisions, and why:
- A worker is a fresh interpreter (`python -m gan_core.worker`), started with exec, never forked from a
  process that may hold TensorFlow: the `spawn` start method's guarantee, without multiprocessing's habit of
  re-importing the parent's `__main__` (Streamlit's CLI, pytest) in every child.
- One socket pair per worker carries (request id, method, args) one way and (request id, ok, value) back,
  pickled by multiprocessing.connection. Only this package's own processes are at either end.
- Calls are serialised per worker by a lock and matched by id, so an answer that arrives after its caller
  gave up (a timeout) is dropped instead of being read as the next call's answer.
- A worker never outlives the app: it exits when the socket closes or its parent process ends (a watchdog
  in gan_core.worker), and the engine closes every worker at exit. A worker that dies (kill -9,
  out of memory) turns every later call into WorkerGone, which the engine shows as a state, never a hang.
This module is the only one that knows workers are local processes; a cluster transport (Ray actors) offers
the same `call` / `alive` / `close` and nothing else changes.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

DEFAULT_TIMEOUT_S = 120.0


class WorkerGone(RuntimeError):
    """The worker process has ended; its models and state are gone with it."""


class WorkerError(RuntimeError):
    """The worker ran the request and it failed; `kind` is the exception's type name there."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class LocalWorker:
    """One worker process on this machine."""

    def __init__(self, role: str, env: dict[str, str] | None = None):
        parent_end, child_end = socket.socketpair()
        child_env = {**os.environ, **(env or {})}
        # The worker imports gan_core from this checkout whatever the current directory is.
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, child_env.get("PYTHONPATH", "")]))
        self.role = role
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gan_core.worker", "--fd", str(child_end.fileno()), "--role", role,
             "--parent", str(os.getpid())],
            pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL, env=child_env, close_fds=True)
        child_end.close()
        self._connection = Connection(parent_end.detach())
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return not self._closed and self.process.poll() is None

    def exit_description(self) -> str:
        try:  # the socket closes a moment before the kernel reports the exit: give it that moment
            code = self.process.wait(1.0)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code < 0:
            try:
                import signal

                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with code {code}"

    def call(self, method: str, *args, timeout: float = DEFAULT_TIMEOUT_S, **kwargs):
        """Run `method` in the worker and return its value; WorkerGone, WorkerError or TimeoutError otherwise."""
        # Waiting for the lock counts against the timeout too: a caller never hangs behind a long call.
        if not self._lock.acquire(timeout=timeout):
            raise TimeoutError(f"the {self.role} worker is busy with another request")
        try:
            if not self.alive():
                raise WorkerGone(f"the {self.role} worker {self.exit_description()}")
            request = next(self._ids)
            try:
                self._connection.send((request, method, args, kwargs))
            except (OSError, EOFError) as exc:
                raise WorkerGone(f"the {self.role} worker {self.exit_description()} ({exc})") from exc
            deadline = time.monotonic() + timeout
            while True:
                try:
                    ready = self._connection.poll(0.05)
                except (OSError, EOFError):
                    ready = False
                if ready:
                    try:
                        answer_id, ok, value = self._connection.recv()
                    except (OSError, EOFError) as exc:
                        raise WorkerGone(f"the {self.role} worker {self.exit_description()}") from exc
                    if answer_id == request:
                        break
                    continue  # a late answer to a call that timed out
                if self.process.poll() is not None:
                    raise WorkerGone(f"the {self.role} worker {self.exit_description()}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {self.role} worker did not answer {method!r} within {timeout:.0f} s")
        finally:
            self._lock.release()
        if not ok:
            kind, message = value
            raise WorkerError(kind, message)
        return value

    def close(self, timeout: float = 3.0) -> None:
        """End the worker: ask politely, then terminate, then kill. Never raises."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.process.poll() is None:
                # A polite exit only when no call is mid-message on the socket; otherwise terminate below.
                if self._lock.acquire(timeout=0.2):
                    try:
                        self._connection.send((0, "__exit__", (), {}))
                    except (OSError, EOFError):
                        pass
                    finally:
                        self._lock.release()
                else:
                    self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.terminate()
                    try:
                        self.process.wait(timeout)
                    except subprocess.TimeoutExpired:
                        self.process.kill()
                        self.process.wait(timeout)
        except Exception:  # closing must never take the caller down
            pass
        finally:
            try:
                self._connection.close()
            except OSError:
                pass
