"""The cluster transport: engine workers as Ray actors (GAN_LAB_ENGINE=ray). Imported only when asked for.

Same engine, same pages, same services: a RayWorker offers exactly what gan_core.transport.LocalWorker does
(`call(method, *args, timeout)`, `alive()`, `close()`, `pid`, `exit_description()`), and its actor runs the
very RunService / InferenceService a local worker process runs. Decisions, and why:
- Connecting: `ray.init(address=RAY_ADDRESS or "auto")`, the standard variable: `auto` joins the cluster this
  machine belongs to (`ray start --head` / `--address`), `ray://head:10001` goes through Ray Client. An app
  that already called ray.init (a test) keeps its connection. The connect runs on a thread of its own and is
  given GAN_LAB_RAY_CONNECT_S seconds (default 15): an address where no cluster answers is a ClusterUnreachable
  naming the address and Ray's reason within seconds, never a page script held inside Ray's retries.
- A transient `ActorUnavailableError` (the actor's node is restarting a connection; a subclass of
  RayActorError) is not death: the call fails as a timeout and the next poll asks again. Only other
  RayActorErrors mark the worker gone, and closing a gone actor still `ray.kill`s it, so a Resume never
  starts a second actor while the first, merely unreachable, keeps training.
- One actor per training run, with the CPUs (or GPU) it asks for: GAN_LAB_RAY_TRAINER_CPUS (default 1) and
  GAN_LAB_RAY_TRAINER_GPUS (default 0); the shared inference in one actor (GAN_LAB_RAY_INFERENCE_CPUS,
  default 1). A run the cluster has no room for waits in Ray's queue and shows "starting"; the engine's cap
  (GAN_LAB_MAX_TRAINERS) still applies per replica.
- Named actors in one namespace (`gan-lab`): every worker is `gan-lab-trainer-<id>` / `gan-lab-inference-<id>`.
  Named by worker, not by run: a warm spare exists before the run that takes it over. Actors are owned by
  the replica that made them (not detached), so they end with it, exactly like local worker processes.
- Presenter links across replicas: one small detached registry actor (`gan-lab-registry`) maps a link's
  token to the name of the worker running it (and, once over, to why it ended). Any replica's engine looks
  the token up there, attaches to the named actor, and polls it itself (gan_core.engine.SharedRun).
- Calls are serialised per worker (as over a local socket) and a timeout leaves the actor finishing its
  call, as a local worker would. A dead actor (ray.kill, node lost, out of memory) turns every later call into
  WorkerGone. Each actor runs two threads: one serves calls, the other answers `alive()`'s ping while a long
  call (wait_for_step, create) is under way.
- Code: actors import gan_core, so every node needs this checkout (same path, or on PYTHONPATH); the
  actors get this checkout's root on PYTHONPATH. Recovery snapshots are written by the actor on its node,
  under GAN_LAB_RECOVERY_DIR: on a cluster of several machines that must be a folder every node shares (NFS),
  or a Resume on another node finds no snapshot and the page says so (it never silently restarts at step 0).
This module imports Ray; gan_core.engine imports it only when GAN_LAB_ENGINE=ray.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import ray

from gan_core.transport import DEFAULT_TIMEOUT_S, WorkerError, WorkerGone

NAMESPACE = "gan-lab"
REGISTRY_NAME = "gan-lab-registry"
ENDED_KEPT = 1000  # ended tokens the registry remembers (to tell a late viewer why)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ClusterUnreachable(ConnectionError):
    """The Ray cluster at an address did not answer; the message names the address and Ray's reason."""


_connect_lock = threading.Lock()


