"""Faults on purpose: kill -9 mid-run, writers that collide or crash, downloads that hang. Nothing is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gan_core import checkpoints, data

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden-units", "16", "--latent-dim", "8", "--batch-size", "16", "--steps-per-call", "5"]


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


# ---- atomic writes ------------------------------------------------------------------------------------------
def test_two_writers_of_one_file_never_share_a_temporary(tmp_path):
    from gan_core.__main__ import _atomic_save

    target = tmp_path / "samples.npy"
    both_written = threading.Barrier(2)
    errors = []

    def writer(value):
        def write(temp):
            np.save(temp, np.full(1000, value))
            both_written.wait(10)  # both temporaries exist at once

        try:
            _atomic_save(target, write)
        except Exception as exc:  # a shared temporary name: one writer's rename finds it gone
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(value,)) for value in (1.0, 2.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert np.load(target)[0] in (1.0, 2.0) and len(set(np.load(target))) == 1
    assert _temporaries(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    checkpoints.atomic_write_text(target, "old")

    def half_then_crash(temp):
        temp.write_text("ne")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        checkpoints.atomic_write(target, half_then_crash)
    assert target.read_text() == "old" and _temporaries(tmp_path) == []


def test_replacing_a_folder_never_leaves_a_moment_without_it(tmp_path):
    folder = tmp_path / "weights"
    checkpoints.atomic_write_folder(folder, lambda temp: (temp / "w.bin").write_bytes(b"0" * 1000))
    stop, gaps = threading.Event(), []

    def reader():
        while not stop.is_set():
            try:
                if len((folder / "w.bin").read_bytes()) != 1000:
                    gaps.append("partial")
            except FileNotFoundError:
                gaps.append("missing")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for version in range(200):
            checkpoints.atomic_write_folder(folder, lambda temp: (temp / "w.bin").write_bytes(b"%d" % (version % 10) * 1000))
    finally:
        stop.set()
        thread.join()
    assert gaps == []
    assert _temporaries(tmp_path) == []


def test_stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale_folder = tmp_path / f".step-00000010.{dead_pid}.0123abcd.tmp"
    stale_folder.mkdir()
    stale_file = tmp_path / f".history.csv.{dead_pid}.89abcdef.tmp.csv"
    stale_file.write_text("x")
    live = tmp_path / f".config.json.{os.getpid()}.0123abcd.tmp.json"
    live.write_text("x")
    unrelated = tmp_path / ".keep-me"
    unrelated.write_text("x")
    assert sorted(p.name for p in checkpoints.remove_stale_temporaries(tmp_path)) == sorted(
        [stale_folder.name, stale_file.name])
    assert _temporaries(tmp_path) == sorted([live.name, unrelated.name])


def test_train_classifier_output_is_replaced_whole_or_not_at_all(tmp_path):
    from gan_core.classifier_training import write_classifier_folder

    out = tmp_path / "classifier"
    out.mkdir()
    (out / "classifier.weights.h5").write_bytes(b"old weights")
    (out / "report.json").write_text('{"holdout_accuracy": 0.99}')
    (out / "NOTES.md").write_text("kept")

    class CrashingModel:
        def save_weights(self, path):
            Path(path).write_bytes(b"half")
            raise KeyboardInterrupt  # Ctrl-C in the middle of the write

    with pytest.raises(KeyboardInterrupt):
        write_classifier_folder(out, CrashingModel(), {"holdout_accuracy": 0.5})
    assert (out / "classifier.weights.h5").read_bytes() == b"old weights"
    assert (out / "report.json").read_text() == '{"holdout_accuracy": 0.99}'

    class Model:
        def save_weights(self, path):
            Path(path).write_bytes(b"new weights")

    write_classifier_folder(out, Model(), {"holdout_accuracy": 0.98})
    assert (out / "classifier.weights.h5").read_bytes() == b"new weights"
    assert '"holdout_accuracy": 0.98' in (out / "report.json").read_text()
    assert (out / "NOTES.md").read_text() == "kept"
    assert _temporaries(tmp_path) == []


def test_history_round_trips_exactly_past_a_million_steps(tmp_path):
    steps = np.array([999_995.0, 1_000_000.0, 1_000_005.0, 12_345_678.0])
    history = {"step": steps, "time": np.array([1.0, 2.0, 3.0, 4.123456789123]),
               "d_loss": np.array([0.1, np.nan, 1e-12, 3.0])}
    checkpoints.write_history_csv(tmp_path / "history.csv", history)
    back = checkpoints.read_history_csv(tmp_path / "history.csv")
    np.testing.assert_array_equal(back["step"], steps)
    np.testing.assert_array_equal(back["time"], history["time"])
    np.testing.assert_array_equal(back["d_loss"], history["d_loss"])
    trimmed = checkpoints.read_history_csv(tmp_path / "history.csv", up_to_step=1_000_000)
    assert trimmed["step"].tolist() == [999_995.0, 1_000_000.0]


# ---- kill -9 ------------------------------------------------------------------------------------------------
def _train_process(out: Path, steps: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GAN_LAB_VERBOSE", None)
    return subprocess.Popen([sys.executable, "-m", "gan_core", "train", "--out", str(out), "--steps", str(steps),
                             "--checkpoint-every", "5", *TINY, *extra], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _newest(out: Path) -> str:
    saved = checkpoints.list_checkpoints(out)
    return saved[-1].name if saved else ""


def _wait_for_a_new_checkpoint(out: Path, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until this process has saved: it is training, not still importing TensorFlow."""
    deadline, old = time.monotonic() + timeout, _newest(out)
    while _newest(out) <= old:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.05)


