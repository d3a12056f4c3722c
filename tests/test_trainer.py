"""The Trainer: background chunks, pause/resume/step/stop from another thread, snapshots, divergence."""

from __future__ import annotations

import statistics
import threading
import time

import numpy as np
import pytest

from gan_core.data import Dataset
from gan_core.lab import create_run
from gan_core.training import FIRST_POINT_STEPS, Trainer, downsample, recent_speed


def _run(tiny_config, tiny_images, **kwargs):
    return create_run(tiny_config, Dataset("tiny", tiny_images), chunk_steps=10, **kwargs)


def _wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_pause_resume_stop_from_another_thread(tiny_config, tiny_images):
    run = _run(tiny_config, tiny_images)
    trainer = run.trainer
    chunks_seen = []
    trainer.add_callback("on_chunk_end", lambda snap: chunks_seen.append(threading.current_thread().name))
    trainer.start()
    assert _wait(lambda: trainer.snapshot().step >= 30)
    assert trainer.status == "running"
    trainer.pause()
    assert _wait(lambda: not _advancing(trainer))
    paused_at = trainer.snapshot().step
    time.sleep(0.3)
    assert trainer.snapshot().step == paused_at and trainer.status == "paused"
    trainer.resume()
    assert _wait(lambda: trainer.snapshot().step >= paused_at + 20)
    trainer.stop()
    assert not trainer.is_alive
    assert trainer.status == "stopped"
    assert set(chunks_seen) == {"gan-trainer"}  # callbacks run on the worker, not the caller


def _advancing(trainer) -> bool:
    before = trainer.snapshot().step
    time.sleep(0.15)
    return trainer.snapshot().step != before


def test_step_runs_exactly_one_chunk_then_holds(tiny_config, tiny_images):
    trainer = _run(tiny_config, tiny_images).trainer
    trainer.step()
    assert _wait(lambda: trainer.snapshot().step == 10)
    time.sleep(0.3)
    assert trainer.snapshot().step == 10 and trainer.status == "paused"
    trainer.step(2)
    assert _wait(lambda: trainer.snapshot().step == 30)
    trainer.stop()


def test_finishes_at_total_steps(tiny_config, tiny_images):
    trainer = _run(tiny_config, tiny_images, total_steps=25).trainer
    trainer.start()
    assert _wait(lambda: trainer.status == "finished")
    assert trainer.snapshot().step == 25


def test_snapshot_is_a_private_copy(tiny_config, tiny_images):
    trainer = _run(tiny_config, tiny_images).trainer
    trainer.run(10)
    snapshot = trainer.snapshot()
    snapshot.history["d_loss"][:] = 123.0
    snapshot.samples[:] = -1.0
    fresh = trainer.snapshot()
    assert not np.any(fresh.history["d_loss"] == 123.0)
    assert fresh.samples.min() >= 0.0
    lengths = {len(v) for v in fresh.history.values()}
    assert len(lengths) == 1  # every series has one value per recorded call


def test_snapshots_stay_consistent_while_training(tiny_config, tiny_images):
    trainer = _run(tiny_config, tiny_images).trainer
    trainer.start()
    assert _wait(lambda: trainer.snapshot().step > 0)  # read while it trains, not before the first point
    steps_seen, delta_points = set(), 0
    count, last = 0, -1.0
    deadline = time.monotonic() + 30
    while len(steps_seen) < 10 and time.monotonic() < deadline:
        snapshot = trainer.snapshot()
        assert len(snapshot.history["step"]) and len({len(v) for v in snapshot.history.values()}) == 1
        assert snapshot.history["step"][-1] == snapshot.step  # the counter and the curves describe one moment
        steps_seen.add(snapshot.step)
        delta, reset, total = trainer.history_since(count, last)  # the worker's read: only the new points
        assert not reset or count == 0
        assert len({len(v) for v in delta.values()}) == 1 and total == count + len(delta["step"])
        delta_points += len(delta["step"])
        count, last = total, (delta["step"][-1] if len(delta["step"]) else last)
        time.sleep(0.005)
    trainer.stop()
    assert len(steps_seen) >= 10  # ten different moments were checked, all while training
    assert delta_points == count and trainer.history_length() >= count


