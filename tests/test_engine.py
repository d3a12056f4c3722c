"""The lab engine in real worker processes, with tiny networks: runs, deltas, the cap, kills, NumPy models."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gan_core.config import GANConfig
from gan_core.engine import CapacityError, EngineOptions, LabEngine
from gan_core.messages import RunSnapshot, RunView
from gan_core.transport import WorkerGone
from process_support import pid_alive as _alive, wait_for as _wait

ROOT = Path(__file__).resolve().parents[1]
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
START_S = 240  # a worker imports TensorFlow first: generous on a loaded two-core machine


@pytest.fixture(scope="module")
def engine():
    engine = LabEngine(EngineOptions(max_trainers=2, spare_config=TINY, chunk_steps=10, quality_every=0,
                                     judge_dir=None, recovery_every_s=0.0))
    yield engine
    engine.shutdown()


def test_a_run_trains_in_its_own_process_and_the_page_gets_only_new_points(engine):
    run = engine.create_run(TINY)
    run.step(1)
    assert run.wait_for_step(10, timeout=START_S)
    assert run.worker.pid != os.getpid()
    assert _wait(lambda: not run.poll().busy)  # the chunk's end: grid and probes done
    view = run.poll()
    assert view.status == "paused" and view.step == 10
    assert list(view.history["step"]) == [5, 10]  # one point per traced call of steps_per_call steps
    assert view.samples is not None and view.samples.shape == (64, 28, 28)
    assert 0.0 <= view.samples.min() and view.samples.max() <= 1.0
    assert set(view.extras["discriminator_view"]) == {"real", "fake"}

    # Asked again with nothing new, the worker sends no points and no grid.
    quiet: RunSnapshot = run.worker.call("snapshot", view.known())
    assert len(quiet.history["step"]) == 0 and not quiet.history_reset and quiet.samples is None
    known = view.known()
    run.step(1)
    assert run.wait_for_step(20, timeout=START_S)
    assert _wait(lambda: not run.worker.call("snapshot", known).busy)
    delta: RunSnapshot = run.worker.call("snapshot", known)
    assert list(delta.history["step"]) == [15, 20] and not delta.history_reset and delta.samples_step == 20
    assert list(run.poll().history["step"]) == [5, 10, 15, 20]
    run.discard()


def test_the_inference_worker_waits_while_a_start_takes_the_warming_spare():
    """Warm-up order: the spare, then the shared inference worker. A Start pressed while the spare still warms
    keeps the cores until its run is made in the worker: the inference worker's TensorFlow import waits."""
    engine = LabEngine(EngineOptions(max_trainers=2, spare_config=TINY, chunk_steps=10, quality_every=0,
                                     judge_dir=None, recovery_every_s=0.0))
    try:
        assert _wait(lambda: engine.pool.spare_pid() is not None, timeout=START_S)  # its process is up...
        assert engine.status()["warming"]  # ...and still imports TensorFlow
        run = engine.create_run(TINY)
        run.start()
        waited = 0
        while run.starting:
            assert not engine.pool.pids("inference"), f"the inference worker started {waited * 0.05:.1f} s in"
            waited += 1
            time.sleep(0.05)
        assert waited > 10 and run.reused_spare  # the Start did wait for the warming spare
        assert run.wait_for_step(10, timeout=START_S)
        assert _wait(lambda: engine.pool.pids("inference"), timeout=START_S)  # and then the inference worker starts
    finally:
        engine.shutdown()


def test_the_warm_spare_is_taken_by_the_default_recipe_even_with_other_learning_rates(engine):
    assert _wait(lambda: not engine.status()["warming"], timeout=120)
    run = engine.create_run(TINY.replace(g_learning_rate=5e-4))
    assert run.wait_started(START_S) and run.reused_spare
    run.start()
    assert run.wait_for_step(10, timeout=START_S)
    assert run.config.g_learning_rate == 5e-4
    run.discard()
    other = engine.create_run(TINY.replace(hidden_units=12))  # a different network: built anew
    assert other.wait_started(START_S) and not other.reused_spare
    other.discard()


def test_reset_ends_the_worker_process(engine):
    run = engine.create_run(TINY)
    run.step(1)
    assert run.wait_for_step(10, timeout=START_S)
    pid = run.worker.pid
    run.discard()
    assert _wait(lambda: not _alive(pid), timeout=5)
    assert _wait(lambda: not run.recovery_dir.exists(), timeout=5)


