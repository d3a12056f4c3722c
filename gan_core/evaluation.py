"""Judging a generator: its samples against real digits, beside the same metrics for real against real."""

from __future__ import annotations

from typing import Callable

import numpy as np

from gan_core import metrics
from gan_core.data import DatasetError, load_dataset, load_idx_folder

REFERENCE_DATASET = "mnist-sample"  # 5,000 real digits the classifier never trained on
DIGIT_DATASETS = ("mnist-sample", "mnist")
NON_DIGIT_DATASETS = ("fashion_mnist",)
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000  # Binkowski et al.'s default
NEIGHBOURS = 3  # k of the k-NN manifolds, as in Kynkaanniemi et al.
COVERAGE_THRESHOLD = 0.01
MIN_LABEL_AGREEMENT = 0.9  # an idx: folder counts as digits when the classifier agrees with this share of its labels
REAL_SPLIT_SEED = 0  # fixed, so the floor is the same number in every report

Generate = Callable[[np.ndarray], np.ndarray]


def metrics_available(dataset_name: str, judge=None, check_images: int = 2000) -> tuple[bool, str]:
    """Whether the digit classifier's metrics mean anything for a GAN trained on this dataset, and why.

    mnist-sample and mnist are digits. fashion_mnist is not. A user's idx:
    folder counts only when it is labelled and the judge agrees with most of
    its labels (checked on up to `check_images` of them); without a judge it
    cannot be checked and is reported as unavailable.
    """
    for part in (p.strip() for p in dataset_name.split("+")):
        if part in DIGIT_DATASETS:
            continue
        if part in NON_DIGIT_DATASETS:
            return False, (f"{part} is not handwritten digits: the judge is a digit classifier, so its features "
                           f"and labels say nothing about these images; no FID/KID/IS/coverage is reported.")
        if not part.startswith(("idx:", "data:")):  # data:NAME: a folder the operator offers (IDX or pictures)
            return False, f"{part}: unknown dataset; the metrics are defined for MNIST digits only."
        if judge is None:
            return False, f"{part}: a user folder; without the classifier there is no way to check it holds digits."
        try:
            folder = load_idx_folder(part[4:]) if part.startswith("idx:") else load_dataset(part)
        except DatasetError as exc:
            return False, f"cannot check {part}: {exc}"
        if folder.labels is None:
            return False, f"{part}: has no labels file, so nothing shows it holds digits; add its labels to judge it."
        pick = np.random.default_rng(0).permutation(len(folder))[:check_images]
        agreement = float((judge.predict_labels(folder.images[pick]) == folder.labels[pick]).mean())
        if agreement < MIN_LABEL_AGREEMENT:
            return False, (f"{part}: the digit classifier agrees with only {agreement:.0%} of its labels; "
                           f"these are not MNIST-like digits, so the digit metrics would be meaningless.")
    return True, f"{dataset_name}: handwritten digits, judged by the digit classifier."


def unavailable_report(reason: str) -> dict:
    return {"available": False, "reason": reason, "generated": None, "real_vs_real": None,
            "fid_floor": None, "fid_matched": None, "fid_ratio": None}


