"""The lab engine: the page's one door to training and inference, with TensorFlow kept out of the page.

Process lifecycle (the decisions the pages rely on):
- Each training run owns one worker process (gan_core.run_service) from Start until Reset or the end of the
  browser session; ending the run ends the process, so its memory goes back to the operating system.
- A warm spare: at start-up one worker imports TensorFlow and builds and traces the default recipe in the
  background. The first Start with that recipe (or with other learning rates) takes it over and trains at
  once; then a new spare warms while a trainer slot is free. Any other recipe is built in the spare's process
  (TensorFlow already loaded) or, with no spare, in a new one: `create_run` never blocks the page; the run
  reports "starting" until its worker is ready.
- At most `max_trainers` runs hold a worker at once (GAN_LAB_MAX_TRAINERS, default: one per CPU core). A run
  over the cap raises CapacityError with a message for the user; nothing is queued behind their back.
- Every run saves a recovery snapshot (weights and curves) every ~20 s of training and on pause. A worker
  that dies (kill -9, out of memory) shows as status "worker_gone" on the next poll; Resume starts a new
  worker from the snapshot. A session that disconnects has its worker ended the same way ("stopped"), so a
  browser that reconnects to the same session can Resume from where it stopped.
- One shared inference worker (gan_core.inference_service) serves what NumPy cannot: convolutional models,
  quality evaluations and network descriptions. Dense models run in the page process as NumPy forward
  passes (gan_core.numpy_models), which needs no worker at all. A dead inference worker is replaced on the
  next request, and models it held are loaded again.
- A run may bring its own data (an upload's arrays) and starting weights (a bundle): both travel with the
  create request and stay in the RunClient (images as uint8), so a revived worker gets them again. Such a
  run never takes over the spare's prepared run (built for other data, fresh weights), only its process.
- Workers never outlive the app (see gan_core.transport); `shutdown` ends them all and runs at exit.
- Where workers run is the factory's business (EngineOptions.make_worker, chosen by GAN_LAB_ENGINE): local
  processes by default (gan_core.transport), Ray actors with `ray` (gan_core.transport_ray); nothing else
  here changes, and the local default never imports Ray.
- Presenter mode: `share(run)` gives a run a long random token; every viewer of it reads one SharedRun,
  polled by one thread (see SharedRun), so viewers cost the training nothing that grows with their number.
  `revoke(token)`, Reset and the presenter's session end all end it, with the message viewers see.
This module imports neither TensorFlow nor Keras, nor streamlit.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gan_core import checkpoints, latent, numpy_models
from gan_core.config import LOGISTIC_LOSSES, GANConfig
from gan_core.messages import RunSnapshot, RunView
from gan_core.transport import LocalWorker, WorkerError, WorkerGone

ROOT = Path(__file__).resolve().parents[1]


class CapacityError(RuntimeError):
    """Every trainer slot is taken; the message says how many and what to do."""


class EngineError(RuntimeError):
    """A request to a worker failed; the message is meant for the user."""


def default_max_trainers() -> int:
    value = os.environ.get("GAN_LAB_MAX_TRAINERS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValueError(f"GAN_LAB_MAX_TRAINERS must be a whole number of trainers (got {value!r})") from None
    return max(1, os.cpu_count() or 1)


def default_make_worker():
    """The worker factory GAN_LAB_ENGINE names: `local` (default: worker processes) or `ray` (cluster actors).

    A factory is called as (role, env) and returns a worker with call / alive / close / pid / exit_description.
    One may also offer publish_share / withdraw_share / lookup_share / attach: a registry every replica of the
    app sees, which is how a presenter's link works from any replica (gan_core.transport_ray).
    """
    kind = os.environ.get("GAN_LAB_ENGINE", "local").strip().lower() or "local"
    if kind == "local":
        return LocalWorker
    if kind == "ray":
        from gan_core.transport_ray import RayWorkers  # only here: the local default never imports Ray

        return RayWorkers()
    raise ValueError(f"GAN_LAB_ENGINE must be 'local' or 'ray' (got {kind!r})")


@dataclass
class EngineOptions:
    max_trainers: int = field(default_factory=default_max_trainers)
    warm_spare: bool = True
    spare_config: GANConfig = field(default_factory=GANConfig)
    chunk_steps: int = 100
    quality_every: int = 2000
    quality_n: int = 1000
    view_count: int = 256
    judge_dir: str | None = str(ROOT / "pretrained" / "classifier")
    reference_dataset: str = "mnist-sample"
    recovery_every_s: float = 20.0
    direction_samples: int = 4000  # generated digits behind the principal directions (GANSpace)
    direction_count: int = 6
    worker_env: dict = field(default_factory=dict)
    make_worker: object = field(default_factory=lambda: default_make_worker())  # (role, env) -> a worker

    def run_options(self, quality_every: int | None = None) -> dict:
        return {"chunk_steps": self.chunk_steps,
                "quality_every": self.quality_every if quality_every is None else int(quality_every),
                "quality_n": self.quality_n, "view_count": self.view_count, "judge_dir": self.judge_dir,
                "reference_dataset": self.reference_dataset, "recovery_every_s": self.recovery_every_s}


# ---- models the pages draw from ------------------------------------------------------------------
class ModelHandle:
    """A model a page may draw from: NumPy here for dense networks, the inference worker otherwise.

    Methods mirror gan_core.models (generate, generate_soft, probability, encode, reconstruct) and take and
    return NumPy arrays. `key` changes whenever the weights do, so it can key a page's caches.
    """

    def __init__(self, engine: "LabEngine", key: str, config: GANConfig, label: str, state: dict | None = None,
                 numpy_model: numpy_models.NumpyModel | None = None, source: dict | None = None):
        self.engine = engine
        self.key = key
        self.config = config
        self.label = label
        self.state = state or {}
        self.numpy_model = numpy_model
        self._source = source  # how the inference worker can (re)load it: {"folder": ...} or {"weights": ...}
        self._directions: latent.PrincipalDirections | None = None
        self._directions_done = False

    latent_dim = property(lambda self: self.config.latent_dim)
    conditional = property(lambda self: self.config.model == "cgan")
    in_page = property(lambda self: self.numpy_model is not None)
    scores_are_probabilities = property(lambda self: self.config.loss in LOGISTIC_LOSSES)

    def _remote(self, method: str, *args):
        return self.engine._inference_call(self, method, *args)

    def generate(self, z: np.ndarray, labels=None) -> np.ndarray:
        if self.numpy_model is not None:
            return self.numpy_model.generate(z, labels)
        return self._remote("generate", np.asarray(z, np.float32), labels)

    def generate_soft(self, z: np.ndarray, label_vectors: np.ndarray) -> np.ndarray:
        if self.numpy_model is not None:
            return self.numpy_model.generate_soft(z, label_vectors)
        return self._remote("generate_soft", np.asarray(z, np.float32), np.asarray(label_vectors, np.float32))

    def probability(self, images: np.ndarray, labels=None) -> np.ndarray:
        if self.numpy_model is not None:
            return self.numpy_model.probability(images, labels)
        return self._remote("probability", np.asarray(images, np.float32), labels)

    def encode(self, images: np.ndarray) -> np.ndarray:
        if self.numpy_model is not None:
            return self.numpy_model.encode(images)
        return self._remote("encode", np.asarray(images, np.float32))

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        return self.generate(self.encode(images))

    def directions(self) -> latent.PrincipalDirections | None:
        """GANSpace directions (computed once per handle); None for a 2-D latent, where they add nothing."""
        if not self._directions_done:
            if self.config.latent_dim > 2:
                options = self.engine.options
                components = min(options.direction_count, self.config.latent_dim)
                if self.numpy_model is not None:
                    self._directions = latent.principal_directions(
                        self.generate, self.config.latent_dim, count=options.direction_samples, components=components)
                else:
                    self._directions = self._remote("directions", options.direction_samples, components)
            self._directions_done = True
        return self._directions

    def project(self, images: np.ndarray, state: dict | None = None, steps: int | None = None) -> dict:
        """One chunk of finding the z of digits (gan_core.projection.project_chunk), in the inference worker."""
        judge_dir = self.engine.options.judge_dir
        if judge_dir is None:
            raise EngineError("no digit classifier is configured, and projections need its features")
        images = np.asarray(images, np.float32)
        if self.numpy_model is not None:  # dense weights travel along; the worker builds the Keras model once
            weights = {stem: net.arrays for stem, net in self.numpy_model.networks.items()}
            return self.engine._inference_call(None, "project", self.key, judge_dir, images, state, steps, weights,
                                               self.config.to_dict())
        return self._remote("project", judge_dir, images, state, steps)

    def sampler_arrays(self) -> list[np.ndarray]:
        """[W1, b1, W2, b2] of the generator pictures come from (dense models only: instant mode)."""
        if self.numpy_model is None:
            raise ValueError(f"{self.label} is not a dense model; only dense generators run in the browser")
        return self.numpy_model.sampler_arrays()


# ---- a training run ------------------------------------------------------------------------------
class RunClient:
    """One session's training run, driven through its worker. Every method returns quickly."""

    def __init__(self, engine: "LabEngine", config: GANConfig, quality_every: int | None,
                 dataset: tuple | None = None, initial: dict | None = None):
        self.engine = engine
        self.dataset = _compact_dataset(dataset)  # (uint8 images, labels or None) sent to every worker of this run
        self.initial = initial  # {"weights", "step", "history"} the run starts from (a bundle), or None
        self.run_id = uuid.uuid4().hex
        self.config = config
        self.quality_every = engine.options.quality_every if quality_every is None else int(quality_every)
        self.quality_n = engine.options.quality_n
        self.view = RunView()
        self.notes: list[str] = []
        self.quality_note = ""
        self.reused_spare = False
        self.recovery_dir = Path(tempfile.mkdtemp(prefix="run-", dir=engine.recovery_root))
        self.created = time.monotonic()
        self.first_point_s: float | None = None  # seconds from create to the first history point
        self.worker = None
        self._lock = threading.Lock()
        self._starting: threading.Thread | None = None
        self._queued: list[tuple[str, tuple]] = []  # commands given while the worker starts
        self._start_error = ""
        self._closed_by = ""  # why this run's worker was ended on purpose ("reset", "session ended")
        self._pending = False  # holds a trainer slot between the engine's claim and the launch

    # -- lifecycle
    def _launch(self, worker, resume: bool) -> None:
        """Create the run in `worker` on a thread of its own, then replay the commands given meanwhile."""
        def work():
            try:
                info = worker.call("create", self.config.to_dict(), {
                    **self.engine.options.run_options(self.quality_every),
                    "recovery_dir": str(self.recovery_dir)}, resume, timeout=600,
                    dataset=self.dataset, initial=None if resume else self.initial)
            except (WorkerGone, WorkerError, TimeoutError) as exc:
                with self._lock:
                    self._start_error = _describe_failure(exc)
                worker.close()
                self.engine._run_ended(self)
                return
            with self._lock:
                self.notes = list(info["notes"])
                self.quality_note = info["quality_note"]
                self.reused_spare = bool(info["reused_spare"])
                self.worker = worker
                queued, self._queued = self._queued, []
            for command, args in queued:
                self._send(command, *args)

        with self._lock:
            self._start_error = ""
            self._closed_by = ""
            self.view.status = "starting"
            self._starting = threading.Thread(target=work, daemon=True, name=f"start-run-{self.run_id[:6]}")
            self._starting.start()
            self._pending = False  # `starting` holds the slot from here

    @property
    def starting(self) -> bool:
        return self._starting is not None and self._starting.is_alive()

    def wait_started(self, timeout: float = 120.0) -> bool:
        if self._starting is not None:
            self._starting.join(timeout)
        return self.worker is not None and not self.starting

    @property
    def live(self) -> bool:
        """The run has a worker process that is (still) alive."""
        return self.worker is not None and self.worker.alive()

    def _send(self, command: str, *args):
        with self._lock:
            if self.worker is None and self.starting:
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
            raise EngineError(_describe_failure(exc)) from exc

    def why_no_worker(self) -> str:
        if self._start_error:
            return f"The training process could not start: {self._start_error}"
        if self._closed_by:
            return f"The training process was ended ({self._closed_by})."
        return "The training process is not running."

    # -- commands
    def start(self) -> None:
        """Start, or resume; a run whose worker ended (killed, session ended) continues from its snapshot."""
        if not self.live and not self.starting:
            self.engine._revive(self)
        self._send("start")

    resume = start

    def pause(self) -> None:
        if self.live or self.starting:
            self._send("pause")

    def step(self, chunks: int = 1) -> None:
        if not self.live and not self.starting:
            self.engine._revive(self)
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
        except (WorkerGone, WorkerError, TimeoutError):
            pass
        return self.poll().step >= step

    @property
    def status(self) -> str:
        return self.poll().status

    def poll(self) -> RunView:
        """Fold the worker's news into `view` and return it; never raises for a dead or starting worker."""
        view = self.view
        if self.starting:
            view.status, view.busy = "starting", True
            view.message = "Starting the training process..."
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
            view.message = f"The training process did not answer ({_describe_failure(exc)}); retrying."
            return view
        view.apply(snapshot)
        if self.first_point_s is None and view.history.get("step") is not None and len(view.history["step"]):
            self.first_point_s = time.monotonic() - self.created
            # Only now: a spare importing TensorFlow beside a run's first chunk would slow both on few cores.
            self.engine.refill_spare_later()
        return view

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
            how = self.worker.exit_description() if self.worker is not None else "is gone"
            view.message = (f"The training process ended ({how}). Resume restarts it from the last snapshot "
                            f"(saved every {self.engine.options.recovery_every_s:.0f} s while training).")
        if (view.status, view.message) != before:
            view.revision += 1
        return view

    def weights(self) -> dict:
        """{"config", "step", "weights": {network: [arrays]}}: a private copy of the run's model."""
        answer = self._send("weights")
        if answer is None:
            raise EngineError(self.why_no_worker())
        return answer

    def model_copy(self) -> ModelHandle:
        copy = self.weights()
        config = GANConfig.from_dict(copy["config"])
        return self.engine.model_from_weights(f"session:{self.run_id}:{copy['step']}", config, copy["weights"],
                                              f"This session's model (step {copy['step']:,})",
                                              {"step": copy["step"]})

    def bundle(self) -> bytes:
        """The run as a model bundle (.zip bytes), built in the worker (gan_core.bundle)."""
        with self._lock:
            worker = self.worker
        if worker is None or not worker.alive():
            raise EngineError(self.why_no_worker())
        try:
            return worker.call("bundle", timeout=120)
        except (WorkerGone, WorkerError, TimeoutError) as exc:
            raise EngineError(_describe_failure(exc)) from exc

    def timeline_weights(self, step: int) -> dict:
        """{"config", "step", "weights"}: the kept moment of the timeline nearest to `step`."""
        answer = self._send("timeline_weights", int(step))
        if answer is None:
            raise EngineError(self.why_no_worker())
        return answer

    def timeline_model(self, step: int) -> ModelHandle:
        """A model to draw from, as it was at the kept moment nearest to `step`."""
        moment = self.timeline_weights(step)
        config = GANConfig.from_dict(moment["config"])
        kept = int(moment["step"])
        return self.engine.model_from_weights(f"session:{self.run_id}:timeline:{kept}", config, moment["weights"],
                                              f"This session's model as it was at step {kept:,}", {"step": kept})

    def describe(self) -> dict:
        return self.engine.describe(self.config)

    def close(self, reason: str = "reset") -> None:
        """End the worker (after a last snapshot, so a later Resume loses nothing); never raises."""
        if self._starting is not None:
            self._starting.join(60)
        worker = self.worker
        if worker is not None and worker.alive():
            try:
                worker.call("save_recovery", timeout=10)
            except (WorkerGone, WorkerError, TimeoutError):
                pass
        self._closed_by = reason
        if worker is not None:
            worker.close()
        self.engine._run_ended(self)

    def discard(self) -> None:
        """Reset: end the worker and forget the snapshot."""
        self.close("reset")
        shutil.rmtree(self.recovery_dir, ignore_errors=True)



