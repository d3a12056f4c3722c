"""Training steps per CPU-second: an engine worker driven the way the Train page drives it, against the CLI.

    .venv/bin/python benchmarks/worker_speed.py [--window-steps 2000] [--rounds 2] [--variants]
    .venv/bin/python benchmarks/worker_speed.py --costs
    .venv/bin/python benchmarks/worker_speed.py --first-point 3

Both train the default recipe on mnist-sample (batch 32 since 30 November; 128 before), one after the other (alternating rounds, each
process paused or ended while the other trains). The worker is a LabEngine run (the warm spare, live quality,
the discriminator view, the timeline and recovery snapshots all on, as the page runs it), polled once a second
as the page's live fragment polls it; no browser. The CLI is `python -m gan_core train` under a pseudo-terminal,
so it prints its step at every chunk end. For each, the steps and the CPU-seconds (user + system of the process
and its children, from /proc/PID/stat) over windows of the same number of steps give steps per CPU-second: a
ratio that holds on a loaded machine, where wall-clock steps/s do not. A window is one live-quality period
(2,000 steps), placed so it holds one scoring whole; the worker's first window also holds the scorer's one-time
set-up. `--variants` adds worker rounds with live quality off and with the pictures (grid, D view) off, to say
what each costs; `--costs` prints only the CPU of each piece of the worker's extra work, each run alone;
`--first-point N` only the engine's share of Start -> first loss point with a warm spare (no browser), N times.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_core.config import GANConfig  # noqa: E402
from gan_core.engine import EngineOptions, LabEngine  # noqa: E402
from procstat import load_average  # noqa: E402
import procstat  # noqa: E402

STEP_PATTERN = re.compile(rb"step (\d+)/")
CLI_CHUNK = 500  # the CLI's steps per chunk (gan_core.__main__: min(500, --checkpoint-every))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process (all its threads) and its waited-for children, in seconds."""
    return procstat.cpu_seconds(pid, children=True)


def cli_round(steps: int) -> dict:
    """The CLI alone: (steps, CPU-seconds, wall) from its first chunk end (500 steps, tracing included: the
    warm-up) to its last, `steps` later."""
    with tempfile.TemporaryDirectory() as out:
        master, slave = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "gan_core", "train", "--steps", str(CLI_CHUNK + steps), "--out", out,
             "--checkpoint-every", "10000000", "--dataset", "mnist-sample", "--batch-size", str(GANConfig().batch_size)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL)
        os.close(slave)
        marks: list[tuple[float, int, float]] = []  # (monotonic, step, CPU-seconds) at each chunk end
        buffer = b""
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the pty closes when the CLI ends
                break
            if not data:
                break
            now = time.monotonic()
            try:
                cpu = cpu_seconds(process.pid)
            except OSError:
                cpu = None
            buffer += data
            found = STEP_PATTERN.findall(buffer)
            buffer = buffer[-64:]
            if found and cpu is not None and (not marks or int(found[-1]) > marks[-1][1]):
                marks.append((now, int(found[-1]), cpu))
        process.wait(timeout=120)
        os.close(master)
    if len(marks) < 2:
        raise RuntimeError("the CLI ended fewer than two chunks")
    (t0, s0, c0), (t1, s1, c1) = marks[0], marks[-1]
    return {"steps": s1 - s0, "cpu_s": c1 - c0, "wall_s": t1 - t0}


class WorkerRun:
    """One engine run trained through its RunClient, polled at the page's rate (the live fragment's 1 s)."""

    def __init__(self, engine: LabEngine, poll_every_s: float):
        self.engine = engine
        self.poll_every_s = poll_every_s
        self.run = engine.create_run(GANConfig())
        self.run.start()
        if not self.run.wait_first_point(300):
            raise RuntimeError(f"the worker drew no point in 300 s: {self.run.poll().message}")
        self.run.pause()
        self._wait_still()

    def _wait_still(self) -> None:
        before = -1
        while self.run.poll().step != before:
            before = self.run.view.step
            time.sleep(0.6)

    def measure(self, start_step: int, steps: int) -> dict:
        """Train from here; measure from the first poll at or past `start_step` to the first `steps` later."""
        pid = self.run.worker.pid
        self.run.start()
        while self.run.poll().step < start_step:
            time.sleep(self.poll_every_s)
        step0, cpu0, t0 = self.run.view.step, cpu_seconds(pid), time.monotonic()
        page0 = cpu_seconds(os.getpid())
        step1 = step0
        while step1 < step0 + steps:
            time.sleep(self.poll_every_s)
            step1, cpu1, t1 = self.run.poll().step, cpu_seconds(pid), time.monotonic()
        page1 = cpu_seconds(os.getpid())
        self.run.pause()
        self._wait_still()
        return {"steps": step1 - step0, "cpu_s": cpu1 - cpu0, "wall_s": t1 - t0, "page_cpu_s": page1 - page0,
                "quality_scores": len(self.run.view.quality["step"]) if self.run.view.quality else 0}

    def close(self) -> None:
        self.run.close()


