"""Gathers benchmarks/quality/*.json (written by `python -m gan_core evaluate`) into
benchmarks/quality.json (for the app's Compare page) and prints the markdown table of benchmarks/quality.md."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ("gan", "cgan", "wgan_gp", "dcgan", "vae", "vae2d", "ae", "run_default_5min", "run_b32_5min", "run_b128_5min",
         "run_lr2e-4_5min", "run_plain_5min", "run_default_120s", "run_b32_120s", "run_b128_120s", "run_lr2e-4_120s")


def main() -> None:
    reports = {path.stem: json.loads(path.read_text()) for path in sorted((HERE / "quality").glob("*.json"))}
    names = [n for n in ORDER if n in reports] + sorted(set(reports) - set(ORDER))
    (HERE / "quality.json").write_text(json.dumps({n: reports[n] for n in names}, indent=2) + "\n")
    print("| model | steps | FID | FID / floor | KID | IS | classes | KL | precision | recall | eval s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        report = reports[name]
        row = report.get("generated") or {}
        if not report.get("available", True) or not row:
            print(f"| {name} | {report.get('step', '')} | unavailable: {report.get('reason', '')} |||||||||")
            continue
        print(f"| {name} | {report.get('step', '')} | {row['fid']:.1f} | {report['fid_ratio']:.1f} | "
              f"{row['kid']:.2f} ± {row['kid_std_error']:.2f} | {row['inception_score']:.2f} | "
              f"{row['classes_covered']} | {row['kl_to_uniform']:.3f} | {row['precision']:.2f} | {row['recall']:.2f} | "
              f"{report.get('wall_time_s', '')} |")
    floor = next((r for r in reports.values() if r.get("real_vs_real")), None)
    if floor:
        real = floor["real_vs_real"]
        print(f"| real vs real (floor) | - | {real['fid']:.2f} | 1.0 | {real['kid']:.2f} ± {real['kid_std_error']:.2f} | "
              f"{real['inception_score']:.2f} | {real['classes_covered']} | {real['kl_to_uniform']:.3f} | "
              f"{real['precision']:.2f} | {real['recall']:.2f} | - |")


if __name__ == "__main__":
    main()