# ---- presenter mode: one run, many viewers -------------------------------------------------------
SHARE_POLL_S = 1.0  # how often the one poller of a shared run asks its worker for news
SHARE_IDLE_S = 15.0  # with no viewer reading for this long, the poller stops asking (it wakes on the next read)
SHARE_WEIGHTS_MAX_AGE_S = 5.0  # viewers asking for the model within this long share one copy of the weights
ENDED_SHARES_KEPT = 256  # ended links remembered (to tell a late viewer why), oldest forgotten first


class SharedRun:
    """A presenter's run as every viewer sees it: ONE poller, ONE view, read by all (decisions below).

    - The engine, not a page, owns it: `LabEngine.share(run)` makes it under a long random token
      (secrets.token_urlsafe(24)), and `watch(token)` hands the same object to every viewer session.
    - One daemon thread polls the run's worker about once a second while anyone reads (`view()`), with its
      own RunView: it never touches the presenter's view (two pollers folding deltas into one RunView would
      double points). Each poll is published as a frozen copy (arrays are replaced, never mutated, so a
      shallow copy is enough); N viewers cost the worker one `snapshot` request a second, whatever N is.
    - It ends, with the message viewers see, when the presenter revokes the link, presses Reset, or their
      session ends (LabEngine._run_ended); an ended share publishes an empty view, so a revoked link shows
      nothing more of the run. A worker that died (kill -9) is not an end: viewers see "worker_gone" and
      the run again once the presenter presses Resume.
    - Across replicas (the Ray backend): the presenter's replica publishes token -> worker name in the
      backend's registry; another replica's `watch(token)` attaches to the named actor and runs the same
      poller there ("remote"), so a link works from any replica.
    """

    def __init__(self, engine: "LabEngine", token: str, run: RunClient | None = None, remote: dict | None = None):
        self.engine = engine
        self.token = token
        self._run = run  # the presenter's run, in this process
        self._remote = remote  # or what the registry says about a run in another replica
        self.run_id = run.run_id if run is not None else remote["run_id"]
        self.config = run.config if run is not None else GANConfig.from_dict(remote["config"])
        self.quality_every = run.quality_every if run is not None else int(remote["quality_every"])
        self.quality_n = run.quality_n if run is not None else int(remote["quality_n"])
        self.quality_note = run.quality_note if run is not None else remote.get("quality_note", "")
        self.ended = ""  # why the live view is over; empty while it is live
        self.requests = 0  # worker requests made by the poller (tests and benchmarks read it)
        self._view = RunView()
        self._published = _frozen(self._view)
        self._lock = threading.Lock()
        self._last_read = time.monotonic()
        self._wake = threading.Event()  # a read that finds the poller idle wakes it
        self._stop = threading.Event()
        self._worker = None  # the worker last published to the registry (presenter) or attached (remote)
        self._weights: tuple[float, int, ModelHandle] | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"share-{self.run_id[:6]}")
        self._thread.start()

    @classmethod
    def gone(cls, engine: "LabEngine", token: str, message: str) -> "SharedRun":
        """A share that ended in another replica: it says why, and polls nothing."""
        shared = cls.__new__(cls)
        shared.engine, shared.token, shared._run, shared._remote, shared._worker = engine, token, None, None, None
        shared.run_id, shared.config, shared.requests, shared._weights = "", GANConfig(), 0, None
        shared.quality_every, shared.quality_n, shared.quality_note = 0, 0, ""
        shared.ended, shared._lock, shared._wake, shared._stop = "", threading.Lock(), threading.Event(), threading.Event()
        shared._last_read, shared._view = time.monotonic(), RunView()
        shared.end(message, withdraw=False)
        return shared

    # -- what viewers call
    def view(self) -> RunView:
        """The latest published view (the same object for every viewer until the next poll); never blocks."""
        now = time.monotonic()
        idle, self._last_read = now - self._last_read >= SHARE_IDLE_S, now
        if idle:
            self._wake.set()
        return self._published

    def model_copy(self) -> ModelHandle:
        """The run's latest generator as a private, read-only handle; viewers within a few seconds share one."""
        with self._lock:
            if self.ended:
                raise EngineError(self.ended)
            cached = self._weights
            if cached is not None and (time.monotonic() - cached[0] < SHARE_WEIGHTS_MAX_AGE_S
                                       or cached[1] == self._published.step):
                return cached[2]
            worker = self._current_worker()
            if worker is None:
                raise EngineError("the presenter's training process is not running right now")
            try:
                copy = worker.call("weights", timeout=30)
            except (WorkerGone, WorkerError, TimeoutError) as exc:
                raise EngineError(_describe_failure(exc)) from exc
            config = GANConfig.from_dict(copy["config"])
            handle = self.engine.model_from_weights(
                f"session:shared-{self.run_id}:{copy['step']}", config, copy["weights"],
                f"The presenter's model (step {copy['step']:,})", {"step": copy["step"]})
            self._weights = (time.monotonic(), int(copy["step"]), handle)
            return handle

    # -- the one poller
    def _current_worker(self):
        if self._run is not None:
            return self._run.worker
        return self._worker

    def _loop(self) -> None:
        while not self.ended and not self.engine._closed:
            try:
                run = self._run  # None once ended (end() lets go of the presenter's run)
                if run is not None:
                    self._publish_worker(run)  # even with no local viewer: other replicas' viewers need it
                if time.monotonic() - self._last_read < SHARE_IDLE_S:
                    self.refresh()
            except Exception as exc:  # the poller must outlive any one bad answer (or a cluster hiccup)
                self._view.message = f"The live view could not refresh ({exc}); retrying."
            self._stop.wait(SHARE_POLL_S)
            if time.monotonic() - self._last_read >= SHARE_IDLE_S:
                self._wake.clear()
                self._wake.wait(5.0)  # idle: nobody watches; a read wakes it at once

    def _publish_worker(self, run: RunClient) -> None:
        worker = run.worker
        if worker is not self._worker and worker is not None:
            self._worker = worker
            publish = getattr(self.engine.options.make_worker, "publish_share", None)
            if publish is not None and getattr(worker, "name", None):
                publish(self.token, {"run_id": self.run_id, "worker": worker.name, "config": self.config.to_dict(),
                                     "quality_every": self.quality_every, "quality_n": self.quality_n,
                                     "quality_note": run.quality_note})

    def refresh(self) -> RunView:
        """One poll of the worker, folded into the shared view and published (the poller calls it)."""
        view = self._view
        run = self._run
        if self.ended:
            return self._published
        if run is not None and run.starting:
            view.status, view.busy, view.message = "starting", True, "The presenter's run is starting..."
        elif run is not None and run._start_error:
            view.status, view.busy, view.message = "error", False, run.why_no_worker()
        else:
            worker = self._current_worker() if run is not None else self._attached()
            if worker is None:
                view.status, view.busy = "worker_gone", False
                view.message = "The presenter's training process is not running; it may be resumed."
            else:
                try:
                    self.requests += 1
                    snapshot: RunSnapshot = worker.call("snapshot", view.known(), timeout=15)
                    view.apply(snapshot)
                except WorkerGone:
                    if run is None:
                        self._worker = None  # look the run up again next time: ended, or resumed elsewhere
                    view.status, view.busy, view.worker_gone = "worker_gone", False, True
                    view.message = ("The presenter's training process ended; the view continues if the presenter "
                                    "presses Resume.")
                except (WorkerError, TimeoutError) as exc:
                    view.message = f"The training process did not answer ({_describe_failure(exc)}); retrying."
        with self._lock:
            if not self.ended:
                self._published = _frozen(view)
        return self._published

    def _attached(self):
        """The named worker of another replica's run, looked up (again) in the registry when needed."""
        if self._worker is not None:
            return self._worker
        backend = self.engine.options.make_worker
        found = backend.lookup_share(self.token)
        if found is None or found.get("ended"):
            self.end((found or {}).get("ended") or "The presenter stopped sharing this run.", withdraw=False)
            return None
        try:
            self._worker = backend.attach(found["worker"])
        except WorkerGone:
            return None
        return self._worker

    def end(self, message: str, withdraw: bool = True) -> None:
        with self._lock:
            if self.ended:
                return
            self.ended = message
            gone = RunView()
            gone.status, gone.message = "ended", message
            self._published = gone
            self._weights = None
            # Let go of the run and the poller's copy: an ended link is kept (to say why) at the cost of a message.
            self._run, self._view = None, RunView()
        self._stop.set()
        self._wake.set()
        withdraw_share = getattr(self.engine.options.make_worker, "withdraw_share", None)
        if withdraw and self._remote is None and withdraw_share is not None:
            try:
                withdraw_share(self.token, message)
            except Exception:  # the cluster may be gone at shutdown; ending must never raise
                pass


