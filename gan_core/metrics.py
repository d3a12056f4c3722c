"""Sample-quality metrics on classifier features and labels: FID, KID, IS, class coverage, precision/recall.

Pure NumPy. Features are the digit judge's 128-d penultimate activations
(gan_core.classifier.DigitJudge.features), not Inception-v3 ones, so the
numbers compare runs of this project with each other and with the
real-vs-real floor, never with FIDs published for other networks.
"""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10


def _as_features(features: np.ndarray, name: str, min_rows: int = 2) -> np.ndarray:
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, features); got shape {array.shape}")
    if array.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} samples; got {array.shape[0]}")
    return array


def _check_same_width(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature widths differ: {a.shape[1]} vs {b.shape[1]}")


# --- Frechet distance (Heusel et al. 2017) ---------------------------------------------------------

def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features (N, d)."""
    array = _as_features(features, "features")
    return array.mean(axis=0), np.cov(array, rowvar=False).reshape(array.shape[1], array.shape[1])


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix; rounding's tiny negative eigenvalues become 0."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance_from_statistics(mean_a: np.ndarray, cov_a: np.ndarray,
                                     mean_b: np.ndarray, cov_b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)).

    S_a S_b is not symmetric, but it is similar to sqrt(S_a) S_b sqrt(S_a),
    which is symmetric PSD: same eigenvalues, so the trace of the square root
    is the sum of the square roots of that matrix's eigenvalues. Two `eigh`
    calls, no complex parts to discard, exact for singular covariances.
    """
    root_a = _psd_sqrt(np.asarray(cov_a, np.float64))
    middle = root_a @ np.asarray(cov_b, np.float64) @ root_a
    trace_of_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)).sum()
    difference = np.asarray(mean_a, np.float64) - np.asarray(mean_b, np.float64)
    distance = difference @ difference + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_of_root
    return float(max(distance, 0.0))  # a squared Wasserstein-2 distance: negative only by rounding


def frechet_distance(feat_a: np.ndarray, feat_b: np.ndarray) -> float:
    """FID between two feature sets (N, d) and (M, d), each summarised by a Gaussian."""
    a, b = _as_features(feat_a, "feat_a"), _as_features(feat_b, "feat_b")
    _check_same_width(a, b)
    return frechet_distance_from_statistics(*feature_statistics(a), *feature_statistics(b))


# --- Kernel distance (Binkowski et al. 2018) -------------------------------------------------------

def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x.y / d + 1)^3, the KID kernel."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased estimate of MMD^2 under the polynomial kernel (diagonals of K_xx, K_yy left out)."""
    m, n = len(x), len(y)
    k_xx, k_yy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * polynomial_kernel(x, y).mean())


