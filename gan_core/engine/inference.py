"""Models the pages draw from, and the shared inference lanes that serve those NumPy cannot.

Decisions, and why:
- Dense models run in the page process as NumPy forward passes (gan_core.numpy_models): no worker at all.
- Convolutional models, evaluations and network descriptions go to an inference worker leased from the pool
  (it does not count against the trainer cap). There are two lanes, each its own worker: "quick" for what a
  slider or a page draw asks (generate, probability, encode, describe) and "long" for evaluations and
  principal directions, which take seconds to minutes. One visitor's evaluation so never stalls everyone's
  sliders. The long lane is made on its first request and let go after `LONG_LANE_IDLE_S` without one.
- Every request has a deadline (quick_timeout_s / inference_timeout_s); a lane busy past it answers
  EngineError ("busy"), never a hang.
- A dead lane worker is replaced on the next request, and the models it held are loaded again.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from gan_core import latent, numpy_models
from gan_core.browser_export import source_sampler_weights
from gan_core.config import LOGISTIC_LOSSES, GANConfig
from gan_core.engine.errors import EngineError, describe_failure
from gan_core.engine.options import EngineOptions
from gan_core.engine.pool import Lease, WorkerPool
from gan_core.transport import WorkerError, WorkerGone

LONG_LANE_IDLE_S = 120.0
LONG_METHODS = ("evaluate", "directions", "project")  # seconds of work each: never on the sliders' lane


class ModelHandle:
    """A model a page may draw from: NumPy here for dense networks, the inference worker otherwise.

    Methods mirror gan_core.models (generate, generate_soft, probability, encode, reconstruct) and take and
    return NumPy arrays. `key` changes whenever the weights do, so it can key a page's caches.
    """

    def __init__(self, lanes: "InferenceLanes", key: str, config: GANConfig, label: str, state: dict | None = None,
                 numpy_model: numpy_models.NumpyModel | None = None, source: dict | None = None):
        self.lanes = lanes
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
        return self.lanes.call(self, method, *args)

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
                options = self.lanes.options
                components = min(options.direction_count, self.config.latent_dim)
                if self.numpy_model is not None:
                    self._directions = latent.principal_directions(
                        self.generate, self.config.latent_dim, count=options.direction_samples, components=components)
                else:
                    self._directions = self.lanes.call(self, "directions", options.direction_samples, components, lane="long")
            self._directions_done = True
        return self._directions

    def project(self, images: np.ndarray, state: dict | None = None, steps: int | None = None) -> dict:
        """One chunk of finding the z of digits (gan_core.projection.project_chunk), on the long lane."""
        judge_dir = self.lanes.options.judge_dir
        if judge_dir is None:
            raise EngineError("no digit classifier is configured, and projections need its features")
        images = np.asarray(images, np.float32)
        if self.numpy_model is not None:  # dense weights travel along; the worker builds the Keras model once
            weights = {stem: net.arrays for stem, net in self.numpy_model.networks.items()}
            return self.lanes.call(None, "project", self.key, judge_dir, images, state, steps, weights,
                                   self.config.to_dict())
        return self.lanes.call(self, "project", judge_dir, images, state, steps)

    def source(self) -> dict:
        """How the inference worker (re)loads this model: {"folder": path} or {"weights": {stem: arrays}}."""
        return dict(self._source or {})

    def sampler_weights(self) -> list[np.ndarray]:
        """The generator's arrays in `get_weights()` order (what the browser runs, gan_core.browser_export):
        the NumPy model's own for a dense model, else read from the weights this handle loads from."""
        if self.numpy_model is not None:
            return self.numpy_model.sampler_arrays()
        return source_sampler_weights(self.config, self.source())

    def sampler_arrays(self) -> list[np.ndarray]:
        """[W1, b1, W2, b2] of the generator pictures come from (dense models only: instant mode)."""
        if self.numpy_model is None:
            raise ValueError(f"{self.label} is not a dense model; only dense generators run in the browser")
        return self.numpy_model.sampler_arrays()


class InferenceLanes:
    """The inference workers: one lease per lane, (re)made on demand."""

    def __init__(self, pool: WorkerPool, options: EngineOptions):
        self.pool = pool
        self.options = options
        self._leases: dict[str, Lease] = {}
        self._locks = {"quick": threading.Lock(), "long": threading.Lock()}
        self._last_used = {"quick": 0.0, "long": 0.0}
        self._guard = threading.Lock()
        self._closed = False

    def worker(self, lane: str = "quick"):
        """The lane's worker, made (or replaced, if it died) now."""
        with self._guard:
            if self._closed:
                raise EngineError("the engine has shut down")
            lease = self._leases.get(lane)
            if lease is not None and (lease.released or (lease.current is not None and not lease.current.alive())):
                lease.release()
                lease = None
            if lease is None:
                lease = self.pool.lease("inference", counted=False)
                self._leases[lane] = lease
        return lease.worker()

    def current(self, lane: str = "quick"):
        """The lane's worker if it exists and lives, else None (never makes one)."""
        lease = self._leases.get(lane)
        worker = None if lease is None else lease.current
        return worker if worker is not None and worker.alive() else None

    def call(self, handle: "ModelHandle | None", method: str, *args, lane: str | None = None,
             timeout: float | None = None):
        """Call a lane, (re)loading the handle's model there first when it is missing."""
        lane = lane or ("long" if method in LONG_METHODS else "quick")
        deadline_s = timeout or (self.options.inference_timeout_s if lane == "long" else self.options.quick_timeout_s)
        deadline = time.monotonic() + deadline_s
        if not self._locks[lane].acquire(timeout=deadline_s):
            raise EngineError(f"the {lane} inference lane is busy with other visitors' requests; try again in a moment")
        try:
            for attempt in (1, 2):
                worker = self.worker(lane)
                left = max(1.0, deadline - time.monotonic())
                try:
                    if handle is not None and not worker.call("has", handle.key, timeout=left):
                        self._load(worker, handle, max(1.0, deadline - time.monotonic()))
                    return worker.call(method, *((handle.key,) if handle is not None else ()), *args,
                                       timeout=max(1.0, deadline - time.monotonic()))
                except WorkerGone:
                    if attempt == 2:
                        raise EngineError("the inference process ended twice in a row; see the server's console")
                except (WorkerError, TimeoutError) as exc:
                    raise EngineError(describe_failure(exc)) from exc
        finally:
            self._last_used[lane] = time.monotonic()
            self._locks[lane].release()
            if lane == "long":
                self._schedule_idle_release()

    def _schedule_idle_release(self) -> None:
        def check():
            if time.monotonic() - self._last_used["long"] >= LONG_LANE_IDLE_S - 1 and self._locks["long"].acquire(False):
                try:
                    with self._guard:
                        lease = self._leases.pop("long", None)
                    if lease is not None:
                        lease.release()
                finally:
                    self._locks["long"].release()

        timer = threading.Timer(LONG_LANE_IDLE_S, check)
        timer.daemon = True
        timer.start()

    @staticmethod
    def _load(worker, handle: "ModelHandle", timeout: float) -> None:
        source = handle.source()
        if "folder" in source:
            worker.call("load_folder", handle.key, source["folder"], timeout=timeout)
        else:
            worker.call("load_arrays", handle.key, handle.config.to_dict(), source["weights"], timeout=timeout)

    def close(self) -> None:
        with self._guard:
            self._closed = True
            leases, self._leases = list(self._leases.values()), {}
        for lease in leases:
            lease.release()
