"""Training alerts: what a run's curves say is going wrong, in one sentence each, with what to try."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLLAPSE_KL = 0.25  # nats from uniform; a generator drawing 8 of 10 classes evenly sits at 0.22
COLLAPSE_CLASSES = 9
COLLAPSE_AFTER_STEPS = 3000  # an untrained generator draws noise the classifier reads as one digit: no alarm then
WINDOW = 20  # recorded points (each is steps_per_call steps)


@dataclass(frozen=True)
class Alert:
    kind: str  # "divergence", "mode_collapse", "d_overpowering", "oscillation"
    severity: str  # "error" or "warning"
    title: str
    message: str


def _recent(history: dict, name: str, window: int = WINDOW) -> np.ndarray:
    values = history.get(name)
    return np.asarray(values[-window:], dtype=np.float64) if values is not None and len(values) else np.zeros(0)


def check_alerts(history: dict, quality: dict | None = None, status: str = "", message: str = "",
                 scores_are_probabilities: bool = True) -> list[Alert]:
    """Alerts for a run, from its loss history and (optionally) its live-quality history."""
    alerts = []
    if status == "diverged":
        alerts.append(Alert("divergence", "error", "Training diverged",
                            f"{message} A loss became NaN or infinite: the learning rates are too high for this "
                            f"recipe. Lower them (e.g. halve both) and resume."))
    if quality is not None and len(quality.get("step", [])) and quality["step"][-1] >= COLLAPSE_AFTER_STEPS:
        covered = np.asarray(quality["classes_covered"], dtype=np.float64)
        kl = np.asarray(quality["kl_to_uniform"], dtype=np.float64)
        dropped = len(covered) > 1 and covered[-1] < np.nanmax(covered[:-1])
        if not covered[-1] >= 1:  # 0 (or NaN): nothing the classifier reads as a digit, so nothing to collapse
            alerts.append(Alert("no_digits", "warning", "No digits yet",
                                f"At step {int(quality['step'][-1]):,} the digit classifier reads none of the "
                                f"samples as a digit: they are noise, blank or smudges. If the sample grid does "
                                f"not improve within a few thousand steps, lower both learning rates (2e-4 is a "
                                f"safe start) and press Reset."))
        elif covered[-1] < COLLAPSE_CLASSES or kl[-1] > COLLAPSE_KL or (dropped and covered[-1] < 10):
            alerts.append(Alert("mode_collapse", "warning", "Mode collapse",
                                f"The generator now draws {int(covered[-1])} of 10 digit classes (KL from uniform "
                                f"{kl[-1]:.2f}): it has found a few digits that fool D and stopped drawing the "
                                f"rest. Try the R1 penalty (r1_gamma 1-10), label smoothing, or a lower "
                                f"generator learning rate."))
    d_real, d_fake, g_loss = _recent(history, "d_real"), _recent(history, "d_fake"), _recent(history, "g_loss")
    if scores_are_probabilities and len(d_real) >= WINDOW // 2:
        half = len(g_loss) // 2
        climbing = g_loss[half:].mean() > g_loss[:half].mean() * 1.05
        if d_real.mean() > 0.9 and d_fake.mean() < 0.1 and climbing:
            alerts.append(Alert("d_overpowering", "warning", "The discriminator is winning",
                                f"D(x) = {d_real[-1]:.2f} and D(G(z)) = {d_fake[-1]:.2f} while the generator's loss "
                                f"climbs: D separates real from fake so well that G gets little useful signal. "
                                f"Lower the discriminator learning rate, add label smoothing or R1."))
    d_loss = _recent(history, "d_loss", 2 * WINDOW)
    if len(d_loss) >= 2 * WINDOW:
        swings = np.abs(np.diff(d_loss))
        level = max(np.abs(d_loss).mean(), 1e-3)
        if swings.mean() / level > 0.25:
            alerts.append(Alert("oscillation", "warning", "Losses oscillate",
                                f"The discriminator loss jumps by {100 * swings.mean() / level:.0f}% of its level "
                                f"between readings: the two networks are chasing each other instead of settling. "
                                f"Lower both learning rates or beta1, or raise r1_gamma."))
    return alerts
