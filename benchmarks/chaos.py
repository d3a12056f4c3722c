"""Chaos: sessions doing random Start / Pause / Resume / Step / Reset / close-tab / reopen, plus `kill -9` of
random workers, for a while; then every session closes.

Two modes:
- engine (default): sessions are threads calling the engine directly, as the pages do.
- `--browser`: real Chromium tabs on one `streamlit run app.py` server (`--port`), one browser context (its own
  cookie, so its own run) per session; buttons are clicked on the Train page, tabs closed and reopened, and
  random worker processes of the server killed. The server runs with a short browser grace
  (GAN_LAB_BROWSER_GRACE_S), so a tab away longer than it comes back to a stopped run that Resume continues.

Checks (any failure exits 1 and says which):
- engine: no call a page makes raises anything but the engine's messages (CapacityError, EngineError);
  browser: no exception box, no "Traceback" and no error box other than the engine's messages on any page;
- every run's curve is strictly increasing in step (engine: at every poll; browser: the history CSV the
  Downloads expander gives, fetched at random moments and at the end);
- after all sessions close (browser: and the grace has passed), only the warm spare and the inference worker
  remain, and the cap counts nothing;
- the app's and the workers' memory (RSS) at the start and the end, within 100 MB.

Usage: python benchmarks/chaos.py [--sessions 3] [--seconds 120] [--seed 0] [--max-trainers 2]
       python benchmarks/chaos.py --browser [--sessions 3] [--seconds 180] [--port 8611] [--grace 8]
Tiny networks in engine mode, the Train page's default recipe in the browser: the chaos is about ownership and
recovery, not about training speed.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_core.config import GANConfig  # noqa: E402
from gan_core.engine import CapacityError, EngineError, EngineOptions, LabEngine  # noqa: E402

TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
# (action, weight): mostly polling and pausing/resuming, so runs live long enough to train between the
# disruptions (a worker's start takes seconds: TensorFlow is imported afresh after every kill or close).
ACTIONS = (("poll", 12), ("start", 2), ("pause", 2), ("resume", 3), ("step", 2), ("reset", 1), ("close", 1),
           ("kill", 1))


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Session:
    def __init__(self, name: str, engine: LabEngine, rng: random.Random, failures: list[str], counts: dict):
        self.name, self.engine, self.rng, self.failures, self.counts = name, engine, rng, failures, counts
        self.run = None
        self.resumed: set[str] = set()  # runs that continued from a recovery snapshot

    def act(self, action: str) -> None:
        self.counts[action] = self.counts.get(action, 0) + 1
        run = self.run
        try:
            if action == "start":
                if run is None:
                    self.run = self.engine.create_run(TINY, owner=self.name)
                    self.run.start()
                else:
                    run.start()
            elif action == "resume" and run is not None:
                run.resume()
            elif action == "pause" and run is not None:
                run.pause()
            elif action == "step":
                if run is None:
                    self.run = self.engine.create_run(TINY, owner=self.name)
                    self.run.step(1)
                else:
                    run.step(1)
            elif action == "reset" and run is not None:
                run.discard()
                self.run = None
            elif action == "close" and run is not None:
                run.close("the browser session ended")  # the tab closes; the next action is the reopened tab's
            elif action == "kill":
                pids = self.engine.trainer_pids()
                if pids:
                    try:
                        os.kill(self.rng.choice(pids), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if self.run is not None:
                self.check(self.run.poll())
        except (CapacityError, EngineError) as exc:  # messages a page shows
            self.counts["message"] = self.counts.get("message", 0) + 1
            if "Traceback" in str(exc):
                self.failures.append(f"{self.name}: a traceback in a message: {exc}")
        except Exception as exc:  # anything else would be an exception on a page
            self.failures.append(f"{self.name} {action}: {type(exc).__name__}: {exc}")

    def check(self, view) -> None:
        steps = view.history.get("step")
        if steps is not None and len(steps) > 1 and not np.all(np.diff(steps) > 0):
            bad = int(np.argmin(np.diff(steps)))
            self.failures.append(f"{self.name}: the curve goes back at point {bad}: {steps[bad]} -> {steps[bad + 1]}")
        self.counts["max_step"] = max(self.counts.get("max_step", 0), view.step)
        if view.history.get("step") is not None and len(view.history["step"]):
            self.counts["polls_with_curves"] = self.counts.get("polls_with_curves", 0) + 1
        if any("Continued from the snapshot" in note for note in self.run.notes):
            self.resumed.add(self.run.run_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-trainers", type=int, default=2)
    parser.add_argument("--browser", action="store_true", help="real Chromium tabs on a `streamlit run app.py`")
    parser.add_argument("--port", type=int, default=8611, help="--browser: the server's port")
    parser.add_argument("--grace", type=float, default=8.0, help="--browser: the browser grace (seconds)")
    args = parser.parse_args(argv)
    if args.browser:
        from chaos_browser import browser_chaos  # noqa: PLC0415 - playwright only for this mode

        return browser_chaos(args)
    engine = LabEngine(EngineOptions(max_trainers=args.max_trainers, spare_config=TINY, chunk_steps=10,
                                     quality_every=0, judge_dir=None, recovery_every_s=1.0))
    began = time.monotonic()
    engine.describe(TINY)  # the inference worker, as a visitor of the Model page would start it
    while engine.status()["warming"] or not engine.status()["spare"]:
        time.sleep(0.5)
    workers_before = {pid: rss_mb(pid) for pid in engine.worker_pids()}
    app_before = rss_mb(os.getpid())
    print(f"warm after {time.monotonic() - began:.1f} s: app {app_before:.0f} MB, "
          f"workers {sum(workers_before.values()):.0f} MB ({len(workers_before)})", flush=True)

    failures: list[str] = []
    counts: dict = {}
    rng = random.Random(args.seed)
    sessions = [Session(f"session-{i}", engine, random.Random(rng.random()), failures, counts)
                for i in range(args.sessions)]
    deadline = time.monotonic() + args.seconds

    def drive(session: Session) -> None:
        while time.monotonic() < deadline:
            session.act(session.rng.choices([a for a, _ in ACTIONS], [w for _, w in ACTIONS])[0])
            time.sleep(session.rng.uniform(0.1, 1.0))

    threads = [threading.Thread(target=drive, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for session in sessions:  # every tab closes for good
        if session.run is not None:
            session.run.close("the browser session ended")
            session.run.discard()

    def settled() -> bool:
        return engine.pool.trainers() == 0 and len(engine.trainer_pids()) <= 1
    settle_deadline = time.monotonic() + 60
    while not settled() and time.monotonic() < settle_deadline:
        time.sleep(0.5)
    engine.pool.refill_spare()
    remaining = engine.worker_pids()
    spare = engine.pool.spare_pid()
    inference = engine._inference.pid if engine._inference is not None else None
    extra = [pid for pid in remaining if pid not in (spare, inference)]
    if extra:
        failures.append(f"workers left besides the spare and the inference worker: {extra}")
    if engine.pool.trainers():
        failures.append(f"the cap still counts {engine.pool.trainers()} trainer(s)")
    workers_after = {pid: rss_mb(pid) for pid in remaining}
    app_after = rss_mb(os.getpid())
    print(f"actions: {dict(sorted(counts.items()))}; runs resumed from a snapshot: "
          f"{sum(len(session.resumed) for session in sessions)}")
    print(f"after {args.seconds:.0f} s of chaos with {args.sessions} sessions: app {app_before:.0f} -> {app_after:.0f} MB"
          f" ({app_after - app_before:+.0f}); workers {sum(workers_before.values()):.0f} -> "
          f"{sum(workers_after.values()):.0f} MB ({len(workers_after)} left: spare {spare}, inference {inference})")
    if app_after - app_before > 100:
        failures.append(f"the app grew by {app_after - app_before:.0f} MB")
    engine.shutdown()
    for failure in failures[:20]:
        print("FAIL:", failure)
    print("chaos: " + ("FAILED" if failures else "passed"), f"({len(failures)} failures)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
