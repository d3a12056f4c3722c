"""The 2-D playground's lesson, measured: modes covered and high-quality share per recipe, preset and seed.

Keras side (gan_core.toy_models.ToyGAN, the browser's reference): each recipe trains each preset for a fixed
number of steps from each seed; 2,500 samples of the (averaged) generator are scored as the literature scores
them (gan_core.toy.mode_scores). `--browser` also times the page in Chromium: Start on the ring, seconds until
8/8 modes and until 8/8 with >= 90% high-quality samples, frames/s and steps/s while training.

    python benchmarks/playground.py --steps 5000 --seeds 0,1,2,3,4
    python benchmarks/playground.py --browser-only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from gan_core.toy import mode_scores, recipe_for  # noqa: E402

RECIPES = ("textbook", "default")


def keras_table(steps: int, seeds: list[int], presets: list[str], recipes=RECIPES, overrides: dict | None = None,
                score_every: int = 0) -> list[dict]:
    from gan_core.quiet import silence_tensorflow

    silence_tensorflow()
    from gan_core.toy_models import build_toy_gan, train_toy

    rows = []
    for preset in presets:
        for recipe in recipes:
            for seed in seeds:
                config = recipe_for(preset, textbook=recipe == "textbook", seed=seed, **(overrides or {}))
                gan = build_toy_gan(config)
                started = time.perf_counter()
                trace = []

                def on_chunk(step, metrics, gan=gan, trace=trace):
                    if score_every and step % score_every == 0:
                        s = mode_scores(gan.sample(2500, seed=12345), preset)
                        trace.append([step, s["modes_covered"], round(s["high_quality"], 4)])

                train_toy(gan, steps, steps_per_call=100, on_chunk=on_chunk)
                scores = mode_scores(gan.sample(2500, seed=12345), preset)
                row = {"preset": preset, "recipe": recipe, "seed": seed, "steps": steps,
                       "modes_covered": scores["modes_covered"], "modes_total": scores["modes_total"],
                       "high_quality": round(scores["high_quality"], 4),
                       "seconds": round(time.perf_counter() - started, 1),
                       **({"trace": trace} if trace else {}), **({"overrides": overrides} if overrides else {})}
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def summary(rows: list[dict]) -> None:
    print("\n| preset | recipe | seeds with all modes | modes covered (mean, min) | high-quality share (mean, min) |")
    print("|---|---|---|---|---|")
    keys = sorted({(r["preset"], r["recipe"]) for r in rows}, key=lambda k: (k[0] != "ring8", k[1] != "textbook"))
    for preset, recipe in keys:
        group = [r for r in rows if r["preset"] == preset and r["recipe"] == recipe]
        total = group[0]["modes_total"]
        full = sum(r["modes_covered"] == total for r in group)
        modes = [r["modes_covered"] for r in group]
        quality = [r["high_quality"] for r in group]
        print(f"| {preset} | {recipe} | {full}/{len(group)} | {np.mean(modes):.1f}, {min(modes)} of {total} | "
              f"{100 * np.mean(quality):.1f}%, {100 * min(quality):.1f}% |")


def browser_timing(preset: str = "ring8", limit_s: float = 120.0) -> dict:
    from playwright.sync_api import sync_playwright

    from browser_support import AppServer, launch_browser

    server = AppServer().start()
    result = {"preset": preset}
    try:
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"{server.url}/playground")
            page.locator('[data-testid="pg-start"]').wait_for(timeout=120_000)
            if preset != "ring8":
                page.locator(".st-key-playground_dataset").get_by_role("combobox").click()
                page.get_by_role("option", name={"grid25": "Grid of 25 Gaussians"}[preset]).click()
                time.sleep(3)
            total = 8 if preset == "ring8" else 25
            goal = 0.9 if preset == "ring8" else 0.8
            page.locator('[data-testid="pg-start"]').click()
            started = time.monotonic()
            fps, rates, draw_ms = [], [], []
            while time.monotonic() - started < limit_s:
                time.sleep(0.25)
                score = page.locator('[data-testid="pg-score-0"]')
                covered, hq = int(score.get_attribute("data-covered")), float(score.get_attribute("data-hq"))
                root = page.locator('[data-testid="pg-root"]')
                fps.append(int(root.get_attribute("data-fps")))
                rates.append(int(root.get_attribute("data-steps-per-second") or 0))
                draw_ms.append(float(root.get_attribute("data-draw-ms") or 0))
                elapsed = round(time.monotonic() - started, 1)
                if covered == total and "all_modes_s" not in result:
                    result["all_modes_s"] = elapsed
                if covered == total and hq >= goal:
                    result[f"all_modes_and_{int(goal * 100)}pct_hq_s"] = elapsed
                    break
            result.update(final_covered=covered, final_hq=hq, steps=int(page.locator(
                '[data-testid="pg-panel-0"]').get_attribute("data-step")), median_fps=float(np.median(fps[4:] or fps)),
                median_steps_per_second=float(np.median(rates[4:] or rates)),
                median_draw_ms=float(np.median(draw_ms[4:] or draw_ms)))
            page.screenshot(path=str(ROOT / "artifacts" / f"playground_benchmark_{preset}.png"), full_page=True)
    finally:
        server.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--presets", default="ring8,grid25")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="textbook,default or either alone")
    parser.add_argument("--override", default="{}", help='recipe changes as JSON, e.g. \'{"batch_size": 128}\'')
    parser.add_argument("--score-every", type=int, default=0, help="also score every N steps (a multiple of 100)")
    parser.add_argument("--browser", action="store_true", help="also time the page in Chromium")
    parser.add_argument("--browser-only", action="store_true")
    parser.add_argument("--browser-limit", type=float, default=120.0, help="seconds to wait in the browser")
    args = parser.parse_args()
    if not args.browser_only:
        rows = keras_table(args.steps, [int(s) for s in args.seeds.split(",")], args.presets.split(","),
                           args.recipes.split(","), json.loads(args.override), args.score_every)
        summary(rows)
    if args.browser or args.browser_only:
        (ROOT / "artifacts").mkdir(exist_ok=True)
        for preset in args.presets.split(","):
            print(json.dumps(browser_timing(preset, args.browser_limit)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