def engine_for(variant: str) -> LabEngine:
    options = EngineOptions(max_trainers=1)
    if variant == "no live quality":
        options.judge_dir = None
    elif variant == "no pictures":
        options.views_every_s = 1e9  # the grid and the D view only when a chunk ends in a pause
    engine = LabEngine(options, start=False)  # the spare only: no inference worker importing TensorFlow meanwhile
    engine.pool.refill_spare()
    deadline = time.monotonic() + 300
    while engine.pool.spare_status()["warming"] and time.monotonic() < deadline:
        time.sleep(0.5)
    return engine


def piece_costs(repeats: int = 10) -> None:
    """CPU of each piece of per-chunk and periodic work, alone, in a RunService built as the warm spare builds it."""
    from gan_core.quiet import silence_tensorflow

    silence_tensorflow()
    import numpy as np

    from gan_core import metrics, monitor
    from gan_core.run_service import RunService

    service = RunService()
    with tempfile.TemporaryDirectory() as recovery:
        options = {**EngineOptions(make_worker=None).run_options(), "recovery_dir": recovery}
        service.rpc_prepare(GANConfig().to_dict(), options)
        service.rpc_create(GANConfig().to_dict(), options)
        run, trainer = service.run, service.run.trainer
        live = run.live_quality
        live.warm()  # the spare warms it only after sitting idle, and this one is used at once
        while not live.ready:
            time.sleep(0.1)

        def cost(fn, count: int = repeats) -> float:
            started = time.process_time()
            for _ in range(count):
                fn()
            return 1000 * (time.process_time() - started) / count

        def one_scoring() -> None:
            live._next_step = 0  # due now
            live.maybe_submit(trainer.status_numbers()["step"], run.model.sampler.get_weights)
            time.sleep(0.02)
            live.wait_idle(120)

        def reference() -> None:
            with monitor._one_blas_thread():
                live._prepare_reference()

        probe = trainer.probe_functions()[0]
        rows = [("the sample grid (64 digits)", "every views_every_s", cost(trainer.preview)),
                ("the discriminator view (256 real, 256 generated)", "every views_every_s", cost(probe)),
                ("the divergence rollback point (weights + optimizer slots)", "every 1 s",
                 cost(trainer._remember_good_state)),
                ("a recovery snapshot (weights to disk, curves appended)", "every 20 s",
                 cost(service._write_snapshot, 3)),
                ("one live-quality scoring (1,000 digits)", "every 2,000 steps", cost(one_scoring, 3)),
                ("live quality's reference statistics (5,000 real digits)", "once, in the spare", cost(reference, 1))]
        features = np.random.default_rng(0).standard_normal((1000, 128))
        mean, covariance = metrics.feature_statistics(features)
        frechet = lambda: metrics.frechet_distance_from_statistics(mean, covariance, mean, covariance)  # noqa: E731
        default_threads = cost(frechet)
        with monitor._one_blas_thread():
            one_thread = cost(frechet)
        service.close()
    print(f"| {'piece of work':<58} | {'how often':<19} | CPU ms |")
    print(f"|{'-' * 60}|{'-' * 21}|--------|")
    for name, often, milliseconds in rows:
        print(f"| {name:<58} | {often:<19} | {milliseconds:6.1f} |")
    print(f"\nthe Frechet distance of two 128-d Gaussians: {default_threads:.1f} ms CPU on NumPy's default BLAS "
          f"threads, {one_thread:.1f} ms on one (live quality now uses one)")


def first_points(tries: int, settle_s: float = 10.0) -> list[tuple[float, float]]:
    """Start with a warm spare (the page open `settle_s` s): (create + start answered, first point) in seconds,
    measured as the page's Start handler waits (RunClient.wait_started, then wait_first_point), no browser."""
    engine = engine_for("page's options")
    times = []
    try:
        for attempt in range(tries):
            time.sleep(settle_s)
            pressed = time.monotonic()
            run = engine.create_run(GANConfig())
            run.start()
            run.wait_started(60)
            answered = time.monotonic() - pressed
            if not run.wait_first_point(60) or not run.reused_spare:
                raise RuntimeError("the run did not take the warm spare, or drew no point in 60 s")
            times.append((answered, time.monotonic() - pressed))
            run.close()
            if attempt + 1 < tries:  # the next spare, as after a Reset
                engine.pool.refill_spare()
                deadline = time.monotonic() + 300
                while (engine.pool.spare_status()["warming"] or not engine.pool.spare_status()["spare"]) \
                        and time.monotonic() < deadline:
                    time.sleep(0.2)
    finally:
        engine.shutdown()
    return times