def connect(address: str | None = None, timeout: float | None = None) -> None:
    """Join the cluster once per process (RAY_ADDRESS, else `auto`); a process already connected stays so.

    Bounded: ClusterUnreachable after `timeout` s (GAN_LAB_RAY_CONNECT_S, default 15), with Ray's reason."""
    if ray.is_initialized():
        return
    target = address or os.environ.get("RAY_ADDRESS") or "auto"
    timeout = _float_env("GAN_LAB_RAY_CONNECT_S", 15.0) if timeout is None else timeout
    outcome: dict = {}

    def join() -> None:
        try:
            with _connect_lock:
                if not ray.is_initialized():
                    ray.init(address=target, namespace=NAMESPACE, ignore_reinit_error=True, log_to_driver=False)
        except Exception as exc:  # said to the caller below
            outcome["error"] = exc

    joiner = threading.Thread(target=join, daemon=True, name="ray-connect")
    joiner.start()
    joiner.join(timeout)
    if "error" in outcome:
        reason = str(outcome["error"]).strip().splitlines()[0][:300] if str(outcome["error"]).strip() else type(
            outcome["error"]).__name__
        raise ClusterUnreachable(f"cannot join the Ray cluster at {target!r} (RAY_ADDRESS): {reason}")
    if joiner.is_alive() or not ray.is_initialized():
        raise ClusterUnreachable(f"cannot join the Ray cluster at {target!r} (RAY_ADDRESS): no answer within "
                                 f"{timeout:g} s; check the address, that the head is running, and its firewall")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _float_env(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(f"{name} must be a number (got {value!r})") from None


@ray.remote(max_concurrency=2)
class WorkerActor:
    """A RunService or InferenceService living in a Ray worker process."""

    def __init__(self, role: str, env: dict):
        os.environ.update(env)
        from gan_core.quiet import prefer_one_intra_op_thread, silence_tensorflow
        from gan_core.worker import _service, skip_unused_imports

        skip_unused_imports()  # as in a local worker: Keras's optional imports no worker uses (~2 s of each start)
        prefer_one_intra_op_thread()  # as in a local worker, before TensorFlow starts
        silence_tensorflow()
        self.service = _service(role)

    def call(self, method: str, args: tuple, kwargs: dict):
        handler = getattr(self.service, f"rpc_{method}", None)
        try:
            if handler is None:
                raise AttributeError(f"the worker has no request {method!r}")
            return True, handler(*args, **kwargs)
        except Exception as exc:  # the caller gets the type and message; the actor keeps serving
            return False, (type(exc).__name__, str(exc) or type(exc).__name__)

    def ping(self) -> int:
        return os.getpid()

    def shutdown(self) -> None:
        try:
            self.service.close()
        finally:
            ray.actor.exit_actor()


@ray.remote(num_cpus=0)
class ShareRegistry:
    """token -> {"run_id", "worker", "config", ...} while shared; token -> {"ended": why} once over."""

    def __init__(self):
        self.shares: dict[str, dict] = {}
        self.ended: dict[str, str] = {}

    def publish(self, token: str, info: dict) -> None:
        if token not in self.ended:
            self.shares[token] = info

    def withdraw(self, token: str, reason: str) -> None:
        self.shares.pop(token, None)
        self.ended[token] = reason
        while len(self.ended) > ENDED_KEPT:
            self.ended.pop(next(iter(self.ended)))

    def lookup(self, token: str) -> dict | None:
        if token in self.ended:
            return {"ended": self.ended[token]}
        return self.shares.get(token)


def actor_runtime_env() -> dict:
    """Each actor's Ray runtime_env: this checkout on PYTHONPATH (actors import gan_core), TensorFlow's logs quiet."""
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH", "")])),
                         "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}}


class RayWorker:
    """One engine worker as a Ray actor; the same surface as gan_core.transport.LocalWorker."""

    def __init__(self, role: str, env: dict | None = None, *, num_cpus: float = 1.0, num_gpus: float = 0.0,
                 name: str | None = None, actor=None):
        self.role = role
        self.owned = actor is None  # an attached actor (another replica's run) is never ended from here
        self.name = name or f"gan-lab-{role}-{uuid.uuid4().hex[:12]}"
        if actor is None:
            actor = WorkerActor.options(name=self.name, namespace=NAMESPACE, num_cpus=num_cpus, num_gpus=num_gpus,
                                        runtime_env=actor_runtime_env(), max_restarts=0).remote(role, dict(env or {}))
        self.actor = actor
        self._lock = threading.Lock()
        self._closed = False
        self._gone = ""  # why the actor is known to be dead
        self._pid: int | None = None
        self._checked = 0.0
        self.started = time.monotonic()

    @classmethod
    def attach(cls, name: str) -> "RayWorker":
        try:
            actor = ray.get_actor(name, namespace=NAMESPACE)
        except ValueError as exc:
            raise WorkerGone(f"no worker named {name!r} in the cluster") from exc
        return cls("trainer", name=name, actor=actor)

    @property
    def pid(self) -> int | None:
        """The actor's process id on its node (for messages; it may be another machine's)."""
        if self._pid is None and self.alive():
            try:
                self._pid = ray.get(self.actor.ping.remote(), timeout=60)
            except Exception:
                return None
        return self._pid

    def _died(self, exc: Exception) -> WorkerGone:
        self._gone = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return WorkerGone(f"the {self.role} worker {self.exit_description()}")

    def alive(self) -> bool:
        """Not closed and not known dead; checked with a ping at most once a second (a busy actor is alive)."""
        if self._closed or self._gone:
            return False
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            ready, _ = ray.wait([self.actor.ping.remote()], timeout=0.5)
            if ready:
                try:
                    ray.get(ready[0])
                except ray.exceptions.ActorUnavailableError:
                    return True  # unreachable for now, not dead: asked again on the next check
                except ray.exceptions.RayActorError as exc:
                    self._died(exc)
                    return False
        return True

    def exit_description(self) -> str:
        if not self._gone:
            return "stopped answering"
        if "kill" in self._gone.lower():
            return "was killed (its Ray actor ended)"
        return f"ended ({self._gone[:200]})"

    def call(self, method: str, *args, timeout: float = DEFAULT_TIMEOUT_S, **kwargs):
        """Run `method` in the actor and return its value; WorkerGone, WorkerError or TimeoutError otherwise."""
        if not self._lock.acquire(timeout=timeout):
            raise TimeoutError(f"the {self.role} worker is busy with another request")
        try:
            if self._closed or self._gone:
                raise WorkerGone(f"the {self.role} worker {self.exit_description()}")
            reference = self.actor.call.remote(method, args, kwargs)
            try:
                ok, value = ray.get(reference, timeout=timeout)
            except ray.exceptions.GetTimeoutError:
                raise TimeoutError(f"the {self.role} worker did not answer {method!r} within {timeout:.0f} s") from None
            except ray.exceptions.ActorUnavailableError as exc:  # transient: the caller retries, nothing is lost
                raise TimeoutError(f"the {self.role} worker is unreachable for the moment ({_first_line(exc)})") from exc
            except ray.exceptions.RayActorError as exc:
                raise self._died(exc) from exc
        finally:
            self._lock.release()
        if not ok:
            kind, message = value
            raise WorkerError(kind, message)
        return value

    def close(self, timeout: float = 3.0) -> None:
        """End the actor (politely, then ray.kill); an attached one is only let go. Never raises."""
        if self._closed:
            return
        self._closed = True
        if not self.owned:
            return
        if self._gone:  # dead, or so it seemed: make sure, so it never trains beside its replacement
            try:
                ray.kill(self.actor, no_restart=True)
            except Exception:
                pass
            return
        try:
            if self._lock.acquire(timeout=0.2):
                try:
                    ray.wait([self.actor.shutdown.remote()], timeout=timeout)
                finally:
                    self._lock.release()
            ray.kill(self.actor, no_restart=True)
        except Exception:  # closing must never take the caller down
            pass


class RayWorkers:
    """The engine's worker factory for a Ray cluster (EngineOptions.make_worker), plus the share registry."""

    is_cluster = True  # the page says "starting a training process on the cluster" while it waits

    def __init__(self, address: str | None = None, trainer_cpus: float | None = None,
                 trainer_gpus: float | None = None, inference_cpus: float | None = None):
        self.address = address
        self.trainer_cpus = _float_env("GAN_LAB_RAY_TRAINER_CPUS", 1.0) if trainer_cpus is None else trainer_cpus
        self.trainer_gpus = _float_env("GAN_LAB_RAY_TRAINER_GPUS", 0.0) if trainer_gpus is None else trainer_gpus
        self.inference_cpus = (_float_env("GAN_LAB_RAY_INFERENCE_CPUS", 1.0) if inference_cpus is None
                               else inference_cpus)
        self._registry = None
        self._lock = threading.Lock()

    def __call__(self, role: str, env: dict | None = None) -> RayWorker:
        connect(self.address)
        if role == "trainer":
            return RayWorker(role, env, num_cpus=self.trainer_cpus, num_gpus=self.trainer_gpus)
        return RayWorker(role, env, num_cpus=self.inference_cpus)

    def spare_fits_beside(self, trainers: int) -> bool:
        """Does one more trainer actor fit the cluster's CPUs (and GPUs) beside `trainers` training ones and the
        inference actor? Ray's logical resources: a spare that does not fit would wait in Ray's queue, or, where
        the inference actor has not taken its share yet, warm on the cores the training uses."""
        try:
            total = ray.cluster_resources()
        except Exception:  # not connected (yet): a spare made later connects first
            return False
        cpus = (trainers + 1) * self.trainer_cpus + self.inference_cpus
        gpus = (trainers + 1) * self.trainer_gpus
        return cpus <= float(total.get("CPU", 0.0)) and gpus <= float(total.get("GPU", 0.0))

    # -- the registry every replica shares
    def registry(self):
        with self._lock:
            if self._registry is None:
                connect(self.address)
                self._registry = ShareRegistry.options(name=REGISTRY_NAME, namespace=NAMESPACE, lifetime="detached",
                                                       get_if_exists=True).remote()
            return self._registry

    def publish_share(self, token: str, info: dict) -> None:
        ray.get(self.registry().publish.remote(token, info), timeout=30)

    def withdraw_share(self, token: str, reason: str) -> None:
        ray.get(self.registry().withdraw.remote(token, reason), timeout=30)

    def lookup_share(self, token: str) -> dict | None:
        return ray.get(self.registry().lookup.remote(token), timeout=30)

    @staticmethod
    def attach(name: str) -> RayWorker:
        return RayWorker.attach(name)
