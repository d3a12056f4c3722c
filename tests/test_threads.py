"""Training processes run each TensorFlow op on one thread (gan_core.quiet.prefer_one_intra_op_thread); the rest
keep TensorFlow's default. Checked in fresh interpreters, where TensorFlow has not started yet: each stands in
TensorFlow's start-up with a stub that prints what TensorFlow would read and stops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUB = ("import os, sys\n"
        "import gan_core.quiet as quiet\n"
        "def started():\n"
        "    print('threads', os.environ.get('TF_NUM_INTRAOP_THREADS'), 'tensorflow' in sys.modules, flush=True)\n"
        "    os._exit(0)\n"
        "quiet.silence_tensorflow = started\n")


def _threads_seen(code: str, env_threads: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    if env_threads is not None:
        env["TF_NUM_INTRAOP_THREADS"] = env_threads
    done = subprocess.run([sys.executable, "-c", STUB + code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    lines = [line for line in done.stdout.splitlines() if line.startswith("threads ")]
    assert lines, done.stderr[-2000:]
    threads, imported = lines[-1].split()[1:]
    assert imported == "False", "TensorFlow was imported before the thread count was chosen"
    return threads


@pytest.mark.parametrize("argv, expected", [
    (["train", "--steps", "10", "--out", "OUT"], "1"),
    (["project", "--weights", "pretrained/gan", "--images", "X.npy", "--out", "Z.npy", "--recon", "R.npy"], "1"),
    (["evaluate", "--weights", "pretrained/gan"], "None"),  # large classifier batches: TensorFlow's default
    (["sample", "--weights", "pretrained/gan", "--n", "4", "--out", "S.npy"], "None"),
])
def test_the_cli_trains_and_projects_on_one_thread_per_op(argv, expected, tmp_path):
    argv = [str(tmp_path / a) if a in ("OUT", "X.npy", "Z.npy", "R.npy", "S.npy") else a for a in argv]
    assert _threads_seen(f"from gan_core.__main__ import main\nmain({argv!r})\n") == expected


def test_an_operators_thread_count_wins(tmp_path):
    code = f"from gan_core.__main__ import main\nmain({['train', '--steps', '10', '--out', str(tmp_path)]!r})\n"
    assert _threads_seen(code, env_threads="2") == "2"


def test_every_engine_worker_runs_one_thread_per_op():
    code = ("from gan_core import worker\n"
            "worker._die_with_parent = lambda pid: None\n"
            "worker.main(['--fd', '0', '--role', 'trainer', '--parent', '1'])\n")
    assert _threads_seen(code) == "1"