def summary(rounds: list[dict]) -> dict:
    rates = [r["steps"] / r["cpu_s"] for r in rounds] or [float("nan")]
    return {"per_cpu_s": statistics.median(rates),
            "steps_per_s": statistics.median(r["steps"] / r["wall_s"] for r in rounds),
            "cores": statistics.median(r["cpu_s"] / r["wall_s"] for r in rounds),
            "all": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window-steps", type=int, default=2000,
                        help="steps in each measured window: the live-quality period, so each holds one scoring")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--poll-every", type=float, default=1.0, help="the page's redraw period (s)")
    parser.add_argument("--variants", action="store_true", help="also: live quality off; pictures off")
    parser.add_argument("--costs", action="store_true", help="only the CPU of each piece of a worker's extra work")
    parser.add_argument("--first-point", type=int, default=0, metavar="TRIES",
                        help="only Start -> first point with a warm spare (engine only), TRIES times")
    args = parser.parse_args()
    if args.first_point:
        print(f"load average before: {load_average()} ({os.cpu_count()} cores)", flush=True)
        for answered, first in first_points(args.first_point):
            print(f"warm spare, engine only: create + start answered in {answered:.3f} s; first loss point "
                  f"{first:.3f} s after create_run")
        print(f"load average after: {load_average()}")
        return
    if args.costs:
        print(f"load average before: {load_average()} ({os.cpu_count()} cores)", flush=True)
        piece_costs()
        print(f"load average after: {load_average()}")
        return
    variants = ["page's options", *(["no live quality", "no pictures"] if args.variants else [])]
    print(f"load average before: {load_average()} ({os.cpu_count()} cores)", flush=True)

    results: dict[str, list[dict]] = {"CLI": [], **{f"worker, {v}": [] for v in variants}}
    page_cpu, scores = [], []
    for variant in variants:
        engine = engine_for(variant)
        try:
            worker = WorkerRun(engine, args.poll_every)
            for index in range(args.rounds):
                # Windows [1000, 3000], [3000, 5000], ...: each holds one live-quality scoring (at 2000, 4000, ...)
                # whole; the first also its one-time set-up (the reference digits' features).
                measured = worker.measure(args.window_steps // 2 + index * args.window_steps, args.window_steps)
                page_cpu.append(measured["page_cpu_s"] / measured["wall_s"])
                scores.append(measured["quality_scores"])
                results[f"worker, {variant}"].append(measured)
                if variant == variants[0]:  # the CLI alternates with the page's own worker
                    results["CLI"].append(cli_round(args.window_steps))
                print(".", end="", flush=True)
            worker.close()
        finally:
            engine.shutdown()
    print()

    cli = summary(results["CLI"])
    print(f"default recipe, mnist-sample, batch {GANConfig().batch_size}; {args.rounds} alternating round(s) of {args.window_steps} steps "
          f"(worker windows from step {args.window_steps // 2}; the CLI's after its first {CLI_CHUNK}-step chunk); "
          f"medians, and each round's steps per CPU-s")
    print(f"| {'trainer':<34} | {'steps per CPU-s':>15} | {'vs CLI':>6} | {'cores used':>10} | {'steps/s':>7} "
          f"| rounds |")
    print(f"|{'-' * 36}|{'-' * 17}|{'-' * 8}|{'-' * 12}|{'-' * 9}|--------|")
    for name, rounds in results.items():
        row = summary(rounds)
        print(f"| {name:<34} | {row['per_cpu_s']:15.1f} | {row['per_cpu_s'] / cli['per_cpu_s']:5.2f}x | "
              f"{row['cores']:10.2f} | {row['steps_per_s']:7.1f} | {' '.join(f'{r:.0f}' for r in row['all'])} |")
    print(f"\nlive-quality scores the page's worker had by each window's end: {scores}")
    print(f"the poller (this process, standing in for the page's server) used {statistics.median(page_cpu):.2f} "
          f"of a core; load average after: {load_average()}")


if __name__ == "__main__":
    main()
