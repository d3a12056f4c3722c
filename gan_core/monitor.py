"""Live quality: every K training steps, score the generator off the training thread.

The trainer's worker hands over a copy of the sampler's weights (cheap, and
consistent because it happens between chunks); a separate thread loads them
into a private network, draws N digits and scores them with the classifier
against real digits. Training never waits for an evaluation: when one is still
running, the next hand-over simply replaces the pending weights.

A scoring costs about a CPU-second (the classifier on 1,000 digits), and its ops share TensorFlow's threads
with the training's, so on a small machine it slows training while it runs: at the default batch of 32 the
dense GAN reaches 2,000 steps every ~7 s, and scoring every time cost the open Train page ~6% of its steps
(benchmarks/README.md). `min_interval_s` bounds that: a due step that comes sooner than this after the last
hand-over is skipped, and the next multiple of `every_steps` is scored instead (the points stay on the grid).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np
from threadpoolctl import ThreadpoolController

from gan_core import metrics
from gan_core.latent import sample_z

LOG = logging.getLogger(__name__)

# What a page shows when an evaluation fails: one sentence, what failed and what to do. The details go to the log.
SETUP_FAILED = ("Live quality is off for this run: the digit classifier could not be prepared "
                "(details are in the server log). Training goes on; restart the app to try again.")
EVALUATION_FAILED = ("Live quality could not score the samples of step {step:,} (details are in the server log). "
                     "Training goes on; the next check is at step {next_step:,}.")

# digit_share: the share of samples that count as digits (metrics.digit_like); precision and the class count
# count only those, so noise the classifier happens to be sure about is never praised.
LIVE_SERIES = ("fid", "fid_floor", "classes_covered", "kl_to_uniform", "precision", "recall", "digit_share", "seconds")


class LiveQuality:
    """Scores a generator every `every_steps` steps on `n` samples, in its own thread."""

    def __init__(self, judge, real_images: np.ndarray, make_sampler: Callable[[], keras.Model],
                 latent_dim: int, every_steps: int = 2000, n: int = 1000, seed: int = 0, conditional: bool = False,
                 min_interval_s: float = 0.0):
        self.judge = judge
        self.real_images = np.asarray(real_images, np.float32)
        self.make_sampler = make_sampler
        self.latent_dim = latent_dim
        self.every_steps = int(every_steps)
        self.min_interval_s = float(min_interval_s)
        self._last_submitted: float | None = None  # time.monotonic() of the last hand-over
        self.n = int(n)
        self.conditional = conditional
        self.z = sample_z(self.n, latent_dim, seed + 424242)
        self.labels = np.arange(self.n) % 10
        # Plain arrays for both inputs: Keras refuses a nested call() argument mixing tensors and arrays.
        self.one_hot_labels = np.eye(10, dtype=np.float32)[self.labels]
        self._lock = threading.Condition()
        self._pending: tuple[int, list[np.ndarray]] | None = None
        self._history: dict[str, list[float]] = {"step": [], **{name: [] for name in LIVE_SERIES}}
        self._latest_shares: np.ndarray | None = None
        self._next_step = self.every_steps
        self._stop = False
        self._warm_requested = False
        self._prepared = False
        self._error = ""
        self._thread = threading.Thread(target=self._work, daemon=True, name="live-quality")
        self._thread.start()

    # Called on the trainer's worker thread (an "on_chunk_end" callback with the weights passed in).
    def maybe_submit(self, step: int, get_weights: Callable[[], list[np.ndarray]]) -> bool:
        if step < self._next_step:
            return False
        self._next_step = (step // self.every_steps + 1) * self.every_steps
        now = time.monotonic()
        if self._last_submitted is not None and now - self._last_submitted < self.min_interval_s:
            return False  # too soon after the last one: the next multiple of every_steps is scored instead
        self._last_submitted = now
        weights = [np.array(w) for w in get_weights()]
        with self._lock:
            self._pending = (step, weights)
            self._lock.notify_all()
        return True

    def restore(self, history: dict[str, np.ndarray]) -> None:
        """Continue a resumed run's scores: the saved rows back, the next evaluation after the last of them."""
        with self._lock:
            self._history = {name: [float(v) for v in history.get(name, [])] for name in self._history}
            if self._history["step"]:
                self._next_step = (int(self._history["step"][-1]) // self.every_steps + 1) * self.every_steps

    def history(self) -> dict[str, np.ndarray]:
        with self._lock:
            return {name: np.array(values, dtype=np.float64) for name, values in self._history.items()}

    @property
    def latest_shares(self) -> np.ndarray | None:
        with self._lock:
            return None if self._latest_shares is None else self._latest_shares.copy()

    @property
    def error(self) -> str:
        return self._error

    def wait_idle(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending is not None and time.monotonic() < deadline:
                self._lock.wait(0.05)

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify_all()

    def warm(self) -> None:
        """Prepare the reference statistics now, in this scorer's thread, instead of at the first scoring.

        A warm spare calls it once its run is traced: the reference digits' features are the scorer's one large
        cost (every reference image through the classifier, several CPU-seconds), which a run would otherwise
        pay in the middle of training, at its first scoring. It then rehearses one scoring (`_rehearse`), so the
        classifier's traced call is traced before any run needs it."""
        with self._lock:
            self._warm_requested = True
            self._lock.notify_all()

    @property
    def ready(self) -> bool:
        """The reference statistics are prepared, and rehearsed when warmed (or their preparation failed: see
        `error`)."""
        with self._lock:
            return self._prepared

    def _work(self) -> None:
        with self._lock:  # nothing to prepare until the first weights arrive (or `warm`): start-up is for training
            while self._pending is None and not self._stop and not self._warm_requested:
                self._lock.wait()
            if self._stop:
                return
            warming = self._pending is None  # asked by `warm`, ahead of any scoring
        try:
            with _one_blas_thread():
                prepared = self._prepare_reference()
                if warming:
                    self._rehearse(prepared[0])  # the sampler
        except Exception:  # reported through .error, never raised into the trainer
            LOG.exception("live quality: preparing the sampler or the reference statistics failed")
            self._error = SETUP_FAILED
            return
        finally:
            with self._lock:
                self._prepared = True
                self._lock.notify_all()
        while True:
            with self._lock:
                while self._pending is None and not self._stop:
                    self._lock.wait()
                if self._stop:
                    return
                step, weights = self._pending
            with _one_blas_thread():
                row, shares = self._score(step, weights, *prepared)
            with self._lock:
                if row is not None:
                    self._error = ""  # a later success clears an earlier failure
                    for name, value in row.items():
                        self._history[name].append(float(value))
                    self._latest_shares = shares
                if self._pending is not None and self._pending[0] == step:
                    self._pending = None
                self._lock.notify_all()

    def _prepare_reference(self) -> tuple:
        """(sampler, reference mean and covariance, the real-vs-real floor, the real features for precision)."""
        sampler = self.make_sampler()
        return (sampler, *reference_statistics(self.judge, self.real_images, self.n))

    def _rehearse(self, sampler) -> None:
        """A scoring's two network calls on its own shapes, the results thrown away, for a warm spare.

        The classifier's traced call is traced at its first use, and tracing is Python that holds the GIL the
        trainer's thread needs to launch its steps: at a run's first scoring it cost 0.33 CPU-s and 0.43 s of wall
        time more than a later scoring (0.92 against 0.59 CPU-s, benchmarks/README.md). Done here, in the spare's
        idle time, a run's first scoring costs what every later one does."""
        inputs = [self.z, self.one_hot_labels] if self.conditional else self.z
        self.judge.features_and_probabilities(np.asarray(sampler(inputs, training=False)))

    def _score(self, step: int, weights: list[np.ndarray], sampler, real_mean, real_cov, floor, pr_real):
        """(the row of scores, the class shares) of the weights of `step`; (None, None) when scoring failed."""
        started = time.perf_counter()
        try:
            sampler.set_weights(weights)
            inputs = [self.z, self.one_hot_labels] if self.conditional else self.z
            images = np.asarray(sampler(inputs, training=False))
            features, probabilities = self.judge.features_and_probabilities(images)
            fake_mean, fake_cov = metrics.feature_statistics(features)
            counted = metrics.digit_like(images, probabilities)
            shares = metrics.digit_class_shares(probabilities, counted)
            precision, recall = metrics.precision_recall(pr_real, features[:len(pr_real)],
                                                         fake_counted=counted[:len(pr_real)])
            return {"step": step,
                    "fid": metrics.frechet_distance_from_statistics(fake_mean, fake_cov, real_mean, real_cov),
                    "fid_floor": floor, "classes_covered": metrics.classes_covered(shares),
                    "kl_to_uniform": metrics.kl_to_uniform(shares), "precision": precision, "recall": recall,
                    "digit_share": float(counted.mean()), "seconds": time.perf_counter() - started}, shares
        except Exception:
            LOG.exception("live quality: evaluating the samples of step %d failed", step)
            self._error = EVALUATION_FAILED.format(step=step, next_step=self._next_step)
            return None, None


def reference_cache_dir() -> Path:
    """Where reference statistics are kept between workers: GAN_LAB_CACHE_DIR, else ~/.cache/gan-lab."""
    configured = os.environ.get("GAN_LAB_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gan-lab"


def reference_statistics(judge, real_images: np.ndarray, n: int) -> tuple:
    """(mean, covariance, real-vs-real floor, real features for precision) of the reference digits.

    Every reference image goes through the classifier: several CPU-seconds that every trainer worker (each run,
    each warm spare) would otherwise pay again for the same numbers. So they are kept on disk, keyed by the
    classifier's weights, the reference images and n, and computed only when no file matches; a file that
    cannot be read or written only costs the computation."""
    fingerprint = getattr(judge, "fingerprint", None)
    path = None
    if fingerprint:
        key = hashlib.sha256(f"{fingerprint}:{n}:{real_images.shape}:".encode() + real_images.tobytes()).hexdigest()
        path = reference_cache_dir() / f"reference-{key[:32]}.npz"
        try:
            with np.load(path, allow_pickle=False) as kept:
                return kept["mean"], kept["cov"], float(kept["floor"]), kept["pr_real"]
        except (OSError, KeyError, ValueError):
            pass  # none yet (or unreadable): compute it below
    statistics = _compute_reference_statistics(judge, real_images, n)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp.npz")
            mean, cov, floor, pr_real = statistics
            np.savez(partial, mean=mean, cov=cov, floor=np.float64(floor), pr_real=pr_real)
            os.replace(partial, path)  # whole or absent: two workers writing at once both write the same numbers
        except OSError:
            LOG.warning("live quality: could not keep the reference statistics in %s", path.parent, exc_info=True)
    return statistics


def _compute_reference_statistics(judge, real_images: np.ndarray, n: int) -> tuple:
    real_features = judge.features(real_images)
    real_mean, real_cov = metrics.feature_statistics(real_features)
    rng = np.random.default_rng(0)
    # Floor: n real digits against the rest, the same sizes as the live comparison.
    order = rng.permutation(len(real_features))
    held, rest = real_features[order[:n]], real_features[order[n:]]
    floor = metrics.frechet_distance(held, rest)
    pr_real = real_features[order[n:2 * n]] if len(order) >= 2 * n else rest[:n]
    return real_mean, real_cov, floor, pr_real


@functools.lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    return ThreadpoolController()  # finds the loaded BLAS once (a scan of the process's libraries)


def _one_blas_thread():
    """The metrics' NumPy products on one BLAS thread: they are small (128-wide features), and OpenBLAS's
    threads waking beside a training that holds every core cost far more than the products (measured under load:
    the Frechet distance 280 ms of CPU on the default two threads, 2 ms on one; precision/recall 94 -> 43 ms)."""
    return _blas().limit(limits=1, user_api="blas")