def test_start_at_continues_the_curves_and_drops_points_past_the_step(tiny_config, tiny_images):
    trainer = _run(tiny_config, tiny_images).trainer
    history = {"step": np.array([5.0, 10.0, 15.0]), "time": np.array([0.1, 0.2, 0.3]), "d_loss": np.ones(3)}
    trainer.start_at(10, history)  # a snapshot at step 10 whose CSV also holds a torn row at 15
    numbers = trainer.status_numbers()
    assert numbers["step"] == 10 and numbers["elapsed_s"] == pytest.approx(0.2)
    trainer.run(10)
    steps = trainer.snapshot().history["step"]
    assert list(steps[:2]) == [5.0, 10.0] and np.all(np.diff(steps) > 0) and steps[-1] == 20


def test_learning_rate_change_applies_between_chunks(tiny_config, tiny_images):
    run = _run(tiny_config, tiny_images)
    run.trainer.start()
    run.set_learning_rates(5e-4, 5e-5)  # both differ from the defaults (1e-3)
    assert _wait(lambda: abs(float(run.model.g_optimizer.learning_rate) - 5e-4) < 1e-9)
    assert abs(float(run.model.d_optimizer.learning_rate) - 5e-5) < 1e-9
    run.trainer.stop()


def test_divergence_pauses_and_restores_last_good_weights(tiny_config, tiny_images):
    run = _run(tiny_config, tiny_images)
    run.trainer.run(10)
    good = [w.copy() for w in run.model.generator.get_weights()]
    calls = {"n": 0}
    real_run_steps = run.trainer.run_steps

    def poisoned(steps):
        calls["n"] += 1
        logs = real_run_steps(steps)
        weights = run.model.generator.get_weights()
        run.model.generator.set_weights([np.full_like(w, np.nan) for w in weights])
        return {**logs, "g_loss": float("nan")}

    run.trainer.run_steps = poisoned
    run.trainer.start()
    assert _wait(lambda: run.trainer.status == "diverged")
    snapshot = run.trainer.snapshot()
    assert "diverged" in snapshot.message and "learning rate" in snapshot.message
    for restored, expected in zip(run.model.generator.get_weights(), good):
        np.testing.assert_allclose(restored, expected)
    assert snapshot.step == 10 and not _advancing(run.trainer)
    run.trainer.stop()


def test_errors_in_the_worker_surface_in_the_snapshot(tiny_config, tiny_images):
    run = _run(tiny_config, tiny_images)

    def broken(steps):
        raise RuntimeError("boom")

    trainer = Trainer(run.model, broken, chunk_steps=5)
    trainer.start()
    assert _wait(lambda: trainer.status == "error")
    assert "boom" in trainer.snapshot().message


def test_divergence_mid_chunk_rolls_back_step_history_and_message(tiny_config, tiny_images):
    run = _run(tiny_config, tiny_images)  # chunks of 10 steps, calls of 5: two calls a chunk
    run.trainer.run(10)
    good_weights = [w.copy() for w in run.model.generator.get_weights()]
    good_history = run.trainer.snapshot().history
    real_run_steps, calls = run.trainer.run_steps, {"n": 0}

    def poisoned_second_call(steps):
        calls["n"] += 1
        logs = real_run_steps(steps)
        if calls["n"] == 2:  # the first call of the chunk counted its steps: the rollback must undo them
            run.model.generator.set_weights([np.full_like(w, np.nan) for w in run.model.generator.get_weights()])
            return {**logs, "g_loss": float("nan")}
        return logs

    run.trainer.run_steps = poisoned_second_call
    snapshot = run.trainer.run(10)
    assert snapshot.status == "diverged"
    assert snapshot.step == 10
    assert set(snapshot.history) == set(good_history)
    for name, series in good_history.items():
        np.testing.assert_array_equal(snapshot.history[name], series)
    assert "by step 20" in snapshot.message and "(step 10) are restored" in snapshot.message
    for restored, expected in zip(run.model.generator.get_weights(), good_weights):
        np.testing.assert_allclose(restored, expected)
    run.trainer.run_steps = real_run_steps  # resuming continues from the restored step
    assert run.trainer.run(10).step == 20


