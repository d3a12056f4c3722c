"""How long a Ray actor takes to answer its first call: with its own runtime_env (this checkout on PYTHONPATH, as
gan_core.transport_ray.RayWorker makes its actors) against inheriting the same variables from the job's
`ray.init(runtime_env=...)`. A question about Ray Start's wait (benchmarks/README.md): does the per-actor
environment cost Ray a fresh worker process? The actor imports gan_core, not TensorFlow.

    .venv/bin/python benchmarks/ray_actor_start.py [--actors 3] [--rounds 2]

Starts a local head (`ray start --head --num-cpus 2`) and stops it at the end; each round runs each way once,
in a driver process of its own (a job's runtime_env is fixed when it connects).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_core.transport_ray import actor_runtime_env  # noqa: E402  (the environment RayWorker gives its actors)

ENV = actor_runtime_env()


def driver(mode: str, actors: int) -> None:
    import ray

    ray.init(address="auto", namespace="ray-actor-start", log_to_driver=False,
             **({"runtime_env": ENV} if mode == "job" else {}))

    @ray.remote(num_cpus=1)
    class Probe:
        def ping(self) -> int:
            import gan_core  # noqa: F401  (needs the checkout on the worker's path)
            return os.getpid()

    options = {"runtime_env": ENV} if mode == "actor" else {}
    seconds = []
    for _ in range(actors):
        began = time.perf_counter()
        probe = Probe.options(**options).remote()
        ray.get(probe.ping.remote())
        seconds.append(time.perf_counter() - began)
        ray.kill(probe)
        time.sleep(1.0)
    print(" ".join(f"{s:.2f}" for s in seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actors", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--driver", choices=["actor", "job"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        driver(args.driver, args.actors)
        return
    ray = str(Path(sys.executable).with_name("ray"))
    subprocess.run([ray, "start", "--head", "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats"],
                   check=True, capture_output=True)
    try:
        rows = {"actor": [], "job": []}
        for _ in range(args.rounds):
            for mode in rows:
                out = subprocess.run([sys.executable, __file__, "--driver", mode, "--actors", str(args.actors)],
                                     capture_output=True, text=True, check=True).stdout.split()
                rows[mode] += [float(value) for value in out]
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| actor environment | seconds to the first answer |\n|---|---|")
    print(f"| its own runtime_env (as RayWorker) | {', '.join(f'{s:.2f}' for s in rows['actor'])} |")
    print(f"| the job's runtime_env | {', '.join(f'{s:.2f}' for s in rows['job'])} |")


if __name__ == "__main__":
    main()
