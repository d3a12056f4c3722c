"""Load benchmark for presenter mode: one presenter, N viewers, M more trainers, on the real app.

    .venv/bin/python benchmarks/load.py --viewers 10 --browsers 3 --trainers 3 --phase-s 30 --json load.json

What it does, in order, against `streamlit run app.py` (tests/browser_support.AppServer):
1. A presenter in headless Chromium presses Start and shares the run ("Share live view").
2. Phase "alone": `phase-s` seconds with no viewer; the presenter's steps/s is the change of the Step metric
   on the presenter's page over the phase (the page redraws every second: +-1 s over the phase).
3. Phase "watched": `browsers` viewers in real Chromium contexts plus `viewers - browsers` lightweight ones:
   Streamlit sessions driven over the websocket with Streamlit's own protocol (what a browser tab costs the
   server, without the browser): each opens the link and reruns the live fragment whenever the server asks
   (the fragment's run_every), timing each rerun from request to script_finished (the refresh latency), and,
   as a tab's components do, asks the shared run's live feed once a second for what is new (feed latency).
   Errors: exception elements, lost sockets, a browser viewer with an exception box or a Step that stood still.
4. `trainers` more sessions press Start at once; with the default cap (one trainer per core) the ones over it
   must show the cap's message, which is recorded.
Server RSS (Streamlit plus every worker) is sampled every 2 s throughout, and the Streamlit process's CPU share
(CPU seconds per second) in each phase: what the viewers cost the server, which the machine's other load does
not change much. Prints and writes a JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import NUMBERS, AppServer, by_key, launch_browser, step_value, wait_until  # noqa: E402
from procstat import cpu_seconds  # noqa: E402  (what the viewers cost the server, whatever the load)

CAP_TEXT = "training slots of this server are in use"
FEED_PATH = re.compile(rb"/gan-lab/feed/[A-Za-z0-9_-]+")  # ui/live_feed.py ROUTE, as the page's components get it


# ---- a viewer without a browser --------------------------------------------------------------------
class LightViewer:
    """One Streamlit session over the websocket: opens the link, reruns the fragment when the server asks."""

    def __init__(self, url: str, query: str):
        self.ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.query = query
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.reruns = 0
        self.kinds: dict[str, int] = {}  # ForwardMsg types received
        self.page_hash = ""
        self.fragment: tuple[str, float] | None = None
        self._sent_at: float | None = None
        self._stop = False
        self.feed_path: str | None = None  # the shared run's live feed, found in the page's component arguments
        self.feed_polls = 0
        self.feed_latencies: list[float] = []
        self._feed_at = {"after": -1.0, "grid_after": -1.0, "quality_after": -1.0, "dview_after": -1.0}

    def _back(self, **client_state) -> bytes:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ClientState_pb2 import ClientState

        message = BackMsg()
        message.rerun_script.CopyFrom(ClientState(query_string=self.query, page_script_hash=self.page_hash,
                                                  **client_state))
        return message.SerializeToString()

    async def poll_feed(self, base: str, until: float) -> None:
        """What a viewer's tab does between reruns (ui/components/live_feed/feed.js): ask the shared run's feed once
        a second for what is new since what it holds: points, the grid, live quality and the discriminator view."""
        import urllib.request

        def get(url: str) -> dict:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())

        while time.monotonic() < until and not self._stop:
            tick = time.monotonic()
            query = "&".join(f"{name}={value:g}" for name, value in self._feed_at.items())
            try:
                body = await asyncio.to_thread(get, f"{base}{self.feed_path}?{query}")
            except Exception as exc:  # a 404 (the run gone) or a dropped request: counted, then asked again
                self.errors.append(f"feed: {exc}"[:200])
                body = None
            self.feed_polls += 1
            self.feed_latencies.append(time.monotonic() - tick)
            if body:
                if body.get("steps"):
                    self._feed_at["after"] = float(body["steps"][-1])
                if body.get("grid"):
                    self._feed_at["grid_after"] = float(body["grid"]["step"])
                if (body.get("quality") or {}).get("steps"):
                    self._feed_at["quality_after"] = float(body["quality"]["steps"][-1])
                if body.get("dview"):
                    self._feed_at["dview_after"] = float(body["dview"]["chunk"])
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

    async def run(self, until: float) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from websockets.asyncio.client import connect  # streamlit's own server dependency

        try:
            socket = await connect(self.ws_url, subprotocols=["streamlit"], max_size=None)
        except Exception as exc:
            self.errors.append(f"connect: {exc}")
            return
        inbox: asyncio.Queue = asyncio.Queue()

        async def read() -> None:  # one reader task feeding a queue the loop below waits on with a timeout
            try:
                async for raw in socket:
                    await inbox.put(raw)
            except Exception:
                pass
            await inbox.put(None)

        reader = asyncio.ensure_future(read())
        poller = None
        await socket.send(self._back())
        next_rerun = None
        while time.monotonic() < until and not self._stop:
            timeout = 0.5 if next_rerun is None else max(0.01, min(0.5, next_rerun - time.monotonic()))
            try:
                raw = await asyncio.wait_for(inbox.get(), timeout)
            except asyncio.TimeoutError:
                raw = ""
            if raw is None:
                self.errors.append("the server closed the socket")
                return
            if raw and self.feed_path is None:
                found = FEED_PATH.search(raw)
                if found:
                    self.feed_path = found.group(0).decode()
                    poller = asyncio.ensure_future(self.poll_feed(self.ws_url.replace("ws://", "http://").rsplit(
                        "/_stcore/", 1)[0], until))
            if raw:
                message = ForwardMsg()
                message.ParseFromString(raw)
                kind = message.WhichOneof("type")
                self.kinds[kind] = self.kinds.get(kind, 0) + 1
                if kind == "new_session":
                    self.page_hash = message.new_session.page_script_hash or self.page_hash
                elif kind == "auto_rerun":
                    self.fragment = (message.auto_rerun.fragment_id, message.auto_rerun.interval)
                    next_rerun = next_rerun or time.monotonic() + message.auto_rerun.interval
                elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                    if message.delta.new_element.WhichOneof("type") == "exception":
                        self.errors.append(message.delta.new_element.exception.message[:200])
                elif kind == "script_finished" and self._sent_at is not None:
                    self.latencies.append(time.monotonic() - self._sent_at)
                    self._sent_at = None
            if self.fragment is not None and next_rerun is not None and time.monotonic() >= next_rerun \
                    and self._sent_at is None:
                self._sent_at = time.monotonic()
                self.reruns += 1
                await socket.send(self._back(fragment_id=self.fragment[0], is_auto_rerun=True))
                next_rerun = time.monotonic() + self.fragment[1]
        reader.cancel()
        if poller is not None:
            poller.cancel()
        await socket.close()


def run_light_viewers(url: str, query: str, count: int, until: float) -> tuple[list[LightViewer], threading.Thread]:
    viewers = [LightViewer(url, query) for _ in range(count)]

    def main() -> None:
        async def all_of_them():
            await asyncio.gather(*(viewer.run(until) for viewer in viewers))

        asyncio.run(all_of_them())

    thread = threading.Thread(target=main, daemon=True, name="light-viewers")
    thread.start()
    return viewers, thread


# ---- helpers -------------------------------------------------------------------------------------------
class RssSampler(threading.Thread):
    def __init__(self, server: AppServer, every_s: float = 2.0):
        super().__init__(daemon=True, name="rss")
        self.server, self.every_s, self.samples, self.started = server, every_s, [], time.monotonic()
        self.phase = "start"
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((round(time.monotonic() - self.started, 1), self.phase, round(self.server.rss_mb())))
            self._stop_event.wait(self.every_s)

    def stop(self) -> None:
        self._stop_event.set()


def measure_steps(page, seconds: float) -> float:
    """The presenter's steps/s: the Step metric's change over `seconds`, timed from its first change."""
    first = step_value(page)
    wait_until(lambda: step_value(page) != first, timeout=5, interval=0.05)
    start_step, start = step_value(page), time.monotonic()
    time.sleep(seconds)
    end_step = step_value(page)
    wait_until(lambda: step_value(page) != end_step, timeout=5, interval=0.05)
    return (step_value(page) - start_step) / (time.monotonic() - start)


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)


# ---- the benchmark -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--browsers", type=int, default=3, help="of the viewers, how many are real Chromium tabs")
    parser.add_argument("--trainers", type=int, default=3, help="sessions that press Start after the viewers")
    parser.add_argument("--phase-s", type=float, default=30.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    report: dict = {"command": " ".join(["benchmarks/load.py", *(argv or sys.argv[1:])]), "cpus": os.cpu_count(),
                    "load_average_before": load_average()}
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        if browser is None:
            raise SystemExit("no Chromium: see tests/browser_support.INSTALL_HINT")
        with AppServer() as server:
            rss = RssSampler(server)
            rss.start()
            presenter = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            presenter.set_default_timeout(180_000)
            presenter.goto(server.url)
            by_key(presenter, "train_start").get_by_role("button").click()
            wait_until(lambda: step_value(presenter) > 0, timeout=300)
            presenter.get_by_text("Share live view").first.click()
            by_key(presenter, "presenter_share").get_by_role("button").click()
            link = presenter.locator('[data-testid="stCode"] code').first.inner_text().strip()
            query = link.split("?", 1)[1]
            time.sleep(5)  # past the first chunk's tracing

            rss.phase = "alone"
            report["load_average_alone"] = load_average()
            cpu_start, clock = cpu_seconds(server.process.pid), time.monotonic()
            alone = measure_steps(presenter, args.phase_s)
            report["server_cpu_share_alone"] = round((cpu_seconds(server.process.pid) - cpu_start)
                                                     / (time.monotonic() - clock), 3)
            report["presenter_steps_per_s_alone"] = round(alone, 1)
            report["load_average_alone_end"] = load_average()

            rss.phase = "watched"
            light_count = max(0, args.viewers - args.browsers)
            until = time.monotonic() + args.phase_s + 40
            light, light_thread = run_light_viewers(server.url, query, light_count, until)
            viewers = []
            for _ in range(min(args.browsers, args.viewers)):
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.set_default_timeout(120_000)
                page.goto(link)
                viewers.append(page)
            for page in viewers:
                wait_until(lambda: page.locator(NUMBERS).count() > 0, timeout=120)
            time.sleep(5)  # every viewer settled into its refresh
            browser_steps = [step_value(page) for page in viewers]
            cpu_start, clock = cpu_seconds(server.process.pid), time.monotonic()
            watched = measure_steps(presenter, args.phase_s)
            report["server_cpu_share_watched"] = round((cpu_seconds(server.process.pid) - cpu_start)
                                                       / (time.monotonic() - clock), 3)
            report["presenter_steps_per_s_watched"] = round(watched, 1)
            report["ratio_watched_to_alone"] = round(watched / alone, 3) if alone else None
            report["load_average_watched_end"] = load_average()
            browser_errors = []
            for index, page in enumerate(viewers):
                if page.locator('[data-testid="stException"]').count():
                    browser_errors.append(f"browser viewer {index}: exception box")
                if step_value(page) <= browser_steps[index]:
                    browser_errors.append(f"browser viewer {index}: Step stood still")
            light_thread.join(timeout=args.phase_s + 60)
            latencies = [value for viewer in light for value in viewer.latencies]
            feed = [value for viewer in light for value in viewer.feed_latencies]
            report["viewers"] = {"browsers": len(viewers), "lightweight": light_count,
                                 "light_reruns": sum(viewer.reruns for viewer in light),
                                 "light_messages": light[0].kinds if light else {},
                                 "refresh_latency_s": {"p50": percentile(latencies, 0.5),
                                                       "p95": percentile(latencies, 0.95),
                                                       "max": percentile(latencies, 1.0),
                                                       "mean": round(statistics.fmean(latencies), 3) if latencies
                                                       else None},
                                 "light_with_feed": sum(viewer.feed_path is not None for viewer in light),
                                 "light_feed_polls": sum(viewer.feed_polls for viewer in light),
                                 "feed_latency_s": {"p50": percentile(feed, 0.5), "p95": percentile(feed, 0.95),
                                                    "max": percentile(feed, 1.0)},
                                 "errors": browser_errors + [e for viewer in light for e in viewer.errors]}
            for page in viewers:
                page.context.close()

            rss.phase = "trainers"
            trainers = []
            for _ in range(args.trainers):
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.set_default_timeout(120_000)
                page.goto(server.url)
                by_key(page, "train_start").get_by_role("button").wait_for()
                trainers.append(page)
            for page in trainers:  # as close to at once as one browser driver allows
                by_key(page, "train_start").get_by_role("button").click()
            outcomes = []
            for page in trainers:
                capped = wait_until(lambda: page.get_by_text(CAP_TEXT).count() > 0
                                    or page.locator(NUMBERS).count() > 0, timeout=120)
                message = page.get_by_text(CAP_TEXT).first.inner_text() if page.get_by_text(CAP_TEXT).count() else ""
                outcomes.append({"refused": bool(message), "message": message, "settled": capped})
            report["trainers"] = outcomes
            for page in trainers:
                page.context.close()
            rss.phase = "after"
            time.sleep(4)
            rss.stop()
            report["rss_mb"] = rss.samples
            report["rss_mb_max_by_phase"] = {phase: max(mb for _, p, mb in rss.samples if p == phase)
                                             for phase in dict.fromkeys(p for _, p, _ in rss.samples)}
            presenter.context.close()
        browser.close()
    report["load_average_after"] = load_average()
    text = json.dumps(report, indent=1)
    print(json.dumps({key: value for key, value in report.items() if key != "rss_mb"}, indent=1))
    if args.json is not None:
        args.json.write_text(text)
    return report


if __name__ == "__main__":
    main()