def test_start_after_a_stop_the_worker_has_not_seen_yet_keeps_training(tiny_config, tiny_images):
    run = _run(tiny_config, tiny_images)
    entered, release = threading.Event(), threading.Event()
    real_run_steps = run.trainer.run_steps

    def held(steps):
        entered.set()
        release.wait(10)
        return real_run_steps(steps)

    trainer = Trainer(run.model, held, chunk_steps=5, steps_per_call=5)
    trainer.start()
    assert entered.wait(30)
    trainer.stop(timeout=0)  # the worker is inside a chunk: it cannot see the stop yet
    trainer.start()  # Resume pressed at once
    release.set()
    assert _wait(lambda: trainer.snapshot().step >= 15)
    assert trainer.status == "running"
    trainer.stop()
    assert trainer.status == "stopped" and not trainer.is_alive


def test_start_right_after_the_worker_stopped_starts_a_new_one(tiny_config, tiny_images):
    trainer = _run(tiny_config, tiny_images).trainer
    for _ in range(5):
        trainer.start()
        assert _wait(lambda: trainer.snapshot().step > 0)
        trainer.stop(timeout=0)
        trainer.start()
        before = trainer.snapshot().step
        assert _wait(lambda: trainer.snapshot().step > before + 10), trainer.status
        trainer.stop()
        assert trainer.status == "stopped"


def test_a_failing_scheduled_action_is_named_and_clears_busy(tiny_config, tiny_images):
    trainer = _run(tiny_config, tiny_images).trainer
    trainer.start()
    assert _wait(lambda: trainer.snapshot().step >= 10)

    def broken_action():
        raise ValueError("learning rate must be positive")

    trainer.schedule(broken_action)
    assert _wait(lambda: trainer.status == "error")
    snapshot = trainer.snapshot()
    assert "learning rate must be positive" in snapshot.message
    assert not snapshot.busy  # the page's timer stops polling
    trainer.stop()


def test_downsample_keeps_recent_points_and_caps_length():
    steps = np.arange(10_000, dtype=float)
    values = np.sin(steps)
    small_steps, small_values = downsample(steps, values, max_points=2000)
    assert len(small_steps) <= 2000
    np.testing.assert_array_equal(small_steps[-500:], steps[-500:])
    assert small_steps[0] == 0 and np.all(np.diff(small_steps) > 0)
    np.testing.assert_array_equal(small_values, np.sin(small_steps))
    same_steps, _ = downsample(steps[:100], values[:100])
    assert len(same_steps) == 100


def test_first_chunk_after_start_is_one_call_so_the_first_point_comes_early(tiny_config, tiny_images):
    trainer = _run(tiny_config, tiny_images).trainer
    first_chunk = []
    trainer.add_callback("on_chunk_end", lambda snap: first_chunk.append(snap.step) if not first_chunk else None)
    trainer.start()
    assert _wait(lambda: trainer.snapshot().step >= 25)
    trainer.stop()
    assert first_chunk == [tiny_config.steps_per_call]


class _NoModel:
    """No weights and no optimizers: the Trainer's timing logic on its own, with a fake step."""

    weights: list = []


def _sleeping_steps(seconds_per_step: float):
    def run_steps(n: int) -> dict[str, float]:
        time.sleep(n * seconds_per_step)  # sleeps, so the pace holds on a loaded machine too
        return {"loss": 1.0}

    return run_steps


def _chunk_sizes(seconds_per_step: float, chunk_seconds: float = 0.1, chunks: int = 8) -> list[int]:
    trainer = Trainer(_NoModel(), _sleeping_steps(seconds_per_step), chunk_steps=10, steps_per_call=5,
                      chunk_seconds=chunk_seconds, max_chunk_steps=1000)
    sizes = []
    trainer.add_callback("on_chunk_end", lambda snap: sizes.append(int(snap.history["step"][-1]
                                                                       - snap.history["step"][0]) + 5))
    trainer.start()
    assert _wait(lambda: len(sizes) >= chunks)
    trainer.stop()
    return sizes


