"""Quality metrics: hand-computed cases, behaviour on the 5,000 real digits, and the evaluate command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gan_core import metrics
from gan_core.__main__ import main
from gan_core.classifier import DigitJudge, read_report
from gan_core.data import load_dataset
from gan_core.evaluation import evaluate_generator, evaluate_images, metrics_available

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER = ROOT / "pretrained" / "classifier"


@pytest.fixture(scope="module")
def judge() -> DigitJudge:
    return DigitJudge.load(CLASSIFIER)


@pytest.fixture(scope="module")
def real(judge):
    """The real digits shuffled (mnist-sample is sorted by class), their features, and two disjoint halves."""
    dataset = load_dataset("mnist-sample")
    order = np.random.default_rng(1).permutation(len(dataset))
    images, labels = dataset.images[order], dataset.labels[order]
    features = judge.features(images)
    return {"images": images, "labels": labels, "features": features,
            "a": features[:2500], "b": features[2500:], "images_b": images[2500:]}


def _blur(images: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma) + 1
    taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma ** 2))
    taps /= taps.sum()
    out = images
    for axis in (1, 2):
        padded = np.pad(out, [(0, 0)] + [(radius, radius) if a == axis else (0, 0) for a in (1, 2)])
        out = sum(w * np.take(padded, range(i, i + 28), axis=axis) for i, w in enumerate(taps))
    return out.astype(np.float32)


def _noise(images: np.ndarray, sigma: float) -> np.ndarray:
    noisy = images + sigma * np.random.default_rng(0).standard_normal(images.shape)
    return np.clip(noisy, 0, 1).astype(np.float32)


# --- hand-computed cases ---------------------------------------------------------------------------

def test_frechet_distance_of_1d_gaussians_is_mean_gap_squared_plus_std_gap_squared():
    def sample(mean, std):  # two points whose unbiased mean/std are exactly (mean, std)
        return np.array([[mean - std / math.sqrt(2)], [mean + std / math.sqrt(2)]])

    assert metrics.frechet_distance(sample(1.0, 2.0), sample(4.0, 0.5)) == pytest.approx((1 - 4) ** 2 + (2 - 0.5) ** 2)


def test_frechet_distance_with_non_commuting_covariances_matches_the_2x2_closed_form():
    cov_a, cov_b = np.array([[2.0, 1.0], [1.0, 2.0]]), np.array([[1.0, 0.0], [0.0, 4.0]])
    # For a 2x2 matrix with eigenvalues l1, l2 >= 0: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)).
    trace_root = math.sqrt(np.trace(cov_a @ cov_b) + 2 * math.sqrt(np.linalg.det(cov_a) * np.linalg.det(cov_b)))
    expected = 1.0 + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    got = metrics.frechet_distance_from_statistics(np.zeros(2), cov_a, np.array([1.0, 0.0]), cov_b)
    assert got == pytest.approx(expected, rel=1e-10)


def test_kl_to_uniform_and_coverage_by_hand():
    assert metrics.kl_to_uniform(np.full(10, 0.1)) == pytest.approx(0.0, abs=1e-12)
    assert metrics.kl_to_uniform(np.eye(10)[3]) == pytest.approx(math.log(10))
    assert metrics.kl_to_uniform([0.5, 0.5] + [0.0] * 8) == pytest.approx(math.log(5))
    shares = metrics.class_histogram(np.array([0] * 985 + [1] * 10 + [2] * 5))
    np.testing.assert_allclose(shares, [0.985, 0.01, 0.005] + [0] * 7)
    assert metrics.classes_covered(shares, threshold=0.01) == 2
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        metrics.class_histogram(np.array([0, 10]))


def test_inception_score_bounds_and_order_independence():
    sure_and_balanced = np.eye(10)[np.arange(1000) % 10]
    assert metrics.inception_score(sure_and_balanced, splits=1)[0] == pytest.approx(10.0, rel=1e-6)
    assert metrics.inception_score(np.full((1000, 10), 0.1))[0] == pytest.approx(1.0)
    # Sorted by class, unshuffled splits would each hold one class and score 1; shuffled, each is near 10.
    sorted_by_class = np.eye(10)[np.sort(np.arange(1000) % 10)]
    assert metrics.inception_score(sorted_by_class, splits=10)[0] > 9.0


def test_precision_recall_tiny_case_and_batching():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[0.5], [10.0]])
    # Real balls have radius 1 (k=1): 0.5 is inside, 10 is not. Fake balls have radius 9.5: every real is inside.
    assert metrics.precision_recall(real, fake, k=1) == (0.5, 1.0)
    assert metrics.precision_recall(real, fake, k=1, batch_size=1) == (0.5, 1.0)
    with pytest.raises(ValueError, match="k must be between 1"):
        metrics.precision_recall(real, fake, k=2)  # only 2 fakes: no second neighbour


def test_kid_rejects_subsets_larger_than_half_a_set():
    with pytest.raises(ValueError, match="subset_size must be between 2 and half the smaller set"):
        metrics.kernel_inception_distance(np.zeros((10, 3)), np.zeros((100, 3)), subset_size=6)


# --- the shipped classifier and the real digits ----------------------------------------------------

def test_shipped_classifier_scores_at_least_98_percent_on_held_out_digits(judge, real):
    report = read_report(CLASSIFIER)
    assert report["holdout_dataset"] == "mnist-sample" and report["train_dataset"] != "mnist-sample"
    accuracy = float((judge.predict_labels(real["images"]) == real["labels"]).mean())  # scored now, not read
    assert len(real["labels"]) == 5000 and accuracy >= 0.98
    assert abs(accuracy - report["holdout_accuracy"]) < 0.002  # the committed report describes these weights


def test_fid_of_a_set_against_itself_is_zero_and_halves_are_close(real):
    assert metrics.frechet_distance(real["features"], real["features"]) == pytest.approx(0.0, abs=1e-6)
    assert metrics.frechet_distance(real["a"], real["b"]) < 5.0


@pytest.mark.parametrize("degrade, levels", [(_blur, (0.6, 1.0, 1.6)), (_noise, (0.1, 0.25, 0.5))])
def test_fid_grows_monotonically_with_degradation(real, judge, degrade, levels):
    distances = [metrics.frechet_distance(real["a"], real["b"])]
    distances += [metrics.frechet_distance(real["a"], judge.features(degrade(real["images_b"], level)))
                  for level in levels]
    assert distances == sorted(distances) and distances[-1] > 3 * distances[0], distances


def test_kid_is_unbiased_on_disjoint_real_halves_and_detects_noise(real, judge):
    mean, error = metrics.kernel_inception_distance(real["a"], real["b"], subsets=50, subset_size=500)
    assert abs(mean) <= 3 * error, (mean, error)
    noisy = judge.features(_noise(real["images_b"], 0.25))
    mean, error = metrics.kernel_inception_distance(real["a"], noisy, subsets=50, subset_size=500)
    assert mean > 3 * error, (mean, error)


def test_precision_and_recall_of_real_against_real_are_high(real):
    precision, recall = metrics.precision_recall(real["a"], real["b"], k=3)
    assert precision > 0.7 and recall > 0.7


def test_a_one_class_generator_covers_one_class_with_large_kl(real, judge):
    ones = real["images"][real["labels"] == 1]
    shares = metrics.class_histogram(judge.predict_labels(ones))
    assert metrics.classes_covered(shares) == 1
    assert metrics.kl_to_uniform(shares) > 1.5
    real_shares = metrics.class_histogram(judge.predict_labels(real["images"]))
    assert metrics.classes_covered(real_shares) == 10 and metrics.kl_to_uniform(real_shares) < 0.01
    # Ones look real (precision) but cover little of the real digits (recall).
    precision, recall = metrics.precision_recall(real["b"][: len(ones)], judge.features(ones), k=3)
    assert precision > 0.7 and recall < 0.3


# --- availability and the report -------------------------------------------------------------------

def _write_idx(folder: Path, images: np.ndarray, labels: np.ndarray | None) -> None:
    folder.mkdir()
    pixels = np.round(images * 255).astype(np.uint8)
    header = (2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in pixels.shape)
    (folder / "train-images-idx3-ubyte").write_bytes(header + pixels.tobytes())
    if labels is not None:
        header = (2049).to_bytes(4, "big") + len(labels).to_bytes(4, "big")
        (folder / "train-labels-idx1-ubyte").write_bytes(header + labels.astype(np.uint8).tobytes())


def test_metrics_available_only_for_digits(tmp_path, real, judge):
    ok, reason = metrics_available("mnist-sample")
    assert ok and reason.startswith("mnist-sample: handwritten digits")
    ok, reason = metrics_available("mnist-sample+fashion_mnist", judge)
    assert not ok and "fashion_mnist is not handwritten digits" in reason
    images, labels = real["images"][:300], real["labels"][:300]
    _write_idx(tmp_path / "digits", images, labels)
    _write_idx(tmp_path / "shuffled", images, np.roll(labels, 1))
    _write_idx(tmp_path / "unlabelled", images, None)
    assert metrics_available(f"idx:{tmp_path / 'digits'}", judge)[0]
    assert not metrics_available(f"idx:{tmp_path / 'digits'}")[0]  # no judge: cannot check
    ok, reason = metrics_available(f"idx:{tmp_path / 'shuffled'}", judge)
    assert not ok and "agrees with only" in reason
    ok, reason = metrics_available(f"idx:{tmp_path / 'unlabelled'}", judge)
    assert not ok and "no labels" in reason


def test_unavailable_reports_are_none_with_a_reason(judge, real):
    def never(z):
        raise AssertionError("must not sample when the metrics do not apply")

    report = evaluate_generator(never, 8, judge, real["images"], n=100, dataset="fashion_mnist")
    assert report["available"] is False and report["generated"] is None and report["fid_ratio"] is None
    assert "not handwritten digits" in report["reason"]
    report = evaluate_images(np.zeros((10, 32, 32), np.float32), real["images"], judge)
    assert report["available"] is False and "28x28" in report["reason"]


# --- the evaluate command --------------------------------------------------------------------------

def test_evaluate_usage_errors_exit_2(tmp_path, capsys):
    assert main(["evaluate", "--weights", str(tmp_path / "missing")]) == 2
    assert main(["evaluate", "--weights", str(tmp_path), "--n", "5"]) == 2
    assert main(["evaluate", "--weights", str(tmp_path), "--json", str(tmp_path / "out.txt")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
    assert "--weights" in errors[0] and "--n must be at least" in errors[1] and ".json" in errors[2]


def test_evaluate_a_tiny_run_writes_the_report(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "10", "--checkpoint-every", "10", "--hidden-units", "16",
                 "--latent-dim", "8", "--batch-size", "16", "--steps-per-call", "5"]) == 0
    assert main(["evaluate", "--weights", str(run), "--n", "200", "--classifier", str(tmp_path / "none")]) == 2
    out = tmp_path / "eval.json"
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(run), "--n", "200", "--json", str(out),
                 "--classifier", str(CLASSIFIER)]) == 0
    printed = capsys.readouterr().out
    assert "FID (lower is better)" in printed and "real vs real" in printed
    report = json.loads(out.read_text())
    assert report["available"] is True and report["step"] == 10 and report["n"] == 200
    generated, floor = report["generated"], report["real_vs_real"]
    assert generated["n_fake"] == 200 and generated["n_real"] == 5000 and generated["kid_subset_size"] == 100
    assert floor["n_fake"] == 2500 and floor["n_real"] == 2500
    assert generated["fid"] > floor["fid"] > 0 and report["fid_ratio"] > 1
    # shares of ALL samples that read as digits: an untrained generator's noise counts for none of them
    assert len(generated["class_shares"]) == 10
    assert sum(generated["class_shares"]) == pytest.approx(generated["digit_share"], abs=1e-3)