def test_kill_9_of_a_worker_is_a_state_and_resume_continues_from_the_snapshot(engine):
    run = engine.create_run(TINY)
    run.step(2)
    assert run.wait_for_step(20, timeout=START_S)
    state = run.recovery_dir / "weights" / "state.json"
    assert _wait(lambda: state.is_file() and '"step": 20' in state.read_text())  # saved at the chunk's end
    os.kill(run.worker.pid, signal.SIGKILL)
    assert _wait(lambda: run.poll().status == "worker_gone", timeout=10)  # (how fast: benchmarks, not here)
    view = run.poll()
    assert "ended (killed by SIGKILL)" in view.message and "Resume" in view.message
    run.resume()
    assert run.wait_for_step(30, timeout=START_S)
    view = run.poll()
    assert view.status == "running" and view.history["step"][0] == 5  # the curves came back with the weights
    assert any("Continued from the snapshot saved at step 20" in note for note in run.notes), run.notes
    run.discard()


def test_a_kill_mid_training_then_resume_continues_the_curves_strictly_increasing(engine):
    run = engine.create_run(TINY)
    run.start()
    assert run.wait_for_step(60, timeout=START_S)
    assert _wait(lambda: run.poll().saved_step >= 40)  # a snapshot exists (the worker says which step)
    os.kill(run.worker.pid, signal.SIGKILL)  # mid-chunk: the page has seen points past the snapshot
    assert _wait(lambda: run.poll().status == "worker_gone", timeout=5)
    seen = run.poll().step
    run.resume()
    assert run.wait_for_step(seen + 30, timeout=START_S)
    steps = run.poll().history["step"]
    assert np.all(np.diff(steps) > 0), steps  # never backwards, never a repeated step
    assert steps[0] == 5 and steps[-1] >= seen + 30
    run.discard()


def test_the_periodic_recovery_save_writes_one_consistent_snapshot_while_training():
    from gan_core import checkpoints

    engine = LabEngine(EngineOptions(max_trainers=1, warm_spare=False, chunk_steps=10, quality_every=0,
                                     judge_dir=None, recovery_every_s=0.3))
    try:
        run = engine.create_run(TINY)
        run.start()
        assert run.wait_for_step(10, timeout=START_S)
        saved_steps = set()
        deadline = time.monotonic() + 60
        while len(saved_steps) < 3 and time.monotonic() < deadline:
            saved = checkpoints.read_recovery_snapshot(run.recovery_dir)  # what a Resume would read, mid-training
            if saved is not None:
                history = saved["history"]
                assert len(history["step"]) and history["step"][-1] == saved["step"]  # curves end at the weights' step
                assert np.all(np.diff(history["step"]) > 0)
                saved_steps.add(saved["step"])
            time.sleep(0.1)
        assert len(saved_steps) >= 3 and run.poll().status == "running"  # saved again and again while it trains
        run.discard()
    finally:
        engine.shutdown()


def test_the_cap_refuses_a_run_with_a_message_and_frees_the_slot_on_reset():
    engine = LabEngine(EngineOptions(max_trainers=1, warm_spare=False, chunk_steps=10, quality_every=0,
                                     judge_dir=None))
    try:
        first = engine.create_run(TINY)
        with pytest.raises(CapacityError, match="All 1 training slots"):
            engine.create_run(TINY)
        first.discard()
        second = engine.create_run(TINY)  # the slot is free again
        second.step(1)
        assert second.wait_for_step(10, timeout=START_S)
        second.discard()
    finally:
        engine.shutdown()


def test_a_session_that_ends_stops_its_worker_and_can_resume_later(engine):
    run = engine.create_run(TINY)
    run.step(1)
    assert run.wait_for_step(10, timeout=START_S)
    pid = run.worker.pid
    run.close("the browser session ended")
    assert _wait(lambda: not _alive(pid), timeout=5)
    view = run.poll()
    assert view.status == "stopped" and "the browser session ended" in view.message
    run.step(1)
    assert run.wait_for_step(20, timeout=START_S)
    run.discard()


