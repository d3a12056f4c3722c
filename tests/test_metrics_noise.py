"""Metrics that cannot praise noise: precision and the class count count only samples that read as digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gan_core import metrics
from gan_core.alerts import check_alerts
from gan_core.classifier import DigitJudge
from gan_core.data import load_dataset
from gan_core.evaluation import evaluate_images

ROOT = Path(__file__).resolve().parents[1]
N = 500


@pytest.fixture(scope="module")
def judge() -> DigitJudge:
    return DigitJudge.load(ROOT / "pretrained" / "classifier")


@pytest.fixture(scope="module")
def real():
    dataset = load_dataset("mnist-sample")
    return dataset.images[np.random.default_rng(1).permutation(len(dataset))]


def _speckle() -> np.ndarray:
    """The issue's grid: one speckle pattern drawn N times (the classifier reads it as an 8 at 99%)."""
    return np.repeat(np.random.default_rng(0).uniform(0, 1, (1, 28, 28)) > 0.5, N, axis=0).astype(np.float32)


FAKES = {
    "pure noise": lambda: np.random.default_rng(2).uniform(0, 1, (N, 28, 28)).astype(np.float32),
    "one speckle repeated": _speckle,
    "a constant grey image": lambda: np.full((N, 28, 28), 0.5, np.float32),
    "a blank image": lambda: np.zeros((N, 28, 28), np.float32),
}


@pytest.mark.parametrize("name", list(FAKES))
def test_noise_and_constant_images_are_not_digits(name, judge, real):
    report = evaluate_images(FAKES[name](), real[:2 * N], judge)["generated"]
    assert report["classes_covered"] == 0 and report["digit_share"] < 0.01
    assert report["precision"] < 0.05


def test_real_digits_still_count(judge, real):
    report = evaluate_images(real[:N], real[N:3 * N], judge)
    assert report["generated"]["classes_covered"] == 10 and report["generated"]["digit_share"] > 0.9
    assert report["generated"]["precision"] > 0.6


def test_speckle_that_the_classifier_is_sure_of_is_refused_by_its_shape(judge):
    speckle = _speckle()
    _, probabilities = judge.features_and_probabilities(speckle)
    assert probabilities.max(axis=1).min() > metrics.CONFIDENT  # confidence alone would have counted it
    assert not metrics.digit_like(speckle, probabilities).any()


def test_class_shares_are_over_all_samples():
    probabilities = np.eye(10)[[8, 8, 8, 1] + [3] * 96]
    counted = np.array([True] * 3 + [False] * 97)
    shares = metrics.digit_class_shares(probabilities, counted)
    assert shares[8] == pytest.approx(0.03) and shares.sum() == pytest.approx(0.03)
    assert metrics.classes_covered(shares) == 1
    assert np.isnan(metrics.kl_to_uniform(np.zeros(10)))


def test_noise_raises_no_digits_not_a_collapse_that_names_classes():
    quality = {"step": np.array([4000.0, 6000.0]), "classes_covered": np.array([0.0, 0.0]),
               "kl_to_uniform": np.array([np.nan, np.nan]), "digit_share": np.array([0.0, 0.001])}
    alerts = check_alerts({}, quality)
    assert [a.kind for a in alerts] == ["no_digits"]
    assert "of 10 digit classes" not in alerts[0].message and "6,000" in alerts[0].message


def test_an_upload_is_named_for_what_it_is_not_by_its_internal_id():
    from gan_core.evaluation import metrics_available

    available, reason = metrics_available("upload:d23d0a92397a")
    assert not available and "upload:" not in reason and "d23d0a92397a" not in reason and "uploaded" in reason