def _frozen(view: RunView) -> RunView:
    """A copy of `view` that later polls never change: polls replace arrays, and may grow lists and dicts in
    place (the timeline), so those are copied one level deep; arrays are shared, never copied."""
    copy = RunView.__new__(RunView)
    copy.__dict__.update({name: type(value)(value) if isinstance(value, (list, dict)) else value
                          for name, value in view.__dict__.items()})
    return copy


def _compact_dataset(dataset: tuple | None) -> tuple | None:
    """(images, labels) -> (uint8 images, int64 labels or None): a quarter of float32's size, MNIST's own form."""
    if dataset is None:
        return None
    images, labels = dataset
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.round(np.clip(images.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    return images, None if labels is None else np.asarray(labels, np.int64)


def _describe_failure(exc: Exception) -> str:
    if isinstance(exc, WorkerError):
        return f"{exc.kind}: {exc}" if exc.kind not in ("DatasetError", "ValueError", "CheckpointError") else str(exc)
    return str(exc)


# ---- the engine ----------------------------------------------------------------------------------
class LabEngine:
    """One per app process (the page caches it); thread-safe."""

    def __init__(self, options: EngineOptions | None = None, start: bool = True):
        self.options = options or EngineOptions()
        self.recovery_root = tempfile.mkdtemp(prefix="gan-lab-")
        self._lock = threading.RLock()
        self._runs: dict[str, RunClient] = {}  # runs that hold (or are getting) a worker
        self._spare = None
        self._spare_started = 0.0
        self._inference = None
        self._inference_lock = threading.Lock()
        self._closed = False
        self._shares: dict[str, SharedRun] = {}  # presenter mode: token -> the one shared view of a run
        atexit.register(self.shutdown)
        if start and self.options.warm_spare:
            # In the background: the page that made the engine draws while the spare's process starts.
            threading.Thread(target=self._warm_up, daemon=True, name="engine-warm-up").start()

    # -- workers
    def _new_worker(self, role: str):
        return self.options.make_worker(role, self.options.worker_env)

    def _refill_spare(self) -> None:
        with self._lock:
            if (self._closed or not self.options.warm_spare or (self._spare is not None and self._spare.alive())
                    or len(self._runs) >= self.options.max_trainers):
                return
            self._spare = self._new_worker("trainer")
            self._spare_started = time.monotonic()
            spare = self._spare
        try:
            spare.call("prepare", self.options.spare_config.to_dict(), self.options.run_options(), timeout=60)
        except (WorkerGone, WorkerError, TimeoutError):
            spare.close()

    def _warm_up(self, timeout: float = 180.0) -> None:
        """The spare first (Start is what a visitor does first), then the shared inference worker."""
        self._refill_spare()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.status()["warming"]:
            time.sleep(0.5)
        try:
            self._inference_call(None, "warm", timeout=timeout)
        except EngineError:
            pass  # it is started again on the first request that needs it

    def status(self) -> dict:
        """For the page: is a warm trainer ready, how many slots are taken."""
        with self._lock:
            spare = self._spare
            runs = len(self._runs)
        warming = False
        if spare is not None and spare.alive():
            try:
                warming = not spare.call("ready", timeout=0.5)
            except TimeoutError:  # still starting (its first request holds the line)
                warming = True
            except (WorkerGone, WorkerError):
                warming = False
        return {"warming": warming, "spare": spare is not None and spare.alive(), "trainers": runs,
                "max_trainers": self.options.max_trainers}

    # -- training
    def create_run(self, config: GANConfig, quality_every: int | None = None, dataset: tuple | None = None,
                   initial: dict | None = None) -> RunClient:
        """A new run for `config`; returns at once (status "starting" until its worker is ready).

        `dataset`: (images uint8 or float32 in [0, 1] (N, 28, 28), labels or None) to train on instead of loading
        `config.dataset` (keep the config's name, e.g. 'upload:<sha256>', so the recipe says what it was).
        `initial`: {"weights": {network: arrays}, "step": int, "history": {name: values}} to continue from.
        """
        run = RunClient(self, config, quality_every, dataset, initial)
        worker = self._claim_slot(run)
        run._launch(worker, resume=False)
        return run  # the next spare warms once this run has drawn its first point (RunClient.poll)

    def refill_spare_later(self) -> None:
        threading.Thread(target=self._refill_spare, daemon=True, name="refill-spare").start()

    def _claim_slot(self, run: RunClient):
        with self._lock:
            if self._closed:
                raise EngineError("the engine has shut down")
            # A run claimed by a concurrent Start but not launched yet holds its slot too (`_pending`).
            live = {run_id: r for run_id, r in self._runs.items() if r.live or r.starting or r._pending}
            self._runs = live
            if len(live) >= self.options.max_trainers:
                raise CapacityError(
                    f"All {self.options.max_trainers} training slots of this server are in use (GAN_LAB_MAX_TRAINERS="
                    f"{self.options.max_trainers}). Wait for someone to press Reset or close their tab, then press "
                    f"Start again; the Explore page works meanwhile.")
            self._runs[run.run_id] = run
            run._pending = True
            spare, self._spare = self._spare, None
        if spare is not None and spare.alive():
            return spare
        try:
            return self._new_worker("trainer")
        except Exception:  # no worker (a cluster that cannot be reached): the slot is free again
            with self._lock:
                self._runs.pop(run.run_id, None)
            run._pending = False
            raise

    def _revive(self, run: RunClient) -> None:
        """A new worker for a run whose worker ended, continuing from its snapshot when there is one."""
        worker = self._claim_slot(run)
        resume = (run.recovery_dir / "weights").is_dir()
        if not resume:
            run.view = RunView()
        run.worker = None
        run._launch(worker, resume=resume)

    def _run_ended(self, run: RunClient) -> None:
        with self._lock:
            self._runs.pop(run.run_id, None)
        self._end_shares(run)
        threading.Thread(target=self._refill_spare, daemon=True, name="refill-spare").start()

    def trainer_pids(self) -> list[int]:
        with self._lock:
            workers = [r.worker for r in self._runs.values() if r.worker is not None] + [self._spare]
        return [w.pid for w in workers if w is not None and w.alive()]

    # -- inference
    def _inference_worker(self):
        with self._inference_lock:
            if self._inference is None or not self._inference.alive():
                if self._closed:
                    raise EngineError("the engine has shut down")
                if self._inference is not None:
                    self._inference.close()
                self._inference = self._new_worker("inference")
            return self._inference

    def _inference_call(self, handle: ModelHandle | None, method: str, *args, timeout: float = 300):
        """Call the inference worker, (re)loading the handle's model there first when it is missing."""
        for attempt in (1, 2):
            worker = self._inference_worker()
            try:
                if handle is not None and not worker.call("has", handle.key, timeout=120):
                    self._load_remote(worker, handle)
                return worker.call(method, *((handle.key,) if handle is not None else ()), *args, timeout=timeout)
            except WorkerGone:
                if attempt == 2:
                    raise EngineError("the inference process ended twice in a row; see the server's console")
            except (WorkerError, TimeoutError) as exc:
                raise EngineError(_describe_failure(exc)) from exc

    @staticmethod
    def _load_remote(worker, handle: ModelHandle) -> None:
        source = handle._source or {}
        if "folder" in source:
            worker.call("load_folder", handle.key, source["folder"], timeout=120)
        else:
            worker.call("load_arrays", handle.key, handle.config.to_dict(), source["weights"], timeout=120)

    def shipped_model(self, folder: str | Path, label: str) -> ModelHandle:
        """A shipped (or any saved) weights folder; raises checkpoints.CheckpointError with a message."""
        weights = checkpoints.resolve_weights_folder(folder)
        config = checkpoints.read_config(weights)
        state = checkpoints.read_state(weights)
        stamp = max((p.stat().st_mtime for p in weights.glob("*.weights.h5")), default=0.0)
        key = f"folder:{weights}:{stamp}"
        if numpy_models.supports(config):
            try:
                model = numpy_models.NumpyModel.from_folder(weights, config)
            except numpy_models.WeightsError as exc:
                raise checkpoints.CheckpointError(str(exc)) from exc
            return ModelHandle(self, key, config, label, state, model)
        handle = ModelHandle(self, key, config, label, state, source={"folder": str(weights)})
        self._inference_call(handle, "has")  # load it now, so a broken folder is reported here
        return handle

    def model_from_weights(self, key: str, config: GANConfig, weights: dict[str, list[np.ndarray]], label: str,
                           state: dict | None = None) -> ModelHandle:
        if numpy_models.supports(config):
            return ModelHandle(self, key, config, label, state, numpy_models.NumpyModel(config, weights))
        return ModelHandle(self, key, config, label, state, source={"weights": weights})

    def describe(self, config: GANConfig) -> dict[str, list[dict]]:
        return self._inference_call(None, "describe", config.to_dict())

    def evaluate(self, handle: ModelHandle, n: int) -> dict:
        if self.options.judge_dir is None:
            raise EngineError("no digit classifier is configured for evaluations")
        if handle.numpy_model is not None:  # dense weights travel along; the worker builds the Keras model
            weights = {stem: net.arrays for stem, net in handle.numpy_model.networks.items()}
            return self._inference_call(None, "evaluate", handle.key, self.options.judge_dir,
                                        self.options.reference_dataset, int(n), weights, handle.config.to_dict())
        return self._inference_call(handle, "evaluate", self.options.judge_dir, self.options.reference_dataset,
                                    int(n))

    # -- presenter mode (see SharedRun)
    def share(self, run: RunClient) -> str:
        """The run's live-view token, made on first call (long, random: secrets.token_urlsafe(24))."""
        with self._lock:
            for token, shared in self._shares.items():
                if shared._run is run and not shared.ended:  # (an ended share holds no run)
                    return token
            token = secrets.token_urlsafe(24)
            self._shares[token] = SharedRun(self, token, run=run)
            return token

    def share_token(self, run: RunClient) -> str | None:
        with self._lock:
            return next((token for token, shared in self._shares.items() if shared._run is run and not shared.ended),
                        None)

    def revoke(self, token: str, message: str = "The presenter stopped sharing this live view.") -> None:
        """The link stops working at once: viewers see `message` and nothing more of the run."""
        with self._lock:
            shared = self._shares.get(token)
        if shared is not None:
            shared.end(message)
        self._forget_ended()

    def watch(self, token: str) -> SharedRun | None:
        """The shared view behind `token` (this replica's, or another's through the backend), None if unknown."""
        if not token:
            return None
        with self._lock:
            shared = self._shares.get(token)
        if shared is not None:
            return shared
        lookup = getattr(self.options.make_worker, "lookup_share", None)
        found = lookup(token) if lookup is not None else None
        if found is None:
            return None
        with self._lock:
            if token not in self._shares:
                # Ended elsewhere: remembered with its reason, for this replica's late viewers.
                self._shares[token] = (SharedRun.gone(self, token, found["ended"]) if found.get("ended")
                                       else SharedRun(self, token, remote=found))
            return self._shares[token]

    def _end_shares(self, run: RunClient) -> None:
        reason = run._closed_by
        if reason == "reset":
            message = "The presenter reset the run; this live view has ended."
        elif reason:
            message = f"The presenter's run was ended ({reason}); this live view has ended."
        else:
            message = f"The presenter's run could not start ({run.why_no_worker()}); this live view has ended."
        with self._lock:
            shares = [shared for shared in self._shares.values() if shared._run is run]  # live ones only
        for shared in shares:
            shared.end(message)
        self._forget_ended()

    def _forget_ended(self) -> None:
        with self._lock:
            ended = [token for token, shared in self._shares.items() if shared.ended]
            for token in ended[:max(0, len(ended) - ENDED_SHARES_KEPT)]:
                del self._shares[token]

    # -- the end
    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            runs, self._runs = list(self._runs.values()), {}
            spare, self._spare = self._spare, None
        for run in runs:
            if run.worker is not None:
                run.worker.close(timeout=1.0)
        for worker in (spare, self._inference):
            if worker is not None:
                worker.close(timeout=1.0)
        for shared in list(self._shares.values()):
            if not shared.ended:
                shared.end("The server is shutting down; this live view has ended.")
        shutil.rmtree(self.recovery_root, ignore_errors=True)
