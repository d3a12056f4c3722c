"""The browser mode of benchmarks/chaos.py: real Chromium tabs on one `streamlit run app.py` server.

Each session is a browser context (its own cookie, so its own run, as a separate visitor) holding at most one
Train page tab. One thread drives every tab (Playwright's sync API belongs to the thread that made it), picking
a session at random each turn: Start, Pause, Resume, Step, Reset (confirmed when the page asks), close the tab
(reopened after a random time, sometimes past the browser grace so the run has been stopped), fetch the
history CSV from the Downloads expander, or `kill -9` a random worker process of the server.
"""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # browser_support imports its neighbours (ci_support) by name

from tests.browser_support import (NUMBERS, AppServer, by_key, launch_browser, step_value,  # noqa: E402
                                   wait_for_app_idle, wait_until)
from procstat import load_average  # noqa: E402

# (action, weight): enough Resume and Start that runs train between the disruptions.
ACTIONS = (("look", 3), ("start", 2), ("pause", 2), ("resume", 3), ("step", 2), ("reset", 1), ("close", 1),
           ("kill", 1), ("download", 2))
CLICK_MS = 15_000
KILL_GAP_S = 30.0
IDLE_MS = 20_000
# Error boxes the page shows on purpose: the engine's messages (a full cap, a process that ended, a start that
# failed). Anything else in an error box counts as a failure.
EXPECTED_ERRORS = ("Training process ended", "training slots", "Cannot start the training", "Press Reset",
                   "Press Resume", "could not start")


def _workers(server: AppServer) -> list[int]:
    return [pid for pid in server.process_tree() if pid != server.process.pid]


def _steps_from_csv(text: str) -> list[float]:
    rows = list(csv.reader(io.StringIO(text)))
    column = rows[0].index("step")
    return [float(row[column]) for row in rows[1:]]


