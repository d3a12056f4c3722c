"""Live quality off the training thread, the discriminator view, and the alerts."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from gan_core.alerts import check_alerts
from gan_core.classifier import DigitJudge
from gan_core.config import GANConfig
from gan_core.data import Dataset, load_dataset
from gan_core.lab import create_run


@pytest.fixture(scope="module")
def real():
    return load_dataset("mnist-sample")


@pytest.fixture(scope="module")
def judge():
    return DigitJudge.load("pretrained/classifier")


class _ThreadRecordingJudge:
    """The judge, noting which thread asks it to score generated digits."""

    def __init__(self, judge):
        self.judge, self.threads = judge, []

    def features(self, images):
        return self.judge.features(images)

    def features_and_probabilities(self, images):
        self.threads.append(threading.current_thread().name)
        return self.judge.features_and_probabilities(images)


def test_live_quality_scores_in_its_own_thread(real, judge):
    config = GANConfig(hidden_units=16, batch_size=32, steps_per_call=5)
    run = create_run(config, Dataset("real", real.images[:500]), chunk_steps=10)
    recording = _ThreadRecordingJudge(judge)
    live = run.attach_live_quality(recording, real.images[:1200], every_steps=20, n=200)
    run.trainer.run(40)
    trainer_thread = threading.current_thread().name  # trainer.run trains on the calling thread
    live.wait_idle()
    assert recording.threads and set(recording.threads) == {"live-quality"} != {trainer_thread}
    history = live.history()
    run.stop()
    assert live.error == ""
    assert len(history["step"]) >= 1 and all(step % 20 == 0 for step in history["step"])  # on the K-step grid
    assert np.all(history["fid"] > history["fid_floor"])  # an untrained generator is far from real digits
    assert np.all((history["precision"] >= 0) & (history["precision"] <= 1))
    # an untrained generator draws noise: no sample counts as a digit, so it covers no class (metrics.digit_like)
    assert history["classes_covered"][-1] == 0 and history["digit_share"][-1] < 0.05


class _CountingJudge(_ThreadRecordingJudge):
    """The recording judge, also counting the images it turns into features for the reference statistics."""

    def __init__(self, judge):
        super().__init__(judge)
        self.reference_images = 0

    def features(self, images):
        self.reference_images += len(images)
        return super().features(images)


def test_warm_prepares_the_reference_statistics_before_the_first_scoring(real, judge):
    config = GANConfig(hidden_units=16, batch_size=32, steps_per_call=5)
    run = create_run(config, Dataset("real", real.images[:500]), chunk_steps=10)
    counting = _CountingJudge(judge)
    live = run.attach_live_quality(counting, real.images[:1200], every_steps=20, n=200)
    time.sleep(0.2)
    assert not live.ready and counting.reference_images == 0  # unasked, the scorer waits for its first weights
    live.warm()
    deadline = time.monotonic() + 60
    while not live.ready and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live.ready and counting.reference_images == 1200  # prepared...
    assert counting.threads == ["live-quality"] and len(live.history()["step"]) == 0  # ...rehearsed, nothing scored
    run.trainer.run(20)
    live.wait_idle()
    history = live.history()
    run.stop()
    assert list(history["step"]) == [20] and live.error == ""
    assert counting.reference_images == 1200  # the scoring used the prepared statistics, not a second pass


def test_a_warmed_scorer_traces_the_classifier_before_the_first_scoring(real):
    """Tracing holds the GIL the trainer needs: a warm spare's scorer traces the classifier's call in its idle time,
    so a run's first scoring traces nothing."""
    judge = DigitJudge.load("pretrained/classifier")  # its own traced functions, untouched by other tests
    config = GANConfig(hidden_units=16, batch_size=32, steps_per_call=5)
    run = create_run(config, Dataset("real", real.images[:500]), chunk_steps=10)
    live = run.attach_live_quality(judge, real.images[:1200], every_steps=20, n=200)
    live.warm()
    deadline = time.monotonic() + 60
    while not live.ready and time.monotonic() < deadline:
        time.sleep(0.02)
    traced = judge._both.experimental_get_tracing_count()
    run.trainer.run(20)
    live.wait_idle()
    history = live.history()
    run.stop()
    assert traced == 1 and list(history["step"]) == [20] and live.error == ""
    assert judge._both.experimental_get_tracing_count() == 1  # the scoring reused the rehearsal's trace



