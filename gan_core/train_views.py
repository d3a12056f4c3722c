"""Small pure helpers behind the train page's live views: numbers in, plain arrays out."""

from __future__ import annotations

import numpy as np

HISTOGRAM_BINS = 30


def score_histogram(real: np.ndarray, fake: np.ndarray, probabilities: bool = True,
                    bins: int = HISTOGRAM_BINS) -> dict[str, np.ndarray]:
    """Counts of D's outputs on a real and a generated batch over shared bins (GAN Lab's discriminator view).

    Probabilities are binned over [0, 1], so the picture does not rescale as D sharpens; raw critic
    scores over the range both batches span. Non-finite outputs (a diverging D) are left out.
    """
    real = np.asarray(real, np.float64).ravel()
    fake = np.asarray(fake, np.float64).ravel()
    real, fake = real[np.isfinite(real)], fake[np.isfinite(fake)]
    if probabilities:
        low, high = 0.0, 1.0
    else:
        both = np.concatenate([real, fake])
        low, high = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
        if high - low < 1e-6:
            low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    return {"lower": edges[:-1], "upper": edges[1:],
            "real": np.histogram(real, edges)[0], "fake": np.histogram(fake, edges)[0]}