class Tab:
    """One visitor: a browser context and its Train page tab (None while closed)."""

    def __init__(self, name: str, browser, url: str, rng: random.Random, grace_s: float, report):
        self.name, self.url, self.rng, self.grace_s, self.report = name, url, rng, grace_s, report
        self.context = browser.new_context(accept_downloads=True)
        self.page = None
        self.reopen_at = 0.0

    # ---- the tab ----
    def open(self) -> None:
        self.page = self.context.new_page()
        self.page.goto(self.url, timeout=120_000)
        self._idle(120_000)
        by_key(self.page, "train_start").wait_for(timeout=120_000)

    def close(self) -> None:
        if self.page is not None:
            self.page.close()
            self.page = None
        # Back soon (the run carried on) or after the grace (the run was saved and ended: Resume continues it).
        self.reopen_at = time.monotonic() + self.rng.uniform(1.0, 2.5 * self.grace_s)

    def _idle(self, timeout_ms: float = IDLE_MS) -> None:
        try:
            wait_for_app_idle(self.page, timeout_ms)
        except Exception:  # a fragment tick keeps it busy: look anyway
            pass

    def click(self, key: str) -> str:
        button = by_key(self.page, key).locator("button")
        try:
            button.first.wait_for(timeout=CLICK_MS)
        except Exception:  # not drawn (a confirm that did not come, a page still loading)
            return "absent"
        if button.first.is_disabled():
            return "disabled"
        button.first.click(timeout=CLICK_MS)
        self._idle()
        return "clicked"

    # ---- what a visitor does ----
    def act(self, action: str, server: AppServer) -> None:
        counts = self.report.counts
        if action == "kill":
            workers = _workers(server)
            # At most one kill per KILL_GAP_S: a worker's start takes up to a minute on a loaded machine, and a
            # run needs to train between the kills for its curves (and their resumption) to be checked at all.
            if workers and time.monotonic() - self.report.last_kill >= KILL_GAP_S:
                self.report.last_kill = time.monotonic()
                try:
                    os.kill(self.rng.choice(workers), signal.SIGKILL)
                    counts["kill"] = counts.get("kill", 0) + 1
                except ProcessLookupError:
                    pass
            return
        if self.page is None:
            if time.monotonic() >= self.reopen_at:
                self.open()
                counts["reopen"] = counts.get("reopen", 0) + 1
                self.check()
            return
        if action == "close":
            self.close()
            counts["close"] = counts.get("close", 0) + 1
            return
        if action == "download":
            self.check_history()
        elif action != "look":
            outcome = self.click(f"train_{action}")
            if action == "reset" and outcome == "clicked" and by_key(self.page, "train_reset_confirm").count():
                self.click("train_reset_confirm")  # past CONFIRM_RESET_STEPS the page asks first
            if outcome == "clicked":
                counts[action] = counts.get(action, 0) + 1
        self.check()

    def check(self) -> None:
        """No exception box, no traceback, no error box but the engine's messages on this tab."""
        page, report = self.page, self.report
        try:
            exceptions = page.locator('[data-testid="stException"]').count()
            text = page.locator("body").inner_text(timeout=CLICK_MS)
            errors = [e.inner_text() for e in page.locator('[data-testid="stAlertContentError"]').all()]
        except Exception as exc:  # the page redrew under the read: read it next time
            report.counts["unread"] = report.counts.get("unread", 0) + 1
            report.notes.append(f"{self.name}: page not read ({type(exc).__name__})")
            return
        report.counts["looks"] = report.counts.get("looks", 0) + 1
        if exceptions:
            report.fail(f"{self.name}: an exception box on the page: {text[:300]!r}")
        if "Traceback" in text:
            report.fail(f"{self.name}: a traceback on the page")
        for error in errors:
            if any(expected.lower() in error.lower() for expected in EXPECTED_ERRORS):
                report.messages[error.split(".")[0][:60]] = report.messages.get(error.split(".")[0][:60], 0) + 1
            else:
                report.fail(f"{self.name}: an error box: {error[:200]!r}")
        try:
            if page.locator(NUMBERS).count():
                report.max_step = max(report.max_step, step_value(page))
        except Exception:
            pass

    def check_history(self) -> bool:
        """Fetch the run's history CSV from the Downloads expander; its steps must strictly increase."""
        page, report = self.page, self.report
        expander = page.locator('[data-testid="stExpander"]').filter(has_text="Downloads")
        if expander.count() == 0:  # no run, or no point yet
            return False
        try:
            if not by_key(page, "train_prepare_downloads").locator("button").first.is_visible():
                expander.first.locator("summary").click(timeout=CLICK_MS)  # a collapsed expander: open it
            by_key(page, "train_prepare_downloads").locator("button").first.click(timeout=CLICK_MS)
            self._idle(60_000)
            download_button = by_key(page, "train_download_csv").locator("button").first
            download_button.wait_for(timeout=60_000)
            with page.expect_download(timeout=60_000) as info:
                download_button.click(timeout=CLICK_MS)
            text = Path(info.value.path()).read_text()
        except Exception as exc:  # a redraw took the button away, a killed worker: try another time
            report.counts["download_missed"] = report.counts.get("download_missed", 0) + 1
            report.notes.append(f"{self.name}: download missed ({type(exc).__name__}: {str(exc).splitlines()[0][:150]})")
            return False
        steps = _steps_from_csv(text)
        report.counts["downloads"] = report.counts.get("downloads", 0) + 1
        report.points_checked += len(steps)
        bad = [i for i in range(1, len(steps)) if steps[i] <= steps[i - 1]]
        if bad:
            i = bad[0]
            report.fail(f"{self.name}: the history goes back at row {i}: step {steps[i - 1]:g} -> {steps[i]:g}")
        return True


class Report:
    def __init__(self):
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.counts: dict[str, int] = {}
        self.messages: dict[str, int] = {}
        self.max_step = 0
        self.points_checked = 0
        self.last_kill = 0.0

    def fail(self, text: str) -> None:
        print("FAIL:", text, flush=True)
        self.failures.append(text)


def _settled_rss(server: AppServer, timeout: float = 240.0) -> float:
    """The server's and workers' RSS once it stops changing (a worker's TensorFlow start takes a while)."""
    last, stable_since, deadline = -1e9, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = server.rss_mb()
        if abs(now - last) > 5:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since > 8:
            return now
        time.sleep(1.0)
    return server.rss_mb()