def kernel_inception_distance(feat_a: np.ndarray, feat_b: np.ndarray, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: the mean of unbiased MMD^2 over random subsets, and a conservative standard error.

    Each subset draws `subset_size` rows from each set without replacement, as
    in the paper's code. The subsets overlap, so std/sqrt(subsets) would
    understate the error. The mean over many subsets approaches the all-pairs
    estimate, which (Rao-Blackwell) varies no more than a mean over
    B = min(N, M) // subset_size disjoint blocks; with s the spread over the
    subsets that gives Var <= s^2 (1 / (B - 1) + 1 / subsets).
    """
    a, b = _as_features(feat_a, "feat_a"), _as_features(feat_b, "feat_b")
    _check_same_width(a, b)
    if subsets < 2:
        raise ValueError(f"subsets must be at least 2 (got {subsets})")
    blocks = min(len(a), len(b)) // subset_size if subset_size >= 2 else 0
    if blocks < 2:
        raise ValueError(f"subset_size must be between 2 and half the smaller set ({min(len(a), len(b)) // 2}); "
                         f"got {subset_size}")
    rng = np.random.default_rng(seed)
    estimates = np.array([
        unbiased_mmd2(a[rng.choice(len(a), subset_size, replace=False)],
                      b[rng.choice(len(b), subset_size, replace=False)])
        for _ in range(subsets)])
    spread = estimates.std(ddof=1)
    return float(estimates.mean()), float(spread * np.sqrt(1.0 / (blocks - 1) + 1.0 / subsets))


# --- Inception score (Salimans et al. 2016) --------------------------------------------------------

def inception_score(probabilities: np.ndarray, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split; mean and std over splits. 1 (worst) to 10 (ten sure classes).

    Rows are shuffled (seeded) before splitting: a set sorted by class, like
    mnist-sample, would otherwise give one class per split and a score near 1.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probabilities must be 2-D (samples, classes); got shape {probs.shape}")
    if not 1 <= splits <= len(probs):
        raise ValueError(f"splits must be between 1 and the number of samples ({len(probs)}); got {splits}")
    probs = probs[np.random.default_rng(seed).permutation(len(probs))]
    log_probs = np.log(np.clip(probs, 1e-12, None))
    scores = []
    for part, log_part in zip(np.array_split(probs, splits), np.array_split(log_probs, splits)):
        log_marginal = np.log(np.clip(part.mean(axis=0), 1e-12, None))
        scores.append(np.exp((part * (log_part - log_marginal)).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


# --- Which samples count as digits ---------------------------------------------------------------
# A classifier always names some class, and this one names noise "8" with 99% confidence. A sample
# counts as a digit (for precision and the class count) only when the classifier is sure of it AND
# it has the shape of an MNIST digit: ink in the middle, a clean frame, neither blank nor flooded.
# Measured with the shipped models and mnist-sample: real digits have a frame mean <= 0.02 and 9%-29% ink,
# the shipped generators <= 0.05 and 4%-25%, uniform noise 0.5 and 50%; 98% of real digits are read at >= 0.9.
CONFIDENT = 0.9  # the classifier's top probability
FRAME_PIXELS = 2  # the border band checked for ink
MAX_FRAME_INK = 0.1  # mean intensity of that band
INK_RANGE = (0.02, 0.5)  # share of pixels above one half


def digit_like(images: np.ndarray, probabilities: np.ndarray, confident: float = CONFIDENT) -> np.ndarray:
    """Which samples (N, 28, 28) in [0, 1] count as digits: a boolean mask (N,)."""
    x = np.asarray(images, np.float32)
    x = x.reshape(len(x), x.shape[-2], x.shape[-1]) if x.ndim >= 3 else x.reshape(len(x), 28, 28)
    probs = np.asarray(probabilities, np.float64)
    if len(probs) != len(x):
        raise ValueError(f"{len(x)} images but {len(probs)} rows of probabilities")
    band = FRAME_PIXELS
    frame = np.concatenate([x[:, :band].reshape(len(x), -1), x[:, -band:].reshape(len(x), -1),
                            x[:, band:-band, :band].reshape(len(x), -1), x[:, band:-band, -band:].reshape(len(x), -1)],
                           axis=1).mean(axis=1)
    ink = (x > 0.5).mean(axis=(1, 2))
    return (probs.max(axis=1) >= confident) & (frame <= MAX_FRAME_INK) & (ink >= INK_RANGE[0]) & (ink <= INK_RANGE[1])


def digit_class_shares(probabilities: np.ndarray, counted: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Share of ALL samples that are counted digits of each class, shape (num_classes,); sums to the digit share.

    Dividing by every sample (not only the counted ones) keeps noise from covering a class: 3 confident
    "8"s in 1000 speckles are 0.3% of the samples, under the coverage threshold.
    """
    labels = np.asarray(probabilities).argmax(axis=1)
    counted = np.asarray(counted, bool)
    if labels.size == 0:
        raise ValueError("probabilities is empty")
    return np.bincount(labels[counted], minlength=num_classes)[:num_classes] / labels.size


# --- Class coverage --------------------------------------------------------------------------------

def class_histogram(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Share of samples per class, shape (num_classes,), summing to 1."""
    labels = np.asarray(labels).astype(np.int64).ravel()
    if labels.size == 0:
        raise ValueError("labels is empty")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}); got {labels.min()}..{labels.max()}")
    return np.bincount(labels, minlength=num_classes) / labels.size


def classes_covered(shares: np.ndarray, threshold: float = 0.01) -> int:
    """How many classes get at least `threshold` of the samples: 10 for a full generator, 1 for a collapsed one."""
    return int((np.asarray(shares) >= threshold).sum())


def kl_to_uniform(shares: np.ndarray) -> float:
    """KL(shares || uniform) in nats: 0 when balanced, log(10) ~ 2.30 when one class takes everything."""
    p = np.asarray(shares, dtype=np.float64)
    if p.sum() <= 0:
        return float("nan")  # no digits at all: no distribution to compare
    p = p / p.sum()
    present = p > 0
    return float((p[present] * np.log(p[present] * p.size)).sum())


# --- Precision and recall on the k-NN manifold (Kynkaanniemi et al. 2019) --------------------------

def _squared_distances(queries: np.ndarray, points: np.ndarray, points_sq: np.ndarray) -> np.ndarray:
    queries_sq = (queries ** 2).sum(axis=1)
    return np.maximum(queries_sq[:, None] + points_sq[None, :] - 2.0 * queries @ points.T, 0.0)


def knn_radii(features: np.ndarray, k: int = 3, batch_size: int = 1000) -> np.ndarray:
    """Squared distance from each point to its k-th nearest other point, `batch_size` rows at a time."""
    if not 1 <= k < len(features):
        raise ValueError(f"k must be between 1 and the number of samples - 1 ({len(features) - 1}); got {k}")
    points_sq = (features ** 2).sum(axis=1)
    radii = np.empty(len(features))
    for start in range(0, len(features), batch_size):
        distances = _squared_distances(features[start:start + batch_size], features, points_sq)
        radii[start:start + batch_size] = np.partition(distances, k, axis=1)[:, k]  # column 0 is the point itself
    return radii


def share_inside_manifold(queries: np.ndarray, points: np.ndarray, radii: np.ndarray,
                          batch_size: int = 1000) -> float:
    """Share of queries that fall inside at least one ball (point, radius)."""
    points_sq = (points ** 2).sum(axis=1)
    inside = [(_squared_distances(queries[start:start + batch_size], points, points_sq) <= radii[None, :]).any(axis=1)
              for start in range(0, len(queries), batch_size)]
    return float(np.concatenate(inside).mean())


def precision_recall(real_feat: np.ndarray, fake_feat: np.ndarray, k: int = 3,
                     batch_size: int = 1000, fake_counted: np.ndarray | None = None) -> tuple[float, float]:
    """Improved precision and recall.

    Precision: share of fakes inside the real manifold (the union of balls
    around each real point reaching its k-th nearest real neighbour); with
    `fake_counted` (a mask, see digit_like), only counted fakes can be inside,
    so noise that lands near an outlying real digit is not praised.
    Recall: share of reals inside the fake manifold, built the same way.
    Radii shrink as a set grows, so compare sets of equal size.
    """
    real, fake = _as_features(real_feat, "real_feat"), _as_features(fake_feat, "fake_feat")
    _check_same_width(real, fake)
    radii = knn_radii(real, k, batch_size)
    if fake_counted is None:
        precision = share_inside_manifold(fake, real, radii, batch_size)
    else:
        counted = np.asarray(fake_counted, bool)
        if counted.shape != (len(fake),):
            raise ValueError(f"fake_counted must be a mask of {len(fake)} samples; got shape {counted.shape}")
        inside = share_inside_manifold(fake[counted], real, radii, batch_size) if counted.any() else 0.0
        precision = inside * counted.mean()
    recall = share_inside_manifold(real, fake, knn_radii(fake, k, batch_size), batch_size)
    return precision, recall
