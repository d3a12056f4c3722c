"""How fast the Train page's timeline slider redraws, in a real browser against a real `streamlit run app.py`.

    .venv/bin/python benchmarks/timeline_speed.py [--train-seconds 25] [--moves 40] [--screenshot]

Trains the default recipe for a while, pauses, then moves the timeline slider one kept step at a time with the
keyboard and times each move from the key press to the new grid decoded in the page (the page's own clock,
performance.now()). The frames are already in the page, so each move is a redraw of the timeline's fragment
only. Then the same on a page holding only a select_slider and a grid picture: Streamlit's own round trip on
this machine at this load, the floor any server-drawn slider sits on. Prints the median and p95 against the
150 ms target. --screenshot saves artifacts/timeline-*.png.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # browser_support imports ci_support by its bare name

from tests.browser_support import (INSTALL_HINT, NUMBERS, AppServer, by_key, launch_browser, screenshot,  # noqa: E402
                                   step_value, wait_for_app_idle, wait_until)

TIMEOUT_MS = 180_000
TARGET_P95_MS = 150.0
PICTURE_JS = """() => document.querySelector('.st-key-train_timeline_picture img')"""
# Stamps every key press and every new timeline picture once it has decoded (can be shown).
WATCH_JS = """() => {
  const picture = """ + PICTURE_JS + """;
  window.__keyDowns = []; window.__shown = [];
  document.addEventListener('keydown', () => window.__keyDowns.push(performance.now()), true);
  let last = picture() ? picture().src : null;
  new MutationObserver(() => {
    const img = picture();
    if (!img || img.src === last) return;
    last = img.src;
    img.decode().then(() => window.__shown.push(performance.now()), () => {});
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def train_then_pause(page, seconds: float) -> int:
    start = by_key(page, "train_start").locator("button:enabled").first
    start.wait_for(timeout=TIMEOUT_MS)
    start.click()
    wait_until(lambda: page.locator(NUMBERS).count() > 0 and step_value(page) > 0,
               timeout=TIMEOUT_MS / 1000, interval=0.5)  # the worker has started and drawn its first point
    time.sleep(seconds)
    by_key(page, "train_pause").locator("button:enabled").first.click()
    wait_until(lambda: "Paused" in page.inner_text("body"), timeout=60)
    wait_for_app_idle(page, TIMEOUT_MS)
    page.locator(".st-key-train_timeline_step").wait_for(timeout=TIMEOUT_MS)
    wait_for_app_idle(page, TIMEOUT_MS)
    return step_value(page)


def scrub(page, moves: int) -> tuple[list[float], int]:
    """Key presses on the timeline slider -> the new grid decoded, in ms; and presses that drew nothing."""
    page.evaluate(WATCH_JS)
    thumb = by_key(page, "train_timeline_step").locator('input[type="range"]').first
    thumb.focus()
    latencies, misses = [], 0
    key = "ArrowLeft"
    for _ in range(moves):
        value, top = int(thumb.get_attribute("value")), int(thumb.get_attribute("max"))
        key = "ArrowRight" if value == 0 else "ArrowLeft" if value == top else key  # bounce between the ends
        shown = page.evaluate("() => window.__shown.length")
        thumb.press(key)
        if wait_until(lambda: page.evaluate("() => window.__shown.length") > shown, timeout=30, interval=0.005):
            pressed, drawn = page.evaluate("() => [window.__keyDowns.at(-1), window.__shown.at(-1)]")
            latencies.append(drawn - pressed)
        else:
            misses += 1
        wait_for_app_idle(page, TIMEOUT_MS)
        time.sleep(0.1)
    return latencies, misses


BASELINE_APP = """import numpy as np
import streamlit as st
from gan_core.images import grid_png

frames = st.session_state.setdefault("frames", [np.random.default_rng(i).random((64, 28, 28)) for i in range(12)])
step = st.select_slider("Step", options=list(range(12)), value=11, key="train_timeline_step")
with st.container(key="train_timeline_picture"):
    st.image(grid_png(frames[step], columns=8, scale=2), output_format="PNG")
"""


def baseline(browser, moves: int) -> list[float]:
    """The same measurement on a page with only a select_slider and a picture: Streamlit's own floor here."""
    script = ROOT / "artifacts" / "timeline_baseline_app.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(BASELINE_APP)
    with AppServer(script=str(script), env={"PYTHONPATH": str(ROOT)}) as server:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(server.url)
        page.locator(".st-key-train_timeline_picture img").wait_for(timeout=TIMEOUT_MS)
        wait_for_app_idle(page, TIMEOUT_MS)
        latencies, _ = scrub(page, moves)
        context.close()
    return latencies


def summary(latencies: list[float]) -> str:
    return (f"median {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
            f"max {max(latencies):.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-seconds", type=float, default=25.0)
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--screenshot", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        if browser is None:
            print(INSTALL_HINT)
            return 2
        with AppServer() as server:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.goto(server.url)
            step = train_then_pause(page, args.train_seconds)
            if args.screenshot:
                print("screenshot:", screenshot(page, "timeline-paused"))
            latencies, misses = scrub(page, args.moves)
            if args.screenshot:
                page.locator(".st-key-train_timeline_picture").scroll_into_view_if_needed()
                print("screenshot:", screenshot(page, "timeline-scrubbed"))
        floor = baseline(browser, args.moves)
        browser.close()
    if not latencies:
        print(f"no move redrew the grid ({misses} presses)")
        return 1
    p95 = percentile(latencies, 0.95)
    print(f"trained to step {step:,}; {len(latencies)} slider moves ({misses} drew nothing)")
    print(f"timeline scrub, key press -> new grid decoded: {summary(latencies)} (target p95 <= "
          f"{TARGET_P95_MS:.0f} ms: {'met' if p95 <= TARGET_P95_MS else 'MISSED'})")
    if floor:
        print(f"floor, a page with only a select_slider and a grid picture: {summary(floor)}")
    print(f"load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
