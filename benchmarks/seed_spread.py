"""FID / floor of shipped models over several sample seeds: how much of a gap between two models is the metric's
own noise. Each (model, seed) is one `python -m gan_core evaluate --n N --seed S` (seed 0 is the table's);
reports go to runs/seed-spread/ (reused when present, so a rerun only adds what is missing).

    .venv/bin/python benchmarks/seed_spread.py [--models gan,wgan_gp,dcgan] [--seeds 0,1,2,3,4] [--n 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="gan,wgan_gp,dcgan")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--out", default="runs/seed-spread")
    args = parser.parse_args()
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for name in args.models.split(","):
        ratios = []
        for seed in seeds:
            report = out / f"{name}_n{args.n}_s{seed}.json"
            if not report.exists():
                subprocess.run([sys.executable, "-m", "gan_core", "evaluate", "--weights", f"pretrained/{name}",
                                "--n", str(args.n), "--seed", str(seed), "--json", str(report)],
                               cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            ratios.append(json.loads(report.read_text())["fid_ratio"])
        spread = statistics.stdev(ratios) if len(ratios) > 1 else float("nan")
        rows.append((name, ratios, statistics.mean(ratios), spread))
    print(f"FID / floor, `evaluate --n {args.n}` with sample seeds {seeds}")
    print("| model | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | SD | standard error |")
    print("|---|" + "---|" * (len(seeds) + 3))
    for name, ratios, mean, spread in rows:
        print(f"| {name} | " + " | ".join(f"{r:.2f}" for r in ratios)
              + f" | **{mean:.2f}** | {spread:.2f} | {spread / len(ratios) ** 0.5:.2f} |")


if __name__ == "__main__":
    main()