@pytest.mark.parametrize("socket_kept_open", [False, True], ids=["socket-closes", "parent-watchdog"])
def test_workers_die_with_the_app_killed_mid_chunk(socket_kept_open):
    """kill -9 of the app while a run trains: every worker ends. With the app's sockets kept open by a forked
    child (as a helper process of the server might), only the workers' parent watchdog can notice."""
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from gan_core.config import GANConfig
        from gan_core.engine import EngineOptions, LabEngine
        tiny = GANConfig(hidden_units=8, latent_dim=4, batch_size=16, steps_per_call=5)
        engine = LabEngine(EngineOptions(spare_config=tiny, judge_dir=None, quality_every=0, max_trainers=2))
        run = engine.create_run(tiny)
        run.start()
        assert run.wait_for_step(20, timeout=600)
        engine.describe(tiny)  # starts the inference worker
        if {socket_kept_open!r} and os.fork() == 0:
            time.sleep(600)  # the child holds every socket end the app held
            os._exit(0)
        print(" ".join(str(pid) for pid in engine.worker_pids()), flush=True)
        time.sleep(600)
    """)
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    children = []
    try:
        pids = [int(pid) for pid in app.stdout.readline().split()]
        assert len(pids) >= 2 and all(_alive(pid) for pid in pids)  # a trainer (training) and the inference
        if socket_kept_open:
            children = [int(p) for p in Path(f"/proc/{app.pid}/task/{app.pid}/children").read_text().split()
                        if int(p) not in pids]
            assert children  # the forked child holding the sockets
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        assert _wait(lambda: not any(_alive(pid) for pid in pids), timeout=10)
        assert all(_alive(child) for child in children)  # the sockets were still open: the watchdog did it
    finally:
        app.kill()
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_request_that_fails_in_the_worker_is_an_error_with_its_message(engine):
    from gan_core.transport import WorkerError

    run = engine.create_run(TINY)
    assert run.wait_started(START_S)
    with pytest.raises(WorkerError, match="already holds a run") as caught:
        run.worker.call("create", TINY.to_dict())
    assert caught.value.kind == "RuntimeError"
    run.step(1)
    assert run.wait_for_step(10, timeout=START_S)  # the worker kept serving
    run.discard()


# ---- NumPy models in the page process ------------------------------------------------------------
@pytest.mark.parametrize("config", [
    TINY, TINY.replace(model="cgan"), TINY.replace(model="vae", latent_dim=2), TINY.replace(model="ae"),
    TINY.replace(loss="hinge", ema_decay=0.0)], ids=["gan", "cgan", "vae", "ae", "hinge-no-ema"])
def test_numpy_models_equal_keras_to_float32_rounding(config, tmp_path):
    from gan_core.checkpoints import save_weights_folder
    from gan_core.models import build_model
    from gan_core.numpy_models import NumpyModel

    keras_model = build_model(config)
    rng = np.random.default_rng(0)
    for network in keras_model.weight_networks().values():  # trained-looking weights, not the initial ones
        network.set_weights([w + rng.normal(0, 0.05, w.shape).astype(np.float32) for w in network.get_weights()])
    folder = save_weights_folder(tmp_path / "m", keras_model, config, {"step": 1})
    numpy_model = NumpyModel.from_folder(folder, config)
    z = rng.standard_normal((7, config.latent_dim)).astype(np.float32)
    labels = np.arange(7) % 10
    np.testing.assert_allclose(numpy_model.generate(z, labels), keras_model.generate(z, labels), atol=2e-6)
    images = rng.uniform(0, 1, (7, 28, 28)).astype(np.float32)
    if config.is_adversarial:
        np.testing.assert_allclose(numpy_model.probability(images, labels), keras_model.probability(images, labels),
                                   atol=2e-5)
    else:
        np.testing.assert_allclose(numpy_model.encode(images), keras_model.encode(images), atol=2e-5)
    if config.model == "cgan":
        vectors = np.eye(10, dtype=np.float32)[labels] * 0.5 + 0.05
        np.testing.assert_allclose(numpy_model.generate_soft(z, vectors), keras_model.generate_soft(z, vectors),
                                   atol=2e-6)


def test_numpy_model_refuses_weights_of_another_shape_by_name(tmp_path):
    from gan_core.checkpoints import save_weights_folder
    from gan_core.models import build_model
    from gan_core.numpy_models import NumpyModel, WeightsError

    folder = save_weights_folder(tmp_path / "m", build_model(TINY), TINY, {})
    with pytest.raises(WeightsError, match=r"generator: weight shapes .* do not match this config"):
        NumpyModel.from_folder(folder, TINY.replace(hidden_units=32))
    (folder / "generator_ema.weights.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(WeightsError, match="cannot be read as HDF5"):
        NumpyModel.from_folder(folder, TINY)


def test_a_convolutional_model_is_served_by_the_inference_worker(engine, tmp_path):
    from gan_core.checkpoints import save_weights_folder
    from gan_core.models import build_model

    config = TINY.replace(architecture="conv")
    keras_model = build_model(config)
    folder = save_weights_folder(tmp_path / "dcgan", keras_model, config, {"step": 7})
    handle = engine.shipped_model(folder, "DCGAN")
    assert not handle.in_page and handle.state == {"step": 7}
    z = np.random.default_rng(1).standard_normal((3, config.latent_dim)).astype(np.float32)
    np.testing.assert_allclose(handle.generate(z), keras_model.generate(z), atol=1e-5)
    engine._inference.close()  # a dead inference worker is replaced, and the model loaded again
    np.testing.assert_allclose(handle.generate(z), keras_model.generate(z), atol=1e-5)


def test_run_view_stays_bounded_and_keeps_the_newest_points():
    view = RunView(max_points=400)
    for chunk in range(50):
        steps = np.arange(chunk * 100, (chunk + 1) * 100, dtype=np.float64) + 1
        view.apply(RunSnapshot(status="running", step=int(steps[-1]), elapsed_s=0.0, steps_per_second=0.0, chunks=chunk,
                               busy=True, history={"step": steps, "d_loss": steps * 0.0}, history_count=int(steps[-1])))
    assert len(view.history["step"]) <= 400
    assert view.history["step"][-1] == 5000 and view.history["step"][0] == 1
    assert np.all(np.diff(view.history["step"]) > 0)
    assert np.array_equal(view.history["step"][-100:], np.arange(4901, 5001))  # the newest quarter whole


# ---- who owns a worker: the pool's races, with a transport that holds each step (tests/fake_transport.py) ----
def _fake_engine(workers, **options) -> LabEngine:
    defaults = dict(max_trainers=1, warm_spare=False, quality_every=0, judge_dir=None, make_worker=workers)
    return LabEngine(EngineOptions(**{**defaults, **options}), start=False)


def test_closing_a_run_whose_worker_is_still_creating_returns_at_once_and_leaves_no_trainer():
    import threading

    from fake_transport import FakeWorkers

    workers = FakeWorkers(create_gate=threading.Event())  # `create` never finishes on its own: a slow machine
    engine = _fake_engine(workers)
    try:
        run = engine.create_run(TINY)
        assert _wait(lambda: workers.made and workers.made[0].in_create.is_set(), timeout=5)
        run.start()  # queued behind the create
        started = time.monotonic()
        run.close("reset")
        assert time.monotonic() - started < 1.0  # the page is never held
        worker = workers.made[0]
        assert _wait(worker.closed.is_set, timeout=5)  # the process ends though `create` never answered
        workers.create_gate.set()
        time.sleep(0.2)
        assert "start" not in worker.calls  # the queued Start is never replayed into a dead run
        assert engine.pool.trainers() == 0
        second = engine.create_run(TINY)  # the slot is free at once
        with pytest.raises(CapacityError):
            engine.create_run(TINY)  # ...and the cap still counts the new lease
        second.discard()
    finally:
        engine.shutdown()
    # A spare still being made when the engine shut down is closed by its maker as it arrives (WorkerPool.close_all):
    # on a loaded machine that is after shutdown() returns (CI at c78ed0c, while other tests ran beside it).
    assert _wait(lambda: all(worker.closed.is_set() for worker in workers.made), timeout=5), (
        [worker.closed.is_set() for worker in workers.made])


def test_a_worker_killed_while_it_creates_the_run_is_an_ended_worker_that_resume_replaces():
    """Found by benchmarks/chaos.py --browser: a kill -9 during `create` (a Resume after an earlier kill, on a
    slow machine) left the run in "error", where only Reset (which discards the snapshot and curves) was offered."""
    import threading

    from fake_transport import FakeWorkers

    workers = FakeWorkers(create_gate=threading.Event())
    engine = _fake_engine(workers)
    try:
        run = engine.create_run(TINY)
        assert _wait(lambda: workers.made and workers.made[0].in_create.is_set(), timeout=5)
        workers.made[0].closed.set()  # the process dies inside `create`
        assert _wait(lambda: run.poll().status == "worker_gone", timeout=5), run.poll().message
        assert "could not start" not in run.poll().message
        assert engine.pool.trainers() == 0  # a dead worker holds no slot, as after any kill
        workers.create_gate.set()
        run.resume()
        assert run.wait_started(5) and len(workers.made) == 2 and run.worker is workers.made[1]
        assert "start" in workers.made[1].calls and run.poll().status == "running"
        assert engine.pool.trainers() == 1 and workers.made[0].closed.is_set()
        run.discard()
    finally:
        engine.shutdown()


def test_a_refill_whose_prepare_fails_never_ends_the_worker_a_run_took():
    import threading

    from fake_transport import FakeWorkers

    workers = FakeWorkers(prepare_gate=threading.Event(), prepare_fails=True)
    engine = _fake_engine(workers, warm_spare=True)
    try:
        refill = threading.Thread(target=engine.pool.refill_spare)
        refill.start()
        assert _wait(lambda: workers.made and workers.made[0].in_prepare.is_set(), timeout=5)
        run = engine.create_run(TINY)  # takes the spare while its prepare is still under way
        workers.prepare_gate.set()  # ...which then fails (a busy host, a full cluster)
        refill.join(5)
        assert run.wait_started(START_S)
        assert run.worker is workers.made[0] and run.worker.alive()
        run.start()
        assert "start" in workers.made[0].calls
        run.discard()
    finally:
        engine.shutdown()


def test_shutdown_reaches_a_worker_that_is_still_being_made():
    import threading

    from fake_transport import FakeWorkers

    workers = FakeWorkers(make_gate=threading.Event())
    engine = _fake_engine(workers)
    run = engine.create_run(TINY)
    assert workers.making.wait(5)
    engine.shutdown()
    workers.make_gate.set()  # the worker arrives after the engine has shut down
    assert _wait(lambda: len(workers.made) == 1 and workers.made[0].closed.is_set(), timeout=5)
    assert "create" not in workers.made[0].calls
    assert not run.live


def test_a_session_holds_at_most_its_share_of_trainers():
    from fake_transport import FakeWorkers

    engine = _fake_engine(FakeWorkers(), max_trainers=3, max_trainers_per_owner=1)
    try:
        mine = engine.create_run(TINY, owner="session-a")
        with pytest.raises(CapacityError, match="GAN_LAB_MAX_TRAINERS_PER_SESSION=1"):
            engine.create_run(TINY, owner="session-a")
        theirs = engine.create_run(TINY, owner="session-b")  # another session still gets a slot
        mine.discard()
        again = engine.create_run(TINY, owner="session-a")  # a Reset gives the share back
        for run in (theirs, again):
            run.discard()
    finally:
        engine.shutdown()


def test_a_worker_that_cannot_be_made_in_time_is_a_message_not_a_hang():
    import threading

    from fake_transport import FakeWorkers

    workers = FakeWorkers(make_gate=threading.Event())  # a cluster that never answers
    engine = _fake_engine(workers, connect_timeout_s=0.5)
    try:
        run = engine.create_run(TINY)
        assert _wait(lambda: run.poll().status == "error", timeout=5)
        assert "could not be started within 0.5 s" in run.poll().message
        assert engine.pool.trainers() == 0  # the slot is free again
        workers.make_gate.set()
        assert _wait(lambda: workers.made and workers.made[0].closed.is_set(), timeout=5)  # the late one is closed
    finally:
        engine.shutdown()


def test_a_long_evaluation_does_not_stall_another_visitors_quick_requests():
    import threading

    from fake_transport import FakeWorkers

    workers = FakeWorkers(evaluate_gate=threading.Event())
    engine = _fake_engine(workers, judge_dir="judge")
    try:
        evaluation = threading.Thread(target=lambda: engine.lanes.call(None, "evaluate", "judge", "ref", 1000))
        evaluation.start()
        assert _wait(lambda: any("evaluate" in w.calls for w in workers.made), timeout=5)
        started = time.monotonic()
        assert engine.describe(TINY) == {"generator": []}  # the slider's lane answers meanwhile
        assert time.monotonic() - started < 1.0
        long_worker = next(w for w in workers.made if "evaluate" in w.calls)
        assert "describe" not in long_worker.calls  # on a worker of its own
        workers.evaluate_gate.set()
        evaluation.join(5)
    finally:
        engine.shutdown()
    assert all(w.closed.is_set() for w in workers.made)


def test_recovery_folders_of_ended_sessions_go_after_the_grace_period_and_past_the_quota():
    from fake_transport import FakeWorkers

    engine = _fake_engine(FakeWorkers(), max_trainers=3, recovery_grace_s=100.0, recovery_quota_mb=1.0)
    try:
        ended, kept, discarded = (engine.create_run(TINY) for _ in range(3))
        for run in (ended, kept, discarded):
            assert run.wait_started(5)
        (ended.recovery_dir / "weights.bin").write_bytes(b"x" * 2000)
        ended.close("the browser session ended")
        discarded.discard()
        assert engine.clean_recovery() == [discarded.run_id]  # a Reset run's folder is forgotten at once
        assert ended.recovery_dir.exists()  # within the grace period: a reconnecting browser may Resume
        assert discarded.run_id not in engine._folders
        later = time.monotonic() + 101
        assert engine.clean_recovery(now=later) == [ended.run_id]
        assert not ended.recovery_dir.exists() and kept.recovery_dir.exists()  # a live run's folder stays
        # Past the quota, the oldest ended session's folder goes first, grace period or not.
        (kept.recovery_dir / "weights.bin").write_bytes(b"x" * 1_500_000)
        kept.close("the browser session ended")
        assert engine.clean_recovery() == [kept.run_id]
    finally:
        engine.shutdown()


def test_a_spare_warms_beside_training_only_where_the_cores_go_round(monkeypatch):
    from fake_transport import FakeWorkers

    from gan_core.engine import pool as pool_module

    workers = FakeWorkers()
    pool = pool_module.WorkerPool(workers, max_trainers=4, spare=False)
    try:
        lease = pool.lease("trainer")  # one run training
        monkeypatch.setattr(pool_module.os, "cpu_count", lambda: 2)
        assert not pool.spare_fits_beside_training()  # this machine: the run keeps both cores busy
        monkeypatch.setattr(pool_module.os, "cpu_count", lambda: 2 * pool_module.TRAINER_CORES)
        assert pool.spare_fits_beside_training()
        lease.release()
        monkeypatch.setattr(pool_module.os, "cpu_count", lambda: 2)
        assert pool.spare_fits_beside_training()  # nothing trains: the spare takes no core from anyone
        pool.lease("trainer")
        # A cluster's factory answers from its own resources, whatever this machine's cores.
        workers.spare_fits_beside = lambda trainers: trainers < 3
        assert pool.spare_fits_beside_training()
        pool.lease("trainer")
        pool.lease("trainer")
        assert not pool.spare_fits_beside_training()
    finally:
        pool.close_all()



def test_a_worker_goes_without_the_optional_packages_keras_would_import(engine):
    """gan_core.worker keeps pandas, matplotlib, scikit-learn and scipy out (about two seconds of every worker's
    start; Keras imports them when installed, and mlxtend installs them): a worker that has trained maps none."""
    run = engine.create_run(TINY)
    run.step(1)
    assert run.wait_for_step(10, timeout=START_S)
    mapped = Path(f"/proc/{run.worker.pid}/maps").read_text()
    assert "/tensorflow/" in mapped  # the check can see a package's shared libraries
    for package in ("pandas", "matplotlib", "sklearn", "scipy"):
        assert f"/{package}/" not in mapped, package
    run.discard()


def test_a_start_while_the_spare_is_being_made_takes_that_spare_instead_of_a_second_process():
    """The first ~0.5 s after the server starts (or a refill begins), the spare's process exists only in the
    making; a Start then used to make a second trainer beside it, both importing TensorFlow on the same cores."""
    from fake_transport import FakeWorkers

    from gan_core.engine import pool as pool_module

    gate = threading.Event()
    workers = FakeWorkers(make_gate=gate)
    pool = pool_module.WorkerPool(workers, max_trainers=2)
    try:
        pool.refill_later()
        assert workers.making.wait(5)  # the spare is being made, held at the gate
        lease = pool.lease("trainer")
        assert lease.current is None  # nothing to take yet
        got = {}
        taker = threading.Thread(target=lambda: got.setdefault("worker", lease.worker()))
        taker.start()
        time.sleep(0.2)
        assert len(workers.made) == 0 and taker.is_alive()  # waiting for the spare, not making its own
        gate.set()
        taker.join(5)
        assert got["worker"] is workers.made[0] and lease.from_spare
        assert len(workers.made) == 1 and pool._spare is None
        # A lease released while it waits stops waiting and makes nothing.
        gate.clear()
        workers.making.clear()
        pool.refill_later()
        assert workers.making.wait(5)
        second = pool.lease("trainer")
        waiter = threading.Thread(target=lambda: got.setdefault("error", _worker_or_error(second)))
        waiter.start()
        time.sleep(0.1)
        second.release()
        waiter.join(5)
        assert not waiter.is_alive() and isinstance(got["error"], WorkerGone)
        gate.set()
    finally:
        pool.close_all()


def _worker_or_error(lease):
    try:
        return lease.worker()
    except Exception as exc:  # noqa: BLE001 - the test inspects which
        return exc
