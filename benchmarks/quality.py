"""Sample quality of every shipped model, judged by the shipped digit classifier.

For each folder under pretrained/ (gan, cgan, vae, ...): 5,000 samples, the share of each digit
class, classes covered (>= 1% of samples), the smallest share, and the classifier's mean
confidence. For the conditional GAN, also how often the classifier reads the asked-for digit.

    python benchmarks/quality.py [--n 5000] [--models gan,cgan,...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_core.checkpoints import load_model  # noqa: E402
from gan_core.classifier import DigitJudge  # noqa: E402
from gan_core.latent import sample_z  # noqa: E402

MODELS = ("gan", "cgan", "wgan_gp", "dcgan", "vae", "vae2d", "ae")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    judge = DigitJudge.load("pretrained/classifier")
    print(f"{args.n} samples per model, seed {args.seed}; classes judged by pretrained/classifier "
          f"(held-out accuracy {__import__('json').load(open('pretrained/classifier/report.json'))['holdout_accuracy']:.2%})")
    print(f"| {'model':<26} | classes | min share | max share | confidence | label accuracy | shares 0-9 (%) |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        folder = Path("pretrained") / name
        if not folder.is_dir():
            print(f"| {name:<26} | (not trained) | | | | | |")
            continue
        model, config, _ = load_model(folder, need_discriminator=False)
        z = sample_z(args.n, config.latent_dim, args.seed)
        labels = np.arange(args.n) % 10
        images = np.concatenate([model.generate(z[i:i + 1000], labels[i:i + 1000]) for i in range(0, args.n, 1000)])
        probabilities = judge.probabilities(images)
        predicted = probabilities.argmax(1)
        shares = np.bincount(predicted, minlength=10) / args.n
        label_accuracy = f"{np.mean(predicted == labels):.1%}" if config.model == "cgan" else "-"
        print(f"| {config.display_name + ' (' + name + ')':<26} | {int((shares >= 0.01).sum()):>7} | "
              f"{shares.min():>9.1%} | {shares.max():>9.1%} | {probabilities.max(1).mean():>10.2f} | "
              f"{label_accuracy:>14} | {' '.join(f'{100 * s:.0f}' for s in shares)} |")


if __name__ == "__main__":
    main()