def test_kill_9_at_random_moments_always_leaves_a_loadable_checkpoint_and_resume_continues(tmp_path):
    out = tmp_path / "run"
    rng = random.Random(1)  # reproducible delays; where each lands inside a save is up to the scheduler
    for attempt in range(3):
        process = _train_process(out, 10**9, *(["--resume"] if attempt else []))
        _wait_for_a_new_checkpoint(out, process)
        before = checkpoints.list_checkpoints(out)[-1]
        time.sleep(rng.uniform(0.0, 1.0))  # each chunk of 5 steps ends in a save: most moments are inside one
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        process.stderr.close()
        assert process.returncode == -signal.SIGKILL  # killed mid-training, not ended on its own before the kill
        newest = checkpoints.list_checkpoints(out)[-1]
        assert newest >= before
        model, config, state = checkpoints.load_model(out)  # never a half-written checkpoint
        assert state["step"] == int(newest.name.split("-")[1])
        history = checkpoints.read_history_csv(out / checkpoints.HISTORY_FILE)
        assert history["step"][-1] >= state["step"]  # written first, so it never lags its checkpoint
    resumed_from = checkpoints.read_state(checkpoints.list_checkpoints(out)[-1])["step"]
    final = _train_process(out, resumed_from + 20, "--resume")
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    assert err.decode() == ""  # quiet: no TensorFlow start-up noise either
    assert checkpoints.read_state(checkpoints.list_checkpoints(out)[-1])["step"] == resumed_from + 20
    steps = checkpoints.read_history_csv(out / checkpoints.HISTORY_FILE)["step"]
    assert np.all(np.diff(steps) > 0)  # the redone steps replaced, not duplicated
    assert _temporaries(out) == [] and _temporaries(out / "checkpoints") == []


# ---- downloads ------------------------------------------------------------------------------------------------
def test_a_download_that_hangs_is_killed_and_leaves_the_cache_clean(tmp_path, monkeypatch):
    keras_home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    pid_file = tmp_path / "child.pid"
    monkeypatch.setenv("TEST_PID_FILE", str(pid_file))
    hang = ("import os, sys, time\n"
            "open(os.environ['TEST_PID_FILE'], 'w').write(str(os.getpid()))\n"
            "cache = os.path.join(os.environ['KERAS_HOME'], 'datasets'); os.makedirs(cache, exist_ok=True)\n"
            "open(os.path.join(cache, 'mnist.npz'), 'wb').write(b'half a download')\n"
            "time.sleep(60)\n")
    monkeypatch.setattr(data, "DOWNLOAD_CHILD_CODE", hang)
    offline = data.Dataset(data.OFFLINE_DATASET, np.zeros((1, 28, 28), np.float32))
    monkeypatch.setattr(data, "load_mnist_sample", lambda: offline)  # its first import alone can take 20 s
    started = time.monotonic()
    dataset = data.load_keras_dataset("mnist", timeout_s=3)
    assert time.monotonic() - started < 15
    assert dataset.name == data.OFFLINE_DATASET and "no answer after 3 s" in dataset.notes[0]
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed, and reaped: nothing runs on in the background
    assert not (keras_home / "datasets" / "mnist.npz").exists()  # the half download never reached the cache
    assert _temporaries(keras_home) == []


def test_a_finished_download_lands_in_the_cache(tmp_path, monkeypatch):
    keras_home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    fetch = ("import os, sys, numpy\n"
             "cache = os.path.join(os.environ['KERAS_HOME'], 'datasets'); os.makedirs(cache, exist_ok=True)\n"
             "open(os.path.join(cache, 'mnist.npz'), 'wb').write(b'the whole file')\n"
             "numpy.savez(sys.argv[2], x=numpy.zeros((3, 28, 28), numpy.uint8), y=numpy.arange(3))\n")
    monkeypatch.setattr(data, "DOWNLOAD_CHILD_CODE", fetch)
    dataset = data.load_keras_dataset("mnist", timeout_s=30)
    assert dataset.name == "mnist" and len(dataset) == 3 and dataset.labels.tolist() == [0, 1, 2]
    assert (keras_home / "datasets" / "mnist.npz").read_bytes() == b"the whole file"
    assert _temporaries(keras_home) == []


# ---- safe defaults for a page on a network --------------------------------------------------------------------
def test_make_run_serves_on_localhost_with_xsrf_protection_on():
    makefile = (ROOT / "Makefile").read_text()
    [run_line] = [line for line in makefile.splitlines() if "streamlit run" in line]
    assert "--server.address localhost" in run_line
    settings = makefile + ((ROOT / ".streamlit" / "config.toml").read_text()
                           if (ROOT / ".streamlit" / "config.toml").is_file() else "")
    assert "enableXsrfProtection" not in settings.replace(" ", "") or "enableXsrfProtection=true" in settings.replace(" ", "")
