"""The lab engine: the page's one door to training and inference, with TensorFlow kept out of the page.

A package organised around who owns a worker (each module imports only those above it in this list):
- errors, options: what can go wrong, and every setting with its default (the one home of run options);
- pool: the only code that starts or closes a worker; hands out leases and counts the trainer cap by them;
- runs: a training run holds a lease; closing it releases the lease and never blocks a page;
- inference: model handles, and the shared inference lanes (quick and long) for what NumPy cannot run;
- sharing: presenter links (one poller per shared run, any number of viewers);
- this facade, LabEngine, which wires them with callbacks (no module below holds a reference back up).

Process lifecycle (the decisions the pages rely on):
- Each training run leases one worker process (gan_core.run_service) from Start until Reset or the end of the
  browser session; ending the run ends the process, so its memory goes back to the operating system.
- A warm spare: when the engine is made (at server start-up), one worker imports TensorFlow and builds and
  traces the default recipe in the background. The first Start with that recipe (or other learning rates)
  leases it and trains at once. A new spare warms once that run has drawn its first point where the machine has
  cores beside the training (TRAINER_CORES per run and one more, or a cluster with room for one more trainer actor:
  WorkerPool.spare_fits_beside_training),
  else when a run ends: on two cores a spare warming beside a run took a core from it. Any other recipe
  is built in the spare's process or a new one: `create_run` never blocks the page.
- At most `max_trainers` leases at once (GAN_LAB_MAX_TRAINERS), and `max_trainers_per_owner` per session
  (GAN_LAB_MAX_TRAINERS_PER_SESSION, when the page passes `owner=`); over either, CapacityError with a message.
- Every run saves one consistent recovery snapshot (step, weights, curves, live-quality scores) at a chunk
  boundary every ~20 s of training, on pause and when its session ends; Resume continues from it, the curves
  where they stopped. Snapshots live under GAN_LAB_RECOVERY_DIR (a shared folder for a multi-node cluster) or
  a temporary folder; a Reset deletes its run's folder, an ended session's folder goes after a grace period,
  and the oldest ended ones go first when the folders outgrow their quota.
- Workers never outlive the app (gan_core.transport); `shutdown` ends them all, also those still starting.
- Where workers run is the factory's business (EngineOptions.make_worker, chosen by GAN_LAB_ENGINE): local
  processes by default, Ray actors with `ray`; the local default never imports Ray.
This package imports neither TensorFlow nor Keras, nor streamlit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
import weakref
from pathlib import Path

import numpy as np

from gan_core import checkpoints, numpy_models
from gan_core.config import GANConfig
from gan_core.engine.errors import CapacityError, EngineError, describe_failure
from gan_core.engine.inference import InferenceLanes, ModelHandle
from gan_core.engine.options import (RUN_OPTION_DEFAULTS, EngineOptions, default_make_worker, default_max_trainers,
                                     default_max_trainers_per_owner)
from gan_core.engine.pool import Lease, WorkerPool
from gan_core.engine.runs import RunClient, compact_dataset
from gan_core.engine.sharing import SHARE_IDLE_S, SHARE_POLL_S, SharedPlayground, SharedRun, Shares

__all__ = ["CapacityError", "EngineError", "EngineOptions", "LabEngine", "Lease", "ModelHandle", "RUN_OPTION_DEFAULTS",
           "RunClient", "SharedPlayground", "SharedRun", "WorkerPool", "compact_dataset", "default_make_worker", "default_max_trainers",
           "default_max_trainers_per_owner", "describe_failure", "SHARE_IDLE_S", "SHARE_POLL_S"]

JANITOR_EVERY_S = 60.0


class LabEngine:
    """One per app process (the page caches it); thread-safe."""

    def __init__(self, options: EngineOptions | None = None, start: bool = True):
        self.options = options or EngineOptions()
        root = self.options.recovery_root
        if root:
            Path(root).mkdir(parents=True, exist_ok=True)
        self.recovery_root = tempfile.mkdtemp(prefix="gan-lab-", dir=root or None)
        self.pool = WorkerPool(self.options.make_worker, self.options.worker_env,
                               max_trainers=lambda: self.options.max_trainers,
                               max_per_owner=lambda: self.options.max_trainers_per_owner,
                               spare=self.options.warm_spare,
                               prepare_spare=self._prepare_spare, connect_timeout_s=self.options.connect_timeout_s)
        self.lanes = InferenceLanes(self.pool, self.options)
        self.shares = Shares(self.options.make_worker, self.model_from_weights)
        self._lock = threading.RLock()
        self._runs: weakref.WeakValueDictionary[str, RunClient] = weakref.WeakValueDictionary()
        self._folders: dict[str, Path] = {}  # run id -> its recovery folder (outlives a forgotten run object)
        self._closed = False
        self._stop = threading.Event()
        atexit.register(self.shutdown)
        threading.Thread(target=self._janitor, daemon=True, name="engine-janitor").start()
        if start and self.options.warm_spare:
            # In the background: whoever made the engine (the server's start-up) goes on while the spare warms.
            threading.Thread(target=self._warm_up, daemon=True, name="engine-warm-up").start()

    # -- workers
    def _prepare_spare(self, worker) -> None:
        worker.call("prepare", self.options.spare_config.to_dict(), self.options.run_options(), timeout=60)

    def _warm_up(self, timeout: float = 180.0) -> None:
        """The spare first (Start is what a visitor does first), then the shared inference worker."""
        self.pool.refill_spare()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._closed and (self.pool.spare_status()["warming"]
                                                                    or self._a_run_is_starting()):
            time.sleep(0.5)
        try:
            self.lanes.call(None, "warm", timeout=timeout)
        except EngineError:
            pass  # it is started again on the first request that needs it

    def _a_run_is_starting(self) -> bool:
        """A Start that took the spare while it still warmed: the inference worker's TensorFlow import would
        take half the cores from that run's preparation (measured: the first point 3-4 s later on two cores)."""
        with self._lock:
            runs = list(self._runs.values())
        return any(run.starting for run in runs)

    def refill_spare_later(self) -> None:
        self.pool.refill_later()

    def status(self) -> dict:
        """For the page: is a warm trainer ready, how many slots are taken."""
        spare = self.pool.spare_status()
        return {"warming": spare["warming"], "spare": spare["spare"], "trainers": self.pool.trainers(),
                "max_trainers": self.options.max_trainers}

    def trainer_pids(self) -> list[int]:
        """Every trainer process the pool holds (leased, spare, being closed)."""
        return self.pool.pids("trainer")

    def worker_pids(self) -> list[int]:
        """Every worker process, inference lanes included."""
        return self.pool.pids()

    @property
    def _inference(self):
        """The quick inference lane's worker (tests: its pid, or close it to see it replaced)."""
        return self.lanes.current("quick")

    # -- training
    def create_run(self, config: GANConfig, quality_every: int | None = None, dataset: tuple | None = None,
                   initial: dict | None = None, owner: str = "") -> RunClient:
        """A new run for `config`; returns at once (status "starting" until its worker is ready).

        `dataset`: (images uint8 or float32 in [0, 1] (N, 28, 28), labels or None) to train on instead of loading
        `config.dataset` (keep the config's name, e.g. 'upload:<sha256>', so the recipe says what it was).
        `initial`: {"weights": {network: arrays}, "step": int, "history": {name: values}} to continue from.
        `owner`: who asks (a browser session's id); each owner holds at most max_trainers_per_owner runs.
        """
        if self._closed:
            raise EngineError("the engine has shut down")
        lease = self.pool.lease("trainer", owner)
        folder = Path(tempfile.mkdtemp(prefix="run-", dir=self.recovery_root))
        run = RunClient(self.pool, self.options, config, quality_every, folder, dataset, initial, owner=owner,
                        make_model=self.model_from_weights, describe=self.describe)
        run.on_ended(self.shares.run_ended)
        run.on_ended(lambda _run: self.pool.refill_later())
        with self._lock:
            self._runs[run.run_id] = run
            self._folders[run.run_id] = folder
        run.launch(lease, resume=False)
        return run  # the next spare warms once this run has drawn its first point (RunClient.poll)

    # -- recovery storage
    def _janitor(self) -> None:
        while not self._stop.wait(JANITOR_EVERY_S):
            try:
                self.clean_recovery()
            except Exception:  # the janitor must outlive a folder that vanished under it
                pass

    def clean_recovery(self, now: float | None = None) -> list[str]:
        """Delete recovery folders no one can resume: forgotten runs, ended sessions past the grace period,
        and, past the quota, the oldest ended ones. Returns the run ids whose folders went."""
        now = time.monotonic() if now is None else now
        removed: list[str] = []
        with self._lock:
            folders = dict(self._folders)
            runs = {run_id: self._runs.get(run_id) for run_id in folders}
        ended = []
        for run_id, folder in folders.items():
            run = runs[run_id]
            if run is None or run._discarded:
                removed.append(run_id)
            elif not run.holds_lease and run.ended_at is not None:
                if now - run.ended_at >= self.options.recovery_grace_s:
                    removed.append(run_id)
                else:
                    ended.append((run.ended_at, run_id))
        quota = self.options.recovery_quota_mb * 1e6
        total = sum(_folder_bytes(folders[run_id]) for run_id in folders if run_id not in removed)
        for _, run_id in sorted(ended):
            if total <= quota:
                break
            total -= _folder_bytes(folders[run_id])
            removed.append(run_id)
        for run_id in removed:
            shutil.rmtree(folders[run_id], ignore_errors=True)
            with self._lock:
                self._folders.pop(run_id, None)
        return removed

    # -- models and inference
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
            return ModelHandle(self.lanes, key, config, label, state, model)
        handle = ModelHandle(self.lanes, key, config, label, state, source={"folder": str(weights)})
        self.lanes.call(handle, "has")  # load it now, so a broken folder is reported here
        return handle

    def model_from_weights(self, key: str, config: GANConfig, weights: dict[str, list[np.ndarray]], label: str,
                           state: dict | None = None) -> ModelHandle:
        if numpy_models.supports(config):
            return ModelHandle(self.lanes, key, config, label, state, numpy_models.NumpyModel(config, weights))
        return ModelHandle(self.lanes, key, config, label, state, source={"weights": weights})

    def _inference_call(self, handle: ModelHandle | None, method: str, *args, timeout: float | None = None):
        return self.lanes.call(handle, method, *args, timeout=timeout)

    def describe(self, config: GANConfig) -> dict[str, list[dict]]:
        return self.lanes.call(None, "describe", config.to_dict())

    def evaluate(self, handle: ModelHandle, n: int) -> dict:
        if self.options.judge_dir is None:
            raise EngineError("no digit classifier is configured for evaluations")
        if handle.numpy_model is not None:  # dense weights travel along; the worker builds the Keras model
            weights = {stem: net.arrays for stem, net in handle.numpy_model.networks.items()}
            return self.lanes.call(None, "evaluate", handle.key, self.options.judge_dir,
                                   self.options.reference_dataset, int(n), weights, handle.config.to_dict())
        return self.lanes.call(handle, "evaluate", self.options.judge_dir, self.options.reference_dataset, int(n))

    # -- presenter mode (see gan_core.engine.sharing)
    def share(self, run: RunClient) -> str:
        return self.shares.share(run)

    def share_token(self, run: RunClient) -> str | None:
        return self.shares.share_token(run)

    def revoke(self, token: str, message: str = "The presenter stopped sharing this live view.") -> None:
        self.shares.revoke(token, message)

    def share_playground(self, owner: str) -> str:
        """A live-view link for a Playground that trains in `owner`'s (a page session's) browser."""
        return self.shares.share_playground(owner)

    def playground_token(self, owner: str) -> str | None:
        return self.shares.playground_token(owner)

    def watch(self, token: str) -> SharedRun | SharedPlayground | None:
        return self.shares.watch(token)

    # -- the end
    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self.shares.close()
        self.lanes.close()
        self.pool.close_all()
        shutil.rmtree(self.recovery_root, ignore_errors=True)


def _folder_bytes(folder: Path) -> int:
    try:
        return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
    except OSError:
        return 0