def _trainers_caption(browser, url: str) -> str:
    """What a new visitor's Train page says about the server's trainers."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url, timeout=120_000)
        wait_for_app_idle(page, 120_000)
        caption = page.get_by_text("Trainers in use on this server").first
        caption.wait_for(timeout=60_000)
        return caption.inner_text()
    finally:
        context.close()


def browser_chaos(args) -> int:
    from playwright.sync_api import sync_playwright

    report = Report()
    recovery = tempfile.mkdtemp(prefix="chaos-recovery-")
    env = {"GAN_LAB_BROWSER_GRACE_S": str(args.grace), "GAN_LAB_MAX_TRAINERS": str(args.max_trainers),
           "GAN_LAB_RECOVERY_DIR": recovery}
    print(f"load average at the start: {load_average()}", flush=True)
    server = AppServer(port=args.port, env=env).start(timeout=180)
    rng = random.Random(args.seed)
    try:
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            if browser is None:
                print("no Chromium: see tests/browser_support.py INSTALL_HINT", file=sys.stderr)
                return 2
            url = server.url
            print(_trainers_caption(browser, url), "(a first visitor; the spare starts)", flush=True)
            wait_until(lambda: len(_workers(server)) >= 1, 240)
            rss_before = _settled_rss(server)
            workers_before = _workers(server)
            print(f"warm: server + {len(workers_before)} worker(s), RSS {rss_before:.0f} MB", flush=True)

            tabs = [Tab(f"tab-{i}", browser, url, random.Random(rng.random()), args.grace, report)
                    for i in range(args.sessions)]
            for tab in tabs:
                tab.open()
            began = time.monotonic()
            deadline = began + args.seconds
            while time.monotonic() < deadline:
                tab = rng.choice(tabs)
                action = rng.choices([a for a, _ in ACTIONS], [w for _, w in ACTIONS])[0]
                try:
                    tab.act(action, server)
                except Exception as exc:  # a click that timed out on a busy machine: not the app's fault
                    report.counts["missed"] = report.counts.get("missed", 0) + 1
                    report.notes.append(f"{tab.name} {action}: {type(exc).__name__}: {str(exc)[:120]}")
                time.sleep(rng.uniform(0.2, 1.0))
            chaos_s = time.monotonic() - began
            load_end = load_average()

            for tab in tabs:  # a last look and a last history from every tab, then every tab closes for good
                if tab.page is None:
                    try:
                        tab.open()
                    except Exception as exc:
                        report.notes.append(f"{tab.name} final reopen: {type(exc).__name__}")
                        continue
                tab.check()
                tab.check_history()
                tab.page.close()
                tab.page = None
                tab.context.close()
            closed = time.monotonic()
            # The grace, a last snapshot, then each run's worker ends: only the spare (and an inference
            # worker, which the Train page does not start) may remain.
            settled = wait_until(lambda: len(_workers(server)) <= 2 and time.monotonic() - closed > args.grace,
                                 args.grace + 180, interval=1.0)
            ended_after = time.monotonic() - closed
            caption = _trainers_caption(browser, url)
            if "Trainers in use on this server: 0 of" not in caption:
                report.fail(f"after every tab closed and the grace passed: {caption!r}")
            if not settled:
                report.fail(f"workers left after the grace: {_workers(server)}")
            rss_after = _settled_rss(server)
            workers_after = _workers(server)
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(recovery, ignore_errors=True)
        log = server.log_tail(200_000)
        if "Traceback" in log:
            report.notes.append("the server log holds a traceback (see below)")
            print(log[log.index("Traceback") - 200:][:3000], file=sys.stderr)

    if rss_after - rss_before > 100:
        report.fail(f"server + workers grew by {rss_after - rss_before:.0f} MB")
    counts = report.counts
    print()
    print(f"| what | result ({args.sessions} browser contexts, {chaos_s:.0f} s, grace {args.grace:g} s, "
          f"cap {args.max_trainers}) |")
    print("|---|---|")
    print("| actions | " + ", ".join(f"{counts.get(k, 0)} {k}" for k in
                                     ("start", "pause", "resume", "step", "reset", "close", "reopen", "kill")) + " |")
    print(f"| page reads | {counts.get('looks', 0)} (unread while redrawing: {counts.get('unread', 0)}; "
          f"clicks that timed out: {counts.get('missed', 0)}) |")
    print(f"| exceptions / tracebacks / unexpected error boxes | "
          f"{sum(1 for f in report.failures if 'exception' in f or 'traceback' in f or 'error box' in f)} |")
    print(f"| the engine's messages shown | {sum(report.messages.values())}: "
          + "; ".join(f"{n} x {m!r}" for m, n in sorted(report.messages.items(), key=lambda kv: -kv[1])) + " |")
    print(f"| history CSVs fetched | {counts.get('downloads', 0)} ({report.points_checked} points, "
          f"{sum(1 for f in report.failures if 'goes back' in f)} going back; missed {counts.get('download_missed', 0)}); "
          f"highest step seen {report.max_step:,} |")
    print(f"| after every tab closed | workers {len(workers_after)} after {ended_after:.0f} s; {caption} |")
    print(f"| memory (server + workers RSS) | {rss_before:.0f} MB ({len(workers_before)} worker(s)) -> "
          f"{rss_after:.0f} MB ({len(workers_after)}) ({rss_after - rss_before:+.0f}) |")
    print(f"| load average | {load_end} at the end of the chaos |")
    for note in report.notes[:15]:
        print("note:", note)
    print("chaos (browser): " + ("FAILED" if report.failures else "passed"), f"({len(report.failures)} failures)",
          flush=True)
    return 1 if report.failures else 0
