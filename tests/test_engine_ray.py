"""The engine on the Ray transport (GAN_LAB_ENGINE=ray), against a local Ray the module starts and stops.

The same scenarios as tests/test_engine.py for the transport's part of the contract (a run in its own
actor with deltas, Reset ends the actor, a killed actor is a state and Resume continues, the cap under
concurrent Starts), plus what only a cluster gives: a presenter's link opened from another replica.
Kept few and short: Ray and one TensorFlow per actor are heavy on two cores.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="ray is a dev requirement: pip install -r requirements-dev.txt")

from gan_core.config import GANConfig  # noqa: E402
from gan_core.engine import CapacityError, EngineOptions, LabEngine  # noqa: E402
from gan_core.transport import WorkerGone  # noqa: E402
from process_support import wait_for as _wait  # noqa: E402

TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)


@pytest.fixture(scope="module")
def cluster():
    from gan_core import transport_ray

    ray.init(num_cpus=2, include_dashboard=False, namespace=transport_ray.NAMESPACE, log_to_driver=False,
             configure_logging=False)
    yield transport_ray
    ray.shutdown()


def _engine(cluster, max_trainers: int = 2) -> LabEngine:
    workers = cluster.RayWorkers(trainer_cpus=0.5, inference_cpus=0.5)
    return LabEngine(EngineOptions(max_trainers=max_trainers, warm_spare=False, chunk_steps=10, quality_every=0,
                                   judge_dir=None, recovery_every_s=0.0, make_worker=workers))


@pytest.fixture(scope="module")
def engine(cluster):
    engine = _engine(cluster)
    yield engine
    engine.shutdown()


def test_a_spare_actor_warms_beside_training_only_where_the_cluster_has_room(cluster):
    """The test cluster has 2 CPUs: a one-CPU trainer and the half-CPU inference actor leave no room for a spare
    actor beside the run (it warmed on the run's cores); with quarter-CPU actors, up to six runs leave room for
    one more."""
    workers = cluster.RayWorkers(trainer_cpus=1.0, inference_cpus=0.5)
    assert workers.spare_fits_beside(0)  # nothing trains: the spare takes 1 + 0.5 of 2
    assert not workers.spare_fits_beside(1)
    small = cluster.RayWorkers(trainer_cpus=0.25, inference_cpus=0.25)
    assert small.spare_fits_beside(6) and not small.spare_fits_beside(7)  # 6 + 1 trainers x 0.25 + 0.25 = 2
    assert not cluster.RayWorkers(trainer_cpus=0.25, trainer_gpus=1.0).spare_fits_beside(0)  # no GPU here


def test_the_factory_is_chosen_by_gan_lab_engine(monkeypatch, cluster):
    from gan_core.engine import default_make_worker
    from gan_core.transport import LocalWorker

    monkeypatch.setenv("GAN_LAB_ENGINE", "ray")
    assert isinstance(default_make_worker(), cluster.RayWorkers)
    monkeypatch.delenv("GAN_LAB_ENGINE")
    assert default_make_worker() is LocalWorker
    monkeypatch.setenv("GAN_LAB_ENGINE", "slurm")
    with pytest.raises(ValueError, match="GAN_LAB_ENGINE must be 'local' or 'ray'"):
        default_make_worker()


def test_a_run_trains_in_its_own_actor_and_reset_ends_it(engine):
    run = engine.create_run(TINY)
    run.step(1)
    assert run.wait_for_step(10, timeout=180)
    assert run.worker.pid != os.getpid() and run.worker.name.startswith("gan-lab-trainer-")
    mapped = Path(f"/proc/{run.worker.pid}/maps").read_text()  # a local head: the actor is on this machine
    assert "/tensorflow/" in mapped and "/sklearn/" not in mapped and "/scipy/" not in mapped  # as a local worker
    assert _wait(lambda: not run.poll().busy)
    view = run.poll()
    assert view.status == "paused" and list(view.history["step"]) == [5, 10]
    assert view.samples is not None and view.samples.shape == (64, 28, 28)
    quiet = run.worker.call("snapshot", view.known())  # nothing new: no points, no grid
    assert len(quiet.history["step"]) == 0 and quiet.samples is None
    name = run.worker.name
    run.discard()

    def gone() -> bool:
        try:
            ray.get_actor(name, namespace="gan-lab")
        except ValueError:
            return True
        return False

    assert _wait(gone, timeout=20)


def test_a_killed_actor_is_a_state_and_resume_continues_from_the_snapshot(engine):
    run = engine.create_run(TINY)
    run.step(2)
    assert run.wait_for_step(20, timeout=180)
    state = run.recovery_dir / "weights" / "state.json"
    assert _wait(lambda: state.is_file() and '"step": 20' in state.read_text())
    ray.kill(run.worker.actor, no_restart=True)
    assert _wait(lambda: run.poll().status == "worker_gone", timeout=10)
    assert "Resume" in run.poll().message
    with pytest.raises(WorkerGone):
        run.worker.call("snapshot")
    run.resume()
    assert run.wait_for_step(30, timeout=180)
    assert run.poll().history["step"][0] == 5  # the curves came back with the weights
    run.discard()


def test_the_cap_holds_under_concurrent_starts(cluster):
    engine = _engine(cluster, max_trainers=1)
    made, refused, barrier = [], [], threading.Barrier(3)

    def start():
        barrier.wait()
        try:
            made.append(engine.create_run(TINY))
        except CapacityError as exc:
            refused.append(str(exc))

    try:
        threads = [threading.Thread(target=start) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(made) == 1 and len(refused) == 2 and "All 1 training slots" in refused[0]
    finally:
        engine.shutdown()


def test_a_presenter_link_works_from_another_replica_and_ends_with_the_run(engine, cluster):
    run = engine.create_run(TINY)
    run.start()
    token = engine.share(run)
    other = _engine(cluster)  # a second Streamlit replica: its own engine, the same cluster
    try:
        assert _wait(lambda: other.watch(token) is not None, timeout=180)  # published once the worker is up
        shared = other.watch(token)
        assert shared._run is None and shared.run_id == run.run_id  # attached through the registry
        assert _wait(lambda: shared.view().step >= 20, timeout=180)
        assert shared.view().samples is not None
        assert other.watch("no-such-token") is None
        run.discard()
        assert _wait(lambda: bool(shared.ended), timeout=30)
        assert "The presenter reset the run" in shared.ended or "stopped sharing" in shared.ended, shared.ended
        late = _engine(cluster)  # a replica asked only now learns why from the registry
        try:
            assert "The presenter reset the run" in late.watch(token).ended
        finally:
            late.shutdown()
    finally:
        other.shutdown()


def test_an_unreachable_cluster_is_a_message_with_its_address_within_seconds():
    """A bad RAY_ADDRESS (a local port where nothing listens: no network needed) never holds a page."""
    import socket
    import subprocess
    import sys
    import textwrap

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from gan_core.config import GANConfig
        from gan_core.engine import EngineOptions, LabEngine
        from gan_core.transport_ray import RayWorkers
        engine = LabEngine(EngineOptions(warm_spare=False, judge_dir=None, quality_every=0,
                                         make_worker=RayWorkers(address="127.0.0.1:{port}")), start=False)
        began = time.monotonic()
        run = engine.create_run(GANConfig(hidden_units=8, latent_dim=4))
        print("returned", time.monotonic() - began, flush=True)
        while run.poll().status == "starting" and time.monotonic() - began < 60:
            time.sleep(0.1)
        print("status", run.poll().status, time.monotonic() - began, flush=True)
        print("message", run.poll().message, flush=True)
        engine.shutdown()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GAN_LAB_RAY_CONNECT_S": "5", "RAY_ADDRESS": ""})
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in done.stdout.splitlines() if " " in line}
    assert float(lines["returned"]) < 1.0, done.stdout + done.stderr  # Start never waits for the cluster
    status, seconds = lines["status"].split()
    assert status == "error" and float(seconds) < 15, done.stdout
    assert f"127.0.0.1:{port}" in lines["message"] and "Ray cluster" in lines["message"]


def test_an_unavailable_actor_is_not_dead_and_a_dead_one_is_still_killed(monkeypatch):
    """ActorUnavailableError (a RayActorError) is transient: a retry, not a death; a dead actor is ray.kill'ed."""
    from gan_core import transport_ray

    class Method:
        def remote(self, *args):
            return object()

    class Actor:
        call = ping = shutdown = Method()

    raised = [ray.exceptions.ActorUnavailableError("the actor's node is reconnecting", None)]
    killed = []

    def fake_get(reference, timeout=None):
        if raised:
            raise raised[0]
        return True, "answer"

    monkeypatch.setattr(transport_ray.ray, "get", fake_get)
    monkeypatch.setattr(transport_ray.ray, "wait", lambda refs, timeout=None: (refs, []))
    monkeypatch.setattr(transport_ray.ray, "kill", lambda actor, no_restart=True: killed.append(actor))
    worker = transport_ray.RayWorker("trainer", actor=Actor())
    worker.owned = True  # as if this replica had made it
    with pytest.raises(TimeoutError, match="unreachable for the moment"):
        worker.call("snapshot")
    assert worker.alive()  # still counted alive: the engine neither revives nor starts a second actor
    raised.clear()
    assert worker.call("snapshot") == "answer"
    raised.append(ray.exceptions.ActorDiedError())
    with pytest.raises(WorkerGone):
        worker.call("snapshot")
    assert not worker.alive()
    worker.close()  # Resume releases the old lease: the actor is killed even though it looked dead
    assert killed == [worker.actor]
