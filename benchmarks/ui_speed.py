"""How fast the app feels, measured in a real browser (headless Chromium) against a real `streamlit run app.py`.

    .venv/bin/python benchmarks/ui_speed.py [--slider-changes 30] [--drag-seconds 3] [--train-seconds 20] [--rounds 2]

Prints one table of latencies against their targets, then training throughput on the open train page
against a bare hand-written tf.function step measured in this same run (rounds alternate the two, so machine
noise hits both). Page-side times are taken with the page's own clock (performance.now()).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser_support import (INSTALL_HINT, AppServer, by_key, launch_browser, metric_value,  # noqa: E402
                                   step_value, wait_for_app_idle, wait_until)

TIMEOUT_MS = 180_000
DIGIT_JS = """() => [...document.querySelectorAll('[data-testid="stImageContainer"] img')].find(i => i.width === 280)"""
# Stamps every key press and every new main digit (when its new picture has decoded, i.e. can be shown).
DIGIT_WATCH_JS = """() => {
  const digit = """ + DIGIT_JS + """;
  window.__keyDowns = []; window.__digitShown = [];
  document.addEventListener('keydown', () => window.__keyDowns.push(performance.now()), true);
  let last = digit() ? digit().src : null;
  new MutationObserver(() => {
    const img = digit();
    if (!img || img.src === last) return;
    last = img.src;
    img.decode().then(() => window.__digitShown.push(performance.now()), () => {});
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""
WS_SEND_HOOK = """window.__wsSends = [];
const realSend = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) { window.__wsSends.push(performance.now()); return realSend.call(this, data); };"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def new_page(browser, init_script: str | None = None):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    if init_script:
        context.add_init_script(init_script)
    return context.new_page()


# ---- explore page ------------------------------------------------------------------------------
def open_explore(page, server: AppServer) -> float:
    """Seconds from the server process's spawn to the explore page showing its digit."""
    page.goto(f"{server.url}/explore")
    page.wait_for_function(f"(() => {{ const i = ({DIGIT_JS})(); return i && i.complete && i.naturalWidth > 0; }})()",
                           timeout=TIMEOUT_MS)
    return time.perf_counter() - server.started_at


def server_slider_latencies(page, changes: int) -> tuple[list[float], int]:
    """Key press on slider z[0] -> the new digit decoded, in ms; also how many presses drew no new digit."""
    wait_for_app_idle(page, TIMEOUT_MS)
    page.evaluate(DIGIT_WATCH_JS)
    thumb = by_key(page, "explore_z_0").locator('input[type="range"]')
    thumb.focus()
    latencies, misses = [], 0
    for index in range(changes):
        shown = page.evaluate("() => window.__digitShown.length")
        thumb.press("ArrowRight" if index % 2 == 0 else "ArrowLeft")
        if not wait_until(lambda: page.evaluate("() => window.__digitShown.length") > shown, timeout=30, interval=0.01):
            misses += 1  # a 0.05 step can leave the 28x28 picture unchanged
        else:
            pressed, drawn = page.evaluate("() => [window.__keyDowns.at(-1), window.__digitShown.at(-1)]")
            latencies.append(drawn - pressed)
        wait_for_app_idle(page, TIMEOUT_MS)
        time.sleep(0.15)
    return latencies, misses


def instant_frames_per_second(page, seconds: float) -> dict | None:
    """Drag an instant-mode slider back and forth; draws per second from the component's draw counter."""
    if not (ROOT / "ui" / "instant.py").exists():
        return None
    by_key(page, "explore_mode").get_by_text("Instant").click()
    page.locator('[data-testid="instant-generator"][data-state="ready"]').wait_for(timeout=TIMEOUT_MS)
    wait_for_app_idle(page, TIMEOUT_MS)
    fps_box, slider = page.get_by_test_id("instant-fps"), page.get_by_test_id("instant-slider-0")
    box = slider.bounding_box()
    y, left, right = box["y"] + box["height"] / 2, box["x"] + box["width"] * 0.1, box["x"] + box["width"] * 0.9
    page.mouse.move(left, y)
    page.mouse.down()
    draws_before, started = int(fps_box.get_attribute("data-draws")), page.evaluate("() => performance.now()")
    sends_before = page.evaluate("() => window.__wsSends.length")
    moves, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        page.mouse.move(right if moves % 2 == 0 else left, y, steps=30)
        moves += 1
    draws, ended = int(fps_box.get_attribute("data-draws")), page.evaluate("() => performance.now()")
    readout, sends = fps_box.inner_text(), page.evaluate("() => window.__wsSends.length") - sends_before
    page.mouse.up()
    return {"fps": (draws - draws_before) / ((ended - started) / 1000), "readout": readout, "sends": sends}


# ---- train page --------------------------------------------------------------------------------
def start_to_first_loss_point(page, server: AppServer) -> float:
    page.goto(server.url)
    start = by_key(page, "train_start").locator("button")
    start.wait_for()
    wait_for_app_idle(page, TIMEOUT_MS)
    clicked = time.perf_counter()
    start.click()
    page.locator('[data-testid="stVegaLiteChart"] .mark-line path').first.wait_for(timeout=TIMEOUT_MS)
    return time.perf_counter() - clicked


def page_steps_per_second(page, seconds: float) -> tuple[float, str]:
    first, started = step_value(page), time.perf_counter()
    time.sleep(seconds)
    last, ended = step_value(page), time.perf_counter()
    return (last - first) / (ended - started), metric_value(page, "Steps/s")


def pause_training(page) -> None:
    by_key(page, "train_pause").locator("button").click()
    by_key(page, "train_resume").locator("button:enabled").wait_for(timeout=TIMEOUT_MS)

    def held() -> bool:
        before = step_value(page)
        time.sleep(1.0)
        return step_value(page) == before

    wait_until(held, timeout=120, interval=0)


def resume_training(page) -> None:
    by_key(page, "train_resume").locator("button").click()
    before = step_value(page)
    wait_until(lambda: step_value(page) > before, timeout=120, interval=0.2)


def throughput(page, rounds: int, page_seconds: float, bare_seconds: float,
               page_trains: bool = True) -> dict[str, list[float]]:
    from benchmarks.train_speed import make_bare_step, time_bare
    from gan_core.config import GANConfig
    from gan_core.data import load_dataset

    images = load_dataset("mnist-sample").images
    bare = {"bare step, plain recipe": make_bare_step(GANConfig.plain(), images),
            "bare step, default config": make_bare_step(GANConfig(), images)}
    results: dict[str, list[float]] = {"train page (default recipe, live views)": [], **{name: [] for name in bare}}
    readouts = []
    for _ in range(rounds):
        if page_trains:
            rate, readout = page_steps_per_second(page, page_seconds)
            results["train page (default recipe, live views)"].append(rate)
            readouts.append(readout)
            pause_training(page)
        for name, step in bare.items():
            results[name].append(time_bare(step, bare_seconds))  # the first call traces, outside the timing
        if page_trains:
            resume_training(page)
    if not page_trains:
        results["train page (default recipe, live views)"].append(float("nan"))
    results["_readouts"] = readouts
    return results


# ---- report ------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slider-changes", type=int, default=30)
    parser.add_argument("--drag-seconds", type=float, default=3.0)
    parser.add_argument("--train-seconds", type=float, default=20.0)
    parser.add_argument("--bare-seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout, sync_playwright

    rows = []
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        if browser is None:
            sys.exit(f"ui_speed: {INSTALL_HINT}")
        with AppServer() as server:  # started after the browser, so its launch is not counted
            explore = new_page(browser, WS_SEND_HOOK)
            start_s = open_explore(explore, server)
            rows.append(("app start -> explore page shows its digit", f"{start_s:.1f} s", "<= 10 s", start_s <= 10))
            latencies, misses = server_slider_latencies(explore, args.slider_changes)
            p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
            rows.append((f"server mode: slider key -> new digit shown (n={len(latencies)}, {misses} unchanged)",
                         f"p50 {p50:.0f} ms, p95 {p95:.0f} ms", "p95 <= 150 ms", p95 <= 150))
            instant = instant_frames_per_second(explore, args.drag_seconds)
            if instant is None:
                rows.append(("instant mode: frames/s while dragging", "n/a (no ui/instant.py)", ">= 30", None))
            else:
                rows.append((f"instant mode: frames/s while dragging {args.drag_seconds:.0f} s "
                             f"(readout '{instant['readout']}', {instant['sends']} messages to the server)",
                             f"{instant['fps']:.0f} frames/s", ">= 30", instant["fps"] >= 30))
            explore.context.close()

            train = new_page(browser)
            try:
                first_point_s = start_to_first_loss_point(train, server)
            except PlaywrightTimeout:
                first_point_s = None
            rows.append(("click Start -> first loss point drawn (incl. tracing the step)",
                         "none within 180 s" if first_point_s is None else f"{first_point_s:.1f} s", "<= 3 s",
                         first_point_s is not None and first_point_s <= 3))
            speeds = throughput(train, args.rounds, args.train_seconds, args.bare_seconds,
                                page_trains=first_point_s is not None)
            train.context.close()
        browser.close()

    print(f"| measurement | result | target | met |\n|---|---|---|---|")
    for name, result, target, met in rows:
        print(f"| {name} | {result} | {target} | {'-' if met is None else 'yes' if met else 'no'} |")
    readouts = speeds.pop("_readouts")
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    page_rate = medians["train page (default recipe, live views)"]
    print(f"\ntraining throughput, batch 128, {args.rounds} alternating rounds "
          f"({args.train_seconds:.0f} s on the page, {args.bare_seconds:.0f} s per bare step), medians; "
          f"the page's own Steps/s readouts: {', '.join(readouts)}")
    print("| contender | steps/s | rounds | page / this |\n|---|---|---|---|")
    for name, median in medians.items():
        rounds = ", ".join(f"{value:.1f}" for value in speeds[name])
        print(f"| {name} | {median:.1f} | {rounds} | {page_rate / median:.2f} |")


if __name__ == "__main__":
    main()
