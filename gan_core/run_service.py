"""A training worker's side of the engine: one run per process, its live views, its answers to the page.

The process holds one TrainingRun (config -> data -> model -> Trainer), its discriminator view and its live
quality, exactly as the CLI builds them. The page reaches it only through `rpc_*` methods whose arguments and
answers are plain data (gan_core.messages). Training runs on the Trainer's own thread, so the process's main
thread stays free to answer; a snapshot costs the worker only the points the page has not seen yet.

Warm spare: `rpc_prepare` builds a run in the background and traces its training step (one call, after
which every weight, optimizer slot and random state is put back), and has its live-quality scorer prepare
the reference digits' statistics (several CPU-seconds a run would otherwise pay mid-training, at its first
scoring), so a later `rpc_create` with the same recipe starts training at once. Runs that differ only in
learning rates reuse it too; anything else builds anew in this process, which has TensorFlow imported already.

Recovery: while training, the run saves one consistent snapshot to `options["recovery_dir"]` every
`recovery_every_s` seconds, whenever it pauses and when the engine asks (a session ending): always between two
chunks (on the trainer's thread, or scheduled there), so step, weights, curves and live-quality scores describe
one moment. The curves go to an append-only CSV (only the points since the last save are written); the
weights and scores to a new folder that one rename makes current (gan_core.checkpoints). A worker that dies
(kill -9, out of memory) is replaced by a new one that continues from there (`rpc_create(..., resume=True)`;
optimizer moments restart), its curves where they stopped; one that cannot find the snapshot says so.

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
from gan_core.engine.options import RUN_OPTION_DEFAULTS as DEFAULT_OPTIONS
from gan_core.images import grid_png, to_uint8
from gan_core.messages import Known, RunSnapshot
from gan_core.timeline import TimelineRecorder

LIVE_RATE_FIELDS = ("g_learning_rate", "d_learning_rate")  # changed on a live run without a rebuild
BETWEEN_CHUNKS_TIMEOUT_S = 30.0
SPARE_IDLE_BEFORE_QUALITY_S = 5.0  # a traced spare left alone this long prepares live quality's reference too


class SnapshotMissing(RuntimeError):
    """Resume found no recovery snapshot where the run keeps them; the message says what to do."""


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
        self._history_log = None  # gan_core.checkpoints.HistoryLog once the run has a recovery folder
        self._saved_step = -1
        self._recovery_off = False  # the run was discarded: nothing more is written
        self.judge = None
        self.timeline = TimelineRecorder()

    # ---- building ------------------------------------------------------------------------------
    def _build(self, config: GANConfig, options: dict, trace: bool, dataset_arrays: tuple | None = None):
        from gan_core.data import load_dataset
        from gan_core.lab import create_run

        dataset = load_dataset(config.dataset) if dataset_arrays is None else _given_dataset(config, dataset_arrays)
        run = create_run(config, dataset, chunk_steps=int(options["chunk_steps"]),
                         total_steps=options.get("total_steps"))
        # Train like the CLI: chunks of about chunk_seconds, pictures at most at the page's redraw rate.
        run.trainer.chunk_seconds = float(options.get("chunk_seconds") or 0) or None
        run.trainer.views_every_s = float(options.get("views_every_s") or 0.0)
        if config.is_adversarial:
            run.attach_discriminator_view(dataset.images, count=int(options["view_count"]))
        quality_note = self._attach_quality(run, options)
        if trace:
            self._trace(run)
            if run.live_quality is not None:
                self._warm_quality_when_idle(run)
        return run, quality_note

    def _warm_quality_when_idle(self, run) -> None:
        """A spare: the scorer's reference statistics too, before any Start, but only once the spare has sat idle
        for SPARE_IDLE_BEFORE_QUALITY_S. They cost several CPU-seconds; a Start pressed while the spare is still
        warming must not find them competing with its first chunks (its run then prepares them at its first
        scoring, as a run built on Start does)."""
        def warm_if_still_idle():
            if self.run is None:
                run.live_quality.warm()

        timer = threading.Timer(SPARE_IDLE_BEFORE_QUALITY_S, warm_if_still_idle)
        timer.daemon = True
        timer.start()

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
                                n=min(int(options["quality_n"]), len(real) // 2),
                                min_interval_s=float(options.get("quality_min_interval_s") or 0.0))
        return ""

    @staticmethod
    def _trace(run) -> None:
        """Trace the training step, the preview and the probes now, then undo the step they took."""
        trainer, model = run.trainer, run.model
        runner = trainer.run_steps
        random_states = [generator.state for generator in (getattr(runner, "seed_generator", None),
                                                          getattr(model, "seed_generator", None))
                         if generator is not None]
        variables = trainer.state_variables() + random_states
        saved = [np.array(variable.numpy()) for variable in variables]
        runner(1)
        if trainer.preview is not None:
            trainer.preview()
        for probe in trainer.probe_functions():
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
            from gan_core.checkpoints import HistoryLog

            self.timeline.spill_dir = recovery / "timeline"
            self._history_log = HistoryLog(recovery / "history.csv")
        if resume:
            self._restore_recovery()
        elif initial is not None:
            self._load_initial(initial)
        run.trainer.add_callback("on_chunk_end", self._record_timeline)
        run.trainer.add_callback("on_chunk_end", self._maybe_save_recovery)
        run.trainer.add_callback("on_status", self._on_status)
        return {"notes": self.notes, "quality_note": quality_note, "reused_spare": reused, "pid": os.getpid(),
                "step": run.trainer.status_numbers()["step"],
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
        history = {name: np.asarray(values, np.float64) for name, values in (initial.get("history") or {}).items()}
        self.run.trainer.start_at(step, history if len(history.get("step", ())) else None)
        self.notes.append(f"Continued from the bundle's weights at step {step:,}; the optimizer's moments start "
                          f"afresh.")

    def _record_timeline(self, snapshot) -> None:
        """On the trainer thread at each chunk end: the grid, and the weights when their interval has passed."""
        if snapshot.samples is not None and snapshot.samples_step == snapshot.step:  # a fresh grid this chunk
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
        delta, reset, count = trainer.history_since(known.history_count, known.history_last_step)
        if reset and count > 20000:  # a long run's full history goes over thinned; new points come whole after
            from gan_core.history import downsample

            index = downsample(np.arange(count), np.arange(count), max_points=20000)[0]
            delta = {name: values[index] for name, values in delta.items()}
        numbers = trainer.status_numbers()
        views = trainer.views() if numbers["views_chunk"] != known.extras_chunk else None
        samples = samples_step = None
        extras: dict = {}
        if views is not None:
            samples, samples_step, extras = views["samples"], views["samples_step"], views["extras"]
        else:
            samples_step = known.samples_step
        quality = shares = None
        quality_error = ""
        live = run.live_quality
        if live is not None:
            quality_history = live.history()
            if len(quality_history["step"]) != known.quality_count:
                quality, shares = quality_history, live.latest_shares
            quality_error = live.error
        return RunSnapshot(
            status=numbers["status"], step=numbers["step"], elapsed_s=numbers["elapsed_s"],
            steps_per_second=numbers["steps_per_second"], chunks=numbers["chunks"], busy=numbers["busy"],
            message=numbers["message"], total_steps=trainer.total_steps,
            history=delta, history_reset=reset, history_count=count,
            samples=None if samples is None or samples_step == known.samples_step else to_uint8(samples),
            samples_step=samples_step, extras=extras,
            extras_chunk=views["views_chunk"] if views is not None else known.extras_chunk,
            quality=quality, quality_shares=shares, quality_error=quality_error, saved_step=self._saved_step,
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
        return self.rpc_bundle_with_step()["bundle"]

    def rpc_bundle_with_step(self) -> dict:
        """{"bundle": .zip bytes, "step": the weights' step}: weights, step and curves read between two chunks."""
        from gan_core.bundle import bundle_bytes_from_arrays

        def read():
            trainer = self._need_run().trainer
            copy = self._weights_now()
            history, _, _ = trainer.history_since(0, -1.0)
            return copy, history, trainer.views()["samples"]

        copy, history, samples = self._between_chunks(read)
        samples_png = grid_png(samples, columns=8) if samples is not None else None
        data = bundle_bytes_from_arrays(GANConfig.from_dict(copy["config"]), copy["weights"], {"step": copy["step"]},
                                        history, samples_png)
        return {"bundle": data, "step": copy["step"]}

    def rpc_weights(self) -> dict:
        """A copy of every network's weights and their step, read between two chunks (one moment)."""
        return self._between_chunks(self._weights_now)

    def _weights_now(self) -> dict:
        run = self._need_run()
        return {"config": run.config.to_dict(), "step": run.trainer.status_numbers()["step"],
                "weights": {stem: [np.array(w) for w in network.get_weights()]
                            for stem, network in run.model.weight_networks().items()}}

    def _between_chunks(self, read, timeout: float = BETWEEN_CHUNKS_TIMEOUT_S):
        """`read()` on the trainer's thread between two chunks (or here, when it does not train)."""
        trainer = self._need_run().trainer
        if threading.current_thread().name == "gan-trainer" or not trainer.is_alive:
            return read()
        done = threading.Event()
        answer: dict = {}

        def action():
            try:
                answer["value"] = read()
            except Exception as exc:  # raised again on the asking thread
                answer["error"] = exc
            finally:
                done.set()

        trainer.schedule(action)
        if not done.wait(timeout):
            raise TimeoutError(f"the run did not reach a chunk boundary within {timeout:.0f} s")
        if "error" in answer:
            raise answer["error"]
        return answer["value"]

    def rpc_describe(self) -> dict:
        from gan_core.networks import describe

        run = self._need_run()
        return {stem: describe(network) for stem, network in run.model.weight_networks().items()}

    # ---- recovery ------------------------------------------------------------------------------
    def _recovery_folder(self) -> Path | None:
        folder = self.options.get("recovery_dir")
        return Path(folder) if folder else None

    def _maybe_save_recovery(self, snapshot) -> None:
        # On the trainer's thread at a chunk's end: the moment is consistent by construction. A chunk that ends
        # while paused is a Step's (the status went to "paused" before it ran): save its result too.
        due = time.monotonic() - self._last_recovery >= float(self.options["recovery_every_s"])
        if due or (self.run is not None and self.run.trainer.status == "paused"):
            try:
                self._write_snapshot()
            except Exception:  # a failed snapshot only loses the ability to resume from it, never the run
                pass

    def _on_status(self, status: str) -> None:
        # Called under the trainer's lock, from whichever thread changed the status: save from a thread of
        # its own, scheduled between chunks, so nothing waits on the disk.
        if status in ("paused", "finished", "diverged") and self._recovery_folder() is not None:
            threading.Thread(target=self._save_quietly, daemon=True, name="save-recovery").start()

    def _save_quietly(self) -> None:
        try:
            self.rpc_save_recovery()
        except Exception:  # a failed snapshot only loses the ability to resume from it, never the run
            pass

    def rpc_save_recovery(self) -> str:
        """Save a snapshot now, between two chunks; returns the folder ("" when the run keeps none)."""
        if self._recovery_folder() is None or self.run is None or self._recovery_off:
            return ""
        self._between_chunks(self._write_snapshot)
        return str(self._recovery_folder())

    def rpc_discard_recovery(self) -> None:
        """Reset: stop saving and delete this run's recovery folder on this worker's node."""
        import shutil

        with self._recovery_lock:
            self._recovery_off = True
            folder = self._recovery_folder()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def _write_snapshot(self) -> None:
        """Step, weights, the curves since the last save and the live-quality scores, as one snapshot."""
        from gan_core import checkpoints

        folder = self._recovery_folder()
        with self._recovery_lock:
            if folder is None or self.run is None or self._recovery_off:
                return
            run = self.run
            trainer = run.trainer
            step = trainer.status_numbers()["step"]
            log = self._history_log
            delta, reset, count = trainer.history_since(log.rows, log.last_step)
            rows = log.append(delta, reset, count)
            quality = run.live_quality.history() if run.live_quality is not None else None
            checkpoints.save_recovery_snapshot(folder, run.model, run.config, step, rows, quality)
            self._saved_step = step
            self._last_recovery = time.monotonic()

    def _restore_recovery(self) -> None:
        from gan_core import checkpoints

        folder = self._recovery_folder()
        saved = checkpoints.read_recovery_snapshot(folder) if folder is not None else None
        if saved is None:
            raise SnapshotMissing(
                "No recovery snapshot of this run was found. On a cluster of several machines, set "
                "GAN_LAB_RECOVERY_DIR to a folder every machine shares; otherwise the training process ended "
                "before its first save. Press Reset to start the run again.")
        for stem, network in self.run.model.weight_networks().items():
            file = saved["folder"] / f"{stem}.weights.h5"
            if file.is_file():
                network.load_weights(file)
        step = saved["step"]
        self.run.trainer.start_at(step, saved["history"] or None)
        if saved["quality"] and self.run.live_quality is not None:
            self.run.live_quality.restore(saved["quality"])
        # Rows a kill left past the snapshot are dropped once, here; from now on the log only appends.
        history = saved["history"]
        if len(history.get("step", ())):
            self._history_log.append(history, True, len(history["step"]))
        self._saved_step = step
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