def test_live_quality_scores_at_most_once_per_min_interval_and_stays_on_the_grid(real, judge):
    """A scoring costs about a CPU-second; a run that reaches the next multiple of every_steps sooner than
    min_interval_s after the last hand-over skips it and is scored at a later multiple instead."""
    config = GANConfig(hidden_units=16, batch_size=32, steps_per_call=5)
    run = create_run(config, Dataset("real", real.images[:500]), chunk_steps=10)
    live = run.attach_live_quality(judge, real.images[:1200], every_steps=10, n=200, min_interval_s=1.0)
    weights = run.model.sampler.get_weights
    assert live.maybe_submit(10, weights)  # the first due step is always scored
    assert not live.maybe_submit(20, weights)  # due, but 1 s has not passed: skipped
    assert not live.maybe_submit(25, weights)  # not due (the next multiple is 30)
    time.sleep(1.1)
    assert live.maybe_submit(30, weights)  # due, and the interval has passed
    assert not live.maybe_submit(40, weights)
    live.wait_idle(120)
    steps = list(live.history()["step"])
    run.stop()
    assert set(steps) <= {10, 30} and 30 in steps and live.error == ""  # 10 may be replaced by 30 while pending


def test_live_quality_without_a_min_interval_scores_every_multiple(real, judge):
    config = GANConfig(hidden_units=16, batch_size=32, steps_per_call=5)
    run = create_run(config, Dataset("real", real.images[:500]), chunk_steps=10)
    live = run.attach_live_quality(judge, real.images[:1200], every_steps=10, n=200)  # the library's default: 0
    weights = run.model.sampler.get_weights
    assert [live.maybe_submit(step, weights) for step in (10, 15, 20, 30)] == [True, False, True, True]
    live.wait_idle(120)
    run.stop()


def test_the_engine_passes_its_minimum_interval_to_live_quality():
    from gan_core import run_service
    from gan_core.engine.options import RUN_OPTION_DEFAULTS

    assert RUN_OPTION_DEFAULTS["quality_min_interval_s"] >= 5  # the page's runs: at most one scoring per ~10 s
    tiny = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
    service = run_service.RunService()
    options = {"judge_dir": "pretrained/classifier", "quality_every": 100, "quality_n": 200, "chunk_steps": 10,
               "quality_min_interval_s": 7.5}
    service.rpc_create(tiny.to_dict(), options)
    try:
        assert service.run.live_quality.min_interval_s == 7.5
    finally:
        service.close()


def test_reference_statistics_are_kept_on_disk_for_the_next_worker(real, judge, tmp_path, monkeypatch):
    """A second scorer (another worker, same classifier, same reference digits) reads them back instead of
    passing every reference digit through the classifier again; a damaged file is computed afresh."""
    from gan_core import monitor

    monkeypatch.setenv("GAN_LAB_CACHE_DIR", str(tmp_path))
    reference = real.images[:1200]
    first, second, third = (_CountingJudge(judge) for _ in range(3))
    for counting in (first, second, third):
        counting.fingerprint = judge.fingerprint
    assert judge.fingerprint and len(judge.fingerprint) == 64  # DigitJudge.load hashes the weights file
    computed = monitor.reference_statistics(first, reference, 200)
    [path] = tmp_path.glob("reference-*.npz")
    assert first.reference_images == 1200
    kept = monitor.reference_statistics(second, reference, 200)
    assert second.reference_images == 0  # read back, not recomputed
    for a, b in zip(computed, kept):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert monitor.reference_statistics(second, reference[:1000], 200)[2] != computed[2]  # other digits: computed
    assert second.reference_images == 1000
    path.write_bytes(b"not a numpy file")
    again = monitor.reference_statistics(third, reference, 200)
    assert third.reference_images == 1200 and again[2] == computed[2]