def compare(fake_features: np.ndarray, fake_probabilities: np.ndarray, real_features: np.ndarray,
            seed: int = 0) -> dict:
    """Every metric of one set of samples against one real set: a row of the report."""
    rng = np.random.default_rng(seed)
    kid_size = min(KID_SUBSET_SIZE, min(len(fake_features), len(real_features)) // 2)
    kid, kid_error = metrics.kernel_inception_distance(fake_features, real_features, KID_SUBSETS, kid_size, seed)
    score, score_std = metrics.inception_score(fake_probabilities, seed=seed)
    shares = metrics.class_histogram(fake_probabilities.argmax(axis=1))
    # Manifold radii shrink as a set grows: precision/recall on equal-size random subsets.
    pr_size = min(len(fake_features), len(real_features))
    precision, recall = metrics.precision_recall(
        real_features[rng.choice(len(real_features), pr_size, replace=False)],
        fake_features[rng.choice(len(fake_features), pr_size, replace=False)], k=NEIGHBOURS)
    return {"n_fake": len(fake_features), "n_real": len(real_features),
            "fid": metrics.frechet_distance(fake_features, real_features),
            "kid": kid, "kid_std_error": kid_error, "kid_subset_size": kid_size,
            "inception_score": score, "inception_score_std": score_std,
            "class_shares": [round(float(s), 4) for s in shares],
            "classes_covered": metrics.classes_covered(shares, COVERAGE_THRESHOLD),
            "kl_to_uniform": metrics.kl_to_uniform(shares),
            "precision": precision, "recall": recall, "pr_samples": pr_size}


def evaluate_images(fake_images: np.ndarray, real_images: np.ndarray, judge, seed: int = 0) -> dict:
    """Samples (N, 28, 28) in [0, 1] against real digits, and the real-vs-real floor.

    The floor compares two disjoint halves of the real digits. FID is biased
    upward for small sets, so `fid_ratio` divides an FID taken at the floor's
    sizes (as many fakes as one half, against the other half) by the floor:
    1 means as close to the real digits as real digits are to each other.
    """
    fake_images = np.asarray(fake_images, np.float32)
    real_images = np.asarray(real_images, np.float32)
    if real_images.ndim != 3 or real_images.shape[1:] != (28, 28) or len(real_images) < 8:
        raise ValueError(f"real_images must be (N >= 8, 28, 28); got {real_images.shape}")
    if fake_images.ndim != 3 or fake_images.shape[1:] != (28, 28):
        return unavailable_report(f"generated images are {fake_images.shape[1:]}; the digit classifier needs 28x28.")
    if len(fake_images) < 4:
        raise ValueError(f"need at least 4 generated images; got {len(fake_images)}")
    fake_features, fake_probabilities = judge.features_and_probabilities(fake_images)
    real_features, real_probabilities = judge.features_and_probabilities(real_images)

    order = np.random.default_rng(REAL_SPLIT_SEED).permutation(len(real_images))
    half_a, half_b = order[: len(order) // 2], order[len(order) // 2:]
    generated = compare(fake_features, fake_probabilities, real_features, seed)
    floor = compare(real_features[half_a], real_probabilities[half_a], real_features[half_b], seed)
    fid_matched = metrics.frechet_distance(fake_features[: len(half_a)], real_features[half_b])
    return {"available": True, "reason": "judged by the digit classifier's features and labels",
            "generated": generated, "real_vs_real": floor, "fid_floor": floor["fid"],
            "fid_matched": fid_matched, "fid_ratio": fid_matched / floor["fid"] if floor["fid"] > 0 else None}


def generate_samples(generate: Generate, latent_dim: int, n: int, seed: int = 0, batch_size: int = 1000) -> np.ndarray:
    from gan_core.latent import sample_z

    z = sample_z(n, latent_dim, seed)
    return np.concatenate([generate(z[i:i + batch_size]) for i in range(0, n, batch_size)]).astype(np.float32)


def evaluate_generator(generate: Generate, latent_dim: int, judge, real_images: np.ndarray, n: int = 10000,
                       seed: int = 0, dataset: str | None = None) -> dict:
    """Draw n samples (z seeded by `seed`, 1,000 per call) and evaluate them with evaluate_images.

    Give `dataset`, the name the generator was trained on, to get an
    unavailable report instead of numbers when the digit metrics do not apply.
    """
    reason = None
    if dataset is not None:
        available, reason = metrics_available(dataset, judge)
        if not available:
            return {**unavailable_report(reason), "n": n, "seed": seed}
    report = evaluate_images(generate_samples(generate, latent_dim, n, seed), real_images, judge)
    if reason is not None and report["available"]:
        report["reason"] = reason
    return {**report, "n": n, "seed": seed}


TABLE_ROWS = (
    ("FID (lower is better)", lambda r: f"{r['fid']:.3f}"),
    ("KID", lambda r: f"{r['kid']:.3f} +- {r['kid_std_error']:.3f}"),
    ("Inception score (max 10)", lambda r: f"{r['inception_score']:.3f} +- {r['inception_score_std']:.3f}"),
    (f"classes covered (>= {COVERAGE_THRESHOLD:.0%})", lambda r: f"{r['classes_covered']}"),
    ("KL to uniform (nats)", lambda r: f"{r['kl_to_uniform']:.4f}"),
    (f"precision (k={NEIGHBOURS})", lambda r: f"{r['precision']:.3f}"),
    (f"recall (k={NEIGHBOURS})", lambda r: f"{r['recall']:.3f}"),
    ("samples vs real", lambda r: f"{r['n_fake']} vs {r['n_real']}"),
)


def format_table(report: dict) -> str:
    """The report as a plain-text table: generated samples beside the real-vs-real floor."""
    if not report["available"]:
        return f"metrics unavailable: {report['reason']}"
    generated, floor = report["generated"], report["real_vs_real"]
    lines = [f"{'metric':<28}{'generated':>22}{'real vs real':>22}"]
    lines += [f"{name:<28}{cell(generated):>22}{cell(floor):>22}" for name, cell in TABLE_ROWS]
    lines.append("class shares (0-9)          " + " ".join(f"{s:.3f}" for s in generated["class_shares"]))
    ratio = report["fid_ratio"]
    lines.append(f"FID at the floor's sizes {report['fid_matched']:.3f} / floor {report['fid_floor']:.3f} = "
                 + (f"{ratio:.2f}x the real-vs-real FID" if ratio is not None else "n/a"))
    return "\n".join(lines)