def test_timed_chunks_adapt_their_steps_to_the_measured_speed():
    fast, slow = _chunk_sizes(0.001), _chunk_sizes(0.02)
    assert fast[0] == slow[0] == 5  # the first chunk is one call: the first point comes early
    # ~0.1 s of steps each: ~100 steps at 1 ms a step, one call (5 steps) at 20 ms a step
    assert statistics.median(fast[2:]) >= 40 and statistics.median(slow[2:]) <= 10
    assert all(size % 5 == 0 for size in fast + slow)  # whole traced calls


def test_a_live_run_shows_its_first_point_after_a_few_steps_then_keeps_whole_calls():
    calls = []

    def run_steps(n: int) -> dict[str, float]:
        calls.append(n)
        time.sleep(n * 0.002)
        return {"loss": 1.0}

    def points(chunk_seconds):
        trainer = Trainer(_NoModel(), run_steps, chunk_steps=100, steps_per_call=25, chunk_seconds=chunk_seconds)
        calls.clear()
        trainer.start()
        assert _wait(lambda: trainer.snapshot().step >= 100)
        trainer.stop()
        return trainer.snapshot().history["step"][:4].tolist(), calls[:3]

    live_steps, live_calls = points(0.05)  # the engine's worker: timed chunks
    assert live_calls[:2] == [FIRST_POINT_STEPS, 25 - FIRST_POINT_STEPS]  # one call split in two, once
    assert live_steps[:3] == [FIRST_POINT_STEPS, 25, 50]  # and the points stay on multiples of the call
    cli_steps, cli_calls = points(None)  # the command line: every call whole
    assert cli_calls[0] == 25 and cli_steps[:2] == [25, 50]


def test_pictures_are_drawn_at_most_at_the_redraw_rate_and_always_at_a_pause():
    drawn = []
    def preview():
        drawn.append(time.monotonic())
        return np.zeros((4, 28, 28))

    trainer = Trainer(_NoModel(), _sleeping_steps(0.002), preview, chunk_steps=10, steps_per_call=5,
                      chunk_seconds=0.02, views_every_s=0.3)
    chunks = []
    trainer.add_callback("on_chunk_end", lambda snap: chunks.append(snap.step))
    trainer.start()
    assert _wait(lambda: len(chunks) >= 30)
    trainer.pause()
    assert _wait(lambda: not trainer.status_numbers()["busy"])
    numbers, views = trainer.status_numbers(), trainer.views()
    trainer.stop()
    assert len(drawn) < len(chunks) / 3  # far fewer pictures than chunks
    assert min(np.diff(drawn[:-1])) >= 0.25  # while running, at most every views_every_s (the last: the pause)
    assert views["samples_step"] == numbers["step"]  # a paused run's pictures show its step


def test_steps_per_second_is_the_pace_of_the_last_seconds_not_of_the_last_few_calls():
    """A shared machine's busy moment makes a handful of calls slow; the number shown must not jump with it."""
    steady = [(25, 0.02)] * 500  # 1,250 steps/s for 10 s of training (a call is 20 ms on a fast machine)
    assert recent_speed(steady) == pytest.approx(1250)
    hiccup = steady + [(25, 0.1)] * 3  # then three calls five times slower: 0.3 s of a busy moment
    assert recent_speed(hiccup) > 1100  # over the last 8 calls it read 500, under half the pace
    recovered = hiccup + [(25, 0.02)] * 160  # 3.2 s at the steady pace again: the hiccup has left the window
    assert recent_speed(recovered) == pytest.approx(1250)
    assert recent_speed([(5, 0.01)]) == pytest.approx(500)  # less than a window held: all of it
    assert recent_speed([]) == 0.0
    trainer = Trainer(_NoModel(), _sleeping_steps(0.0))  # and the trainer holds enough calls for the window
    trainer._recent.extend(hiccup)
    assert trainer.status_numbers()["steps_per_second"] == pytest.approx(recent_speed(hiccup))
    assert trainer.snapshot().steps_per_second == pytest.approx(recent_speed(hiccup))
