"""A training worker's side of the engine: one run per process, its live views, its answers to the page.

The process holds one TrainingRun (config -> data -> model -> Trainer), its discriminator view and its live
quality, exactly as the CLI builds them. The page reaches it only through `rpc_*` methods whose arguments and
answers are plain data (gan_core.messages). Training runs on the Trainer's own thread, so the process's main
thread stays free to answer; a snapshot costs the worker only the points the page has not seen yet.

Warm spare: `rpc_prepare` builds a run in the background and traces its training step (one call, after
which every weight, optimizer slot and random state is put back), so a later `rpc_create` with the same
recipe starts training at once. Runs that differ only in learning rates reuse it too; anything else builds
anew in this process, which has TensorFlow imported already.

Recovery: while training, the run writes its weights and curves to `options["recovery_dir"]` every
`recovery_every_s` seconds and whenever it pauses, so a worker that dies (kill -9, out of memory) can be
replaced by a new one that continues from there (`rpc_create(..., resume=True)`; optimizer moments restart).

Given data and weights: `rpc_create(..., dataset=(images, labels))` trains on arrays the page sent (an upload)
instead of loading `config.dataset` by name, and `initial={"weights", "step", "history"}` starts from a
bundle's weights at its step with its curves. Neither reuses the prepared spare's run (it was built for
other data and fresh weights); the process, with TensorFlow loaded, is still reused.

Timeline: each chunk end records the fixed-noise grid and, more coarsely, the weights pictures need
(gan_core.timeline); snapshots carry the frames the page lacks, `rpc_timeline_weights(step)` one moment.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from gan_core.config import GANConfig
from gan_core.images import grid_png, to_uint8
from gan_core.messages import Known, RunSnapshot
from gan_core.timeline import TimelineRecorder

LIVE_RATE_FIELDS = ("g_learning_rate", "d_learning_rate")  # changed on a live run without a rebuild
DEFAULT_OPTIONS = {"chunk_steps": 100, "quality_every": 2000, "quality_n": 1000, "view_count": 256,
                   "judge_dir": None, "reference_dataset": "mnist-sample", "recovery_dir": None,
                   "recovery_every_s": 20.0, "total_steps": None}


def _build_options(options: dict) -> dict:
    """The options that shape what is built (recovery settings do not)."""
    return {name: value for name, value in options.items() if not name.startswith("recovery_")}


def _same_recipe(a: GANConfig, b: GANConfig) -> bool:
    def recipe(config: GANConfig) -> dict:
        return {name: value for name, value in config.to_dict().items() if name not in LIVE_RATE_FIELDS}

    return recipe(a) == recipe(b)


class RunService:
    def __init__(self):
        self.run = None
        self.config: GANConfig | None = None
        self.options = dict(DEFAULT_OPTIONS)
        self.notes: list[str] = []
        self.quality_note = ""
        self._prepared: tuple[GANConfig, dict, object] | None = None  # (config, options, run or exception)
        self._prepare_thread: threading.Thread | None = None
        self._last_recovery = 0.0
        self._recovery_lock = threading.Lock()
        self.judge = None
        self.timeline = TimelineRecorder()

    # ---- building ------------------------------------------------------------------------------
    def _build(self, config: GANConfig, options: dict, trace: bool, dataset_arrays: tuple | None = None):
        from gan_core.data import load_dataset
        from gan_core.lab import create_run

        dataset = load_dataset(config.dataset) if dataset_arrays is None else _given_dataset(config, dataset_arrays)
        run = create_run(config, dataset, chunk_steps=int(options["chunk_steps"]),
                         total_steps=options.get("total_steps"))
        if config.is_adversarial:
            run.attach_discriminator_view(dataset.images, count=int(options["view_count"]))
        quality_note = self._attach_quality(run, options)
        if trace:
            self._trace(run)
        return run, quality_note

    def _attach_quality(self, run, options: dict) -> str:
        if not options.get("judge_dir") or not options.get("quality_every"):
            return "live quality is switched off for this run"
        from gan_core import evaluation
        from gan_core.classifier import DigitJudge
        from gan_core.data import load_dataset

        try:
            if self.judge is None:
                self.judge = DigitJudge.load(options["judge_dir"])
        except (OSError, ValueError) as exc:
            return f"the digit classifier in `{options['judge_dir']}` cannot be loaded ({exc})"
        available, reason = evaluation.metrics_available(run.config.dataset, self.judge)
        if not available:
            return reason
        real = load_dataset(options["reference_dataset"]).images
        # The floor compares n real digits with the rest, so n can be at most half the reference set.
        run.attach_live_quality(self.judge, real, every_steps=int(options["quality_every"]),
                                n=min(int(options["quality_n"]), len(real) // 2))
        return ""

    @staticmethod
    def _trace(run) -> None:
        """Trace the training step, the preview and the probes now, then undo the step they took."""
        trainer, model = run.trainer, run.model
        runner = trainer.run_steps
        random_states = [generator.state for generator in (getattr(runner, "seed_generator", None),
                                                          getattr(model, "seed_generator", None))
                         if generator is not None]
        variables = trainer._state_variables() + random_states  # noqa: SLF001 (the Trainer's own save list)
        saved = [np.array(variable.numpy()) for variable in variables]
        runner(1)
        if trainer.preview is not None:
            trainer.preview()
        for probe, _ in trainer._probes.values():  # noqa: SLF001
            probe()
        for variable, value in zip(variables, saved):
            variable.assign(value)

    def rpc_prepare(self, config: dict, options: dict | None = None) -> bool:
        """Start building (and tracing) a run for `config` in the background; returns at once."""
        wanted = GANConfig.from_dict(config)
        merged = {**DEFAULT_OPTIONS, **(options or {})}

        def work():
            try:
                result = self._build(wanted, merged, trace=True)
            except Exception as exc:  # reported when the run is asked for, never lost
                result = exc
            self._prepared = (wanted, merged, result)

        self._prepare_thread = threading.Thread(target=work, daemon=True, name="prepare-run")
        self._prepare_thread.start()
        return True

    def rpc_ready(self) -> bool:
        return self._prepare_thread is None or not self._prepare_thread.is_alive()

    def rpc_create(self, config: dict, options: dict | None = None, resume: bool = False,
                   dataset: tuple | None = None, initial: dict | None = None) -> dict:
        """Make this worker's run (reusing the prepared one when the recipe matches); returns its notes.

        `dataset`: (images uint8 or float32 (N, 28, 28), labels int (N,) or None) to train on instead of loading
        `config.dataset`. `initial`: {"weights": {network: arrays}, "step": int, "history": {name: values}} to
        continue from (a bundle); ignored when `resume` finds a recovery snapshot, which is newer.
        """
        if self.run is not None:
            raise RuntimeError("this worker already holds a run; the engine gives each run its own worker")
        wanted = GANConfig.from_dict(config)
        merged = {**DEFAULT_OPTIONS, **(options or {})}
        if self._prepare_thread is not None:
            self._prepare_thread.join()
        prepared, self._prepared = self._prepared, None
        reused = False
        if (prepared is not None and not isinstance(prepared[2], Exception) and _same_recipe(prepared[0], wanted)
                and _build_options(prepared[1]) == _build_options(merged) and dataset is None and initial is None):
            run, quality_note = prepared[2]
            reused = True
            if (prepared[0].g_learning_rate, prepared[0].d_learning_rate) != (wanted.g_learning_rate,
                                                                              wanted.d_learning_rate):
                run.model.set_learning_rates(wanted.g_learning_rate, wanted.d_learning_rate)
                run.config = wanted
        else:
            run, quality_note = self._build(wanted, merged, trace=False, dataset_arrays=dataset)
        self.run, self.config, self.options, self.quality_note = run, wanted, merged, quality_note
        self.notes = list(run.dataset.notes)
        recovery = self._recovery_folder()
        if recovery is not None:
            self.timeline.spill_dir = recovery / "timeline"
        if resume:
            self._restore_recovery()
        elif initial is not None:
            self._load_initial(initial)
        run.trainer.add_callback("on_chunk_end", self._record_timeline)
        run.trainer.add_callback("on_chunk_end", self._maybe_save_recovery)
        run.trainer.add_callback("on_status", self._on_status)
        return {"notes": self.notes, "quality_note": quality_note, "reused_spare": reused, "pid": os.getpid(),
                "step": run.trainer.snapshot().step,
                "quality_every": int(merged["quality_every"] or 0), "quality_n": int(merged["quality_n"])}

    def _load_initial(self, initial: dict) -> None:
        """Set a bundle's weights, step and curves on the new run (before it trains)."""
        networks = self.run.model.weight_networks()
        unknown = set(initial.get("weights", {})) - set(networks)
        if unknown:
            raise ValueError(f"the bundle holds {', '.join(sorted(unknown))}, which a {self.config.model} model does "
                             f"not have")
        for stem, arrays in initial.get("weights", {}).items():
            networks[stem].set_weights([np.asarray(a) for a in arrays])
        step = int(initial.get("step", 0))
        trainer = self.run.trainer
        with trainer._lock:  # noqa: SLF001 (a new, idle trainer: nothing else reads it yet)
            trainer._step = step  # noqa: SLF001
        history = {name: np.asarray(values, np.float64) for name, values in (initial.get("history") or {}).items()}
        if len(history.get("step", ())):
            trainer.restore_history(history)
        self.notes.append(f"Continued from the bundle's weights at step {step:,}; the optimizer's moments start "
                          f"afresh.")

    def _record_timeline(self, snapshot) -> None:
        """On the trainer thread at each chunk end: the grid, and the weights when their interval has passed."""
        if snapshot.samples is not None:
            self.timeline.add_frame(snapshot.step, to_uint8(snapshot.samples))
        if self.timeline.wants_weights(snapshot.step):
            self.timeline.add_weights(snapshot.step, _picture_weights(self.run.model, self.config))

    # ---- control -------------------------------------------------------------------------------
    def _need_run(self):
        if self.run is None:
            raise RuntimeError("no run in this worker yet")
        return self.run

    def rpc_start(self) -> None:
        self._need_run().trainer.start()

    def rpc_pause(self) -> None:
        self._need_run().trainer.pause()

    def rpc_step(self, chunks: int = 1) -> None:
        self._need_run().trainer.step(int(chunks))

    def rpc_set_learning_rates(self, g_learning_rate: float, d_learning_rate: float) -> None:
        run = self._need_run()
        run.set_learning_rates(float(g_learning_rate), float(d_learning_rate))
        run.config = run.config.replace(g_learning_rate=float(g_learning_rate), d_learning_rate=float(d_learning_rate))

    def rpc_wait_for_step(self, step: int, timeout: float = 30.0) -> bool:
        return self._need_run().trainer.wait_for_step(int(step), float(timeout))

    # ---- answers -------------------------------------------------------------------------------
    def rpc_snapshot(self, known: Known | None = None) -> RunSnapshot:
        """What the page lacks, given what it `known`s it has (see gan_core.messages)."""
        run = self._need_run()
        known = known or Known()
        trainer = run.trainer
        # The Trainer's lock guards its history lists; reading the tail under it avoids copying everything.
        with trainer._lock:  # noqa: SLF001
            history = trainer._history  # noqa: SLF001
            count = len(history["step"])
            reset = not (0 < known.history_count <= count
                         and history["step"][known.history_count - 1] == known.history_last_step)
            if known.history_count == 0:
                reset = True
            start = 0 if reset else known.history_count
            delta = {name: np.asarray(values[start:], np.float64) for name, values in history.items()}
            samples = trainer._samples  # noqa: SLF001
            samples_step = trainer._samples_step  # noqa: SLF001
            chunks = trainer._chunks  # noqa: SLF001
            extras = dict(trainer._extras) if chunks != known.extras_chunk else {}  # noqa: SLF001
        if reset and count > 20000:  # a long run's full history goes over thinned; new points come whole after
            from gan_core.history import downsample

            steps = delta["step"]
            index = downsample(np.arange(len(steps)), np.arange(len(steps)), max_points=20000)[0]
            delta = {name: values[index] for name, values in delta.items()}
        status = _status(trainer)
        quality = shares = None
        quality_error = ""
        live = run.live_quality
        if live is not None:
            quality_history = live.history()
            if len(quality_history["step"]) != known.quality_count:
                quality, shares = quality_history, live.latest_shares
            quality_error = live.error
        return RunSnapshot(
            status=status["status"], step=status["step"], elapsed_s=status["elapsed_s"],
            steps_per_second=status["steps_per_second"], chunks=chunks, busy=status["busy"],
            message=status["message"], total_steps=trainer.total_steps,
            history=delta, history_reset=reset, history_count=count,
            samples=None if samples is None or samples_step == known.samples_step else to_uint8(samples),
            samples_step=samples_step, extras=extras, extras_chunk=chunks,
            quality=quality, quality_shares=shares, quality_error=quality_error,
            **self._timeline_delta(known))

    def _timeline_delta(self, known: Known) -> dict:
        steps, frames = self.timeline.frames_after(known.timeline_last_step)
        weight_steps = self.timeline.weight_steps()
        changed = (weight_steps[-1] if weight_steps else -1) != known.timeline_weights_last
        return {"timeline_steps": steps if frames is not None else None, "timeline_frames": frames,
                "timeline_weight_steps": tuple(weight_steps) if changed else None}

    def rpc_timeline_weights(self, step: int) -> dict:
        """The kept weights nearest to `step`: {"config", "step", "weights": {network: arrays}}."""
        self._need_run()
        kept, weights = self.timeline.weights_near(int(step))
        return {"config": self.run.config.to_dict(), "step": kept, "weights": weights}

    def rpc_bundle(self) -> bytes:
        """The run as a model bundle (.zip bytes): config, every network's weights, step, curves, the grid."""
        from gan_core.bundle import bundle_bytes_from_arrays

        copy = self.rpc_weights()
        trainer = self._need_run().trainer
        snapshot = trainer.snapshot()
        samples_png = grid_png(snapshot.samples, columns=8) if snapshot.samples is not None else None
        return bundle_bytes_from_arrays(GANConfig.from_dict(copy["config"]), copy["weights"], {"step": copy["step"]},
                                        snapshot.history, samples_png)

    def rpc_weights(self) -> dict:
        """A copy of every network's weights, read between two traced calls (each variable whole)."""
        run = self._need_run()
        return {"config": run.config.to_dict(), "step": _status(run.trainer)["step"],
                "weights": {stem: [np.array(w) for w in network.get_weights()]
                            for stem, network in run.model.weight_networks().items()}}

    def rpc_describe(self) -> dict:
        from gan_core.networks import describe

        run = self._need_run()
        return {stem: describe(network) for stem, network in run.model.weight_networks().items()}

    # ---- recovery ------------------------------------------------------------------------------
    def _recovery_folder(self) -> Path | None:
        folder = self.options.get("recovery_dir")
        return Path(folder) if folder else None

    def _maybe_save_recovery(self, snapshot) -> None:
        if time.monotonic() - self._last_recovery >= float(self.options["recovery_every_s"]):
            self.rpc_save_recovery()

    def _on_status(self, status: str) -> None:
        # Called under the trainer's lock, from whichever thread changed the status: save from a thread of
        # its own once the chunk in flight has ended, so nothing waits on the disk.
        if status in ("paused", "finished", "diverged") and self._recovery_folder() is not None:
            threading.Thread(target=self._save_when_idle, daemon=True, name="save-recovery").start()

    def _save_when_idle(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.run is not None and _status(self.run.trainer)["busy"] and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            self.rpc_save_recovery()
        except Exception:  # a failed snapshot only loses the ability to resume from it, never the run
            pass

    def rpc_save_recovery(self) -> str:
        folder = self._recovery_folder()
        if folder is None or self.run is None:
            return ""
        from gan_core import checkpoints

        with self._recovery_lock:
            run = self.run
            status = _status(run.trainer)
            checkpoints.save_weights_folder(folder / "weights", run.model, run.config, {"step": status["step"]})
            checkpoints.write_history_csv(folder / "history.csv", run.trainer.snapshot().history)
            self._last_recovery = time.monotonic()
        return str(folder)

    def _restore_recovery(self) -> None:
        from gan_core import checkpoints

        folder = self._recovery_folder()
        if folder is None or not (folder / "weights").is_dir():
            raise RuntimeError("there is no saved snapshot of this run to resume from")
        weights = folder / "weights"
        for stem, network in self.run.model.weight_networks().items():
            file = weights / f"{stem}.weights.h5"
            if file.is_file():
                network.load_weights(file)
        step = int(checkpoints.read_state(weights).get("step", 0))
        trainer = self.run.trainer
        with trainer._lock:  # noqa: SLF001 (a new, idle trainer: nothing else reads it yet)
            trainer._step = step  # noqa: SLF001
        trainer.restore_history(checkpoints.read_history_csv(folder / "history.csv"))
        self.notes.append(f"Continued from the snapshot saved at step {step:,}; the optimizer's moments "
                          f"start afresh.")

    def close(self) -> None:
        if self.run is not None:
            self.run.trainer.stop(timeout=2.0)
            if self.run.live_quality is not None:
                self.run.live_quality.stop()


def _given_dataset(config: GANConfig, arrays: tuple):
    """The (images, labels) the page sent, as a Dataset named as the config says (e.g. 'upload:<sha256>')."""
    from gan_core.data import Dataset, DatasetError

    images, labels = arrays
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise DatasetError(f"{config.dataset}: expected images shaped (N, 28, 28), got {images.shape}")
    images = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else np.clip(images.astype(np.float32), 0, 1)
    if labels is not None:
        labels = np.asarray(labels, np.int64)
        if labels.shape != (len(images),):
            raise DatasetError(f"{config.dataset}: {len(labels)} labels for {len(images)} images")
    return Dataset(config.dataset, images, labels, [])


def _picture_weights(model, config: GANConfig) -> dict[str, list[np.ndarray]]:
    """The networks a page needs to draw (and judge) with: the sampler and D, or encoder and decoder."""
    networks = model.weight_networks()
    if config.is_adversarial:
        sampler = "generator_ema" if "generator_ema" in networks else "generator"
        wanted = (sampler, "discriminator")
    else:
        wanted = ("encoder", "decoder")
    return {stem: [np.array(w) for w in networks[stem].get_weights()] for stem in wanted if stem in networks}


def _status(trainer) -> dict:
    """The trainer's status numbers without copying its history (Trainer.snapshot copies everything)."""
    with trainer._lock:  # noqa: SLF001
        recent_steps = sum(s for s, _ in trainer._recent)  # noqa: SLF001
        recent_time = sum(t for _, t in trainer._recent)  # noqa: SLF001
        return {"status": trainer._status, "step": trainer._step, "elapsed_s": trainer._elapsed_s,  # noqa: SLF001
                "steps_per_second": recent_steps / recent_time if recent_time > 0 else 0.0,
                "message": trainer._message,  # noqa: SLF001
                "busy": trainer._busy or trainer._pending_steps > 0 or trainer._status == "running"}  # noqa: SLF001