def test_discriminator_view_probe_lands_in_snapshot(real):
    config = GANConfig(hidden_units=16, batch_size=32, steps_per_call=5)
    run = create_run(config, Dataset("real", real.images[:500], real.labels[:500]), chunk_steps=10)
    run.attach_discriminator_view(real.images[:500], count=64)
    snapshot = run.trainer.run(10)
    view = snapshot.extras["discriminator_view"]
    assert view["real"].shape == (64,) and view["fake"].shape == (64,)
    assert np.all((view["real"] > 0) & (view["real"] < 1))
    view["real"][:] = -1  # a private copy
    assert run.trainer.snapshot().extras["discriminator_view"]["real"].min() > 0


def _history(d_real, d_fake, g_loss, d_loss=None):
    n = len(d_real)
    return {"step": np.arange(n), "d_real": np.asarray(d_real), "d_fake": np.asarray(d_fake),
            "g_loss": np.asarray(g_loss), "d_loss": np.asarray(d_loss if d_loss is not None else np.ones(n))}


def test_healthy_run_raises_no_alert():
    n = 50
    history = _history(np.full(n, 0.55), np.full(n, 0.45), np.full(n, 0.8), 1.3 + 0.01 * np.sin(np.arange(n)))
    quality = {"step": np.array([1000.0]), "classes_covered": np.array([10.0]), "kl_to_uniform": np.array([0.01])}
    assert check_alerts(history, quality) == []


def test_mode_collapse_alert():
    quality = {"step": np.array([4000.0, 6000.0]), "classes_covered": np.array([10.0, 6.0]),
               "kl_to_uniform": np.array([0.02, 0.6])}
    alerts = check_alerts(_history([0.5] * 30, [0.5] * 30, [1.0] * 30), quality)
    assert [a.kind for a in alerts] == ["mode_collapse"]
    assert "6 of 10" in alerts[0].message and "r1_gamma" in alerts[0].message
    # the same numbers in the first steps, while G still draws noise, are not an alarm
    early = {**quality, "step": np.array([200.0, 400.0])}
    assert check_alerts(_history([0.5] * 30, [0.5] * 30, [1.0] * 30), early) == []


def test_discriminator_overpowering_alert():
    alerts = check_alerts(_history([0.99] * 20, [0.01] * 20, np.linspace(2, 6, 20)))
    assert [a.kind for a in alerts] == ["d_overpowering"]
    # the same scores with a falling generator loss are not an alert, nor are raw critic scores
    assert check_alerts(_history([0.99] * 20, [0.01] * 20, np.linspace(6, 2, 20))) == []
    assert check_alerts(_history([0.99] * 20, [0.01] * 20, np.linspace(2, 6, 20)), scores_are_probabilities=False) == []


def test_oscillation_and_divergence_alerts():
    wild = 1.0 + 0.8 * np.where(np.arange(60) % 2, 1, -1)
    kinds = [a.kind for a in check_alerts(_history([0.5] * 60, [0.5] * 60, [1.0] * 60, wild))]
    assert kinds == ["oscillation"]
    diverged = check_alerts({}, status="diverged", message="Training diverged near step 40.")
    assert diverged[0].kind == "divergence" and "Lower them" in diverged[0].message


def test_features_and_probabilities_match_the_separate_calls(real, judge):
    images = real.images[:50]
    features, probabilities = judge.features_and_probabilities(images)
    np.testing.assert_allclose(features, judge.features(images), atol=1e-5)
    np.testing.assert_allclose(probabilities, judge.probabilities(images), atol=1e-6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
