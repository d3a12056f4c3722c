"""Presenter mode: a run's live view shared under a long random token, read by any number of viewers.

`Shares` is this replica's registry of links (token -> SharedRun); with a backend that offers a registry every
replica sees (gan_core.transport_ray), a link works from any replica. It knows runs only through what they
offer (worker, config, notes, the on_ended callback), and models only through the `make_model` callback the
facade hands it.
A Playground's share (`SharedPlayground`) is simpler: its run trains in the presenter's browser, which
publishes its checked state here (gan_core.toy_share); viewers read the latest one. It lives in this replica.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Callable

from gan_core.config import GANConfig
from gan_core.engine.errors import EngineError, describe_failure
from gan_core.limits import PLAYGROUND_MIN_PUBLISH_S
from gan_core.messages import RunSnapshot, RunView
from gan_core.toy_share import check_state
from gan_core.transport import WorkerError, WorkerGone

# ---- presenter mode: one run, many viewers -------------------------------------------------------
SHARE_POLL_S = 1.0  # how often the one poller of a shared run asks its worker for news
SHARE_IDLE_S = 15.0  # with no viewer reading for this long, the poller stops asking (it wakes on the next read)
SHARE_WEIGHTS_MAX_AGE_S = 5.0  # viewers asking for the model within this long share one copy of the weights
ENDED_SHARES_KEPT = 256  # ended links remembered (to tell a late viewer why), oldest forgotten first


class SharedRun:
    """A presenter's run as every viewer sees it: ONE poller, ONE view, read by all (decisions below).

    - The engine, not a page, owns it: `Shares.share(run)` (LabEngine.share) makes it under a long random token
      (secrets.token_urlsafe(24)), and `watch(token)` hands the same object to every viewer session.
    - One daemon thread polls the run's worker about once a second while anyone reads (`view()`), with its
      own RunView: it never touches the presenter's view (two pollers folding deltas into one RunView would
      double points). Each poll is published as a frozen copy (arrays are replaced, never mutated, so a
      shallow copy is enough); N viewers cost the worker one `snapshot` request a second, whatever N is.
    - It ends, with the message viewers see, when the presenter revokes the link, presses Reset, or their
      session ends (the run's on_ended callback); an ended share publishes an empty view, so a revoked link shows
      nothing more of the run. A worker that died (kill -9) is not an end: viewers see "worker_gone" and
      the run again once the presenter presses Resume.
    - Across replicas (the Ray backend): the presenter's replica publishes token -> worker name in the
      backend's registry; another replica's `watch(token)` attaches to the named actor and runs the same
      poller there ("remote"), so a link works from any replica.
    """

    def __init__(self, hub: "Shares", token: str, run: "RunClient | None" = None, remote: dict | None = None):
        self.hub = hub
        self.token = token
        self._run = run  # the presenter's run, in this process
        self._remote = remote  # or what the registry says about a run in another replica
        self.run_id = run.run_id if run is not None else remote["run_id"]
        self.config = run.config if run is not None else GANConfig.from_dict(remote["config"])
        self.quality_every = run.quality_every if run is not None else int(remote["quality_every"])
        self.quality_n = run.quality_n if run is not None else int(remote["quality_n"])
        self.quality_min_interval_s = (run.quality_min_interval_s if run is not None
                                       else float(remote.get("quality_min_interval_s", 0.0)))
        self.quality_note = run.quality_note if run is not None else remote.get("quality_note", "")
        self.ended = ""  # why the live view is over; empty while it is live
        self.requests = 0  # worker requests made by the poller (tests and benchmarks read it)
        self._view = RunView()
        self._published = _frozen(self._view)
        self._lock = threading.Lock()
        self._last_read = time.monotonic()
        self._wake = threading.Event()  # a read that finds the poller idle wakes it
        self._stop = threading.Event()
        self._worker = None  # the worker last published to the registry (presenter) or attached (remote)
        self._weights: tuple[float, int, object] | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"share-{self.run_id[:6]}")
        self._thread.start()

    @classmethod
    def gone(cls, hub: "Shares", token: str, message: str) -> "SharedRun":
        """A share that ended in another replica: it says why, and polls nothing."""
        shared = cls.__new__(cls)
        shared.hub, shared.token, shared._run, shared._remote, shared._worker = hub, token, None, None, None
        shared.run_id, shared.config, shared.requests, shared._weights = "", GANConfig(), 0, None
        shared.quality_every, shared.quality_n, shared.quality_note = 0, 0, ""
        shared.quality_min_interval_s = 0.0
        shared.ended, shared._lock, shared._wake, shared._stop = "", threading.Lock(), threading.Event(), threading.Event()
        shared._last_read, shared._view = time.monotonic(), RunView()
        shared.end(message, withdraw=False)
        return shared

    # -- what viewers call
    def view(self) -> RunView:
        """The latest published view (the same object for every viewer until the next poll); never blocks."""
        now = time.monotonic()
        idle, self._last_read = now - self._last_read >= SHARE_IDLE_S, now
        if idle:
            self._wake.set()
        return self._published

    def poll(self) -> RunView:
        """The latest published view, as a run's `poll()` answers (the live feed reads a run through it)."""
        return self.view()

    def model_copy(self):
        """The run's latest generator as a private, read-only handle; viewers within a few seconds share one."""
        with self._lock:
            if self.ended:
                raise EngineError(self.ended)
            cached = self._weights
            if cached is not None and (time.monotonic() - cached[0] < SHARE_WEIGHTS_MAX_AGE_S
                                       or cached[1] == self._published.step):
                return cached[2]
            worker = self._current_worker()
            if worker is None:
                raise EngineError("the presenter's training process is not running right now")
            try:
                copy = worker.call("weights", timeout=30)
            except (WorkerGone, WorkerError, TimeoutError) as exc:
                raise EngineError(describe_failure(exc)) from exc
            config = GANConfig.from_dict(copy["config"])
            handle = self.hub.make_model(
                f"session:shared-{self.run_id}:{copy['step']}", config, copy["weights"],
                f"The presenter's model (step {copy['step']:,})", {"step": copy["step"]})
            self._weights = (time.monotonic(), int(copy["step"]), handle)
            return handle

    # -- the one poller
    def _current_worker(self):
        if self._run is not None:
            return self._run.worker
        return self._worker

    def _loop(self) -> None:
        while not self.ended and not self.hub.closed:
            try:
                run = self._run  # None once ended (end() lets go of the presenter's run)
                if run is not None:
                    self._publish_worker(run)  # even with no local viewer: other replicas' viewers need it
                if time.monotonic() - self._last_read < SHARE_IDLE_S:
                    self.refresh()
            except Exception as exc:  # the poller must outlive any one bad answer (or a cluster hiccup)
                self._view.message = f"The live view could not refresh ({exc}); retrying."
            self._stop.wait(SHARE_POLL_S)
            if time.monotonic() - self._last_read >= SHARE_IDLE_S:
                self._wake.clear()
                self._wake.wait(5.0)  # idle: nobody watches; a read wakes it at once

    def _publish_worker(self, run: "RunClient") -> None:
        worker = run.worker
        if worker is not self._worker and worker is not None:
            self._worker = worker
            publish = getattr(self.hub.backend, "publish_share", None)
            if publish is not None and getattr(worker, "name", None):
                publish(self.token, {"run_id": self.run_id, "worker": worker.name, "config": self.config.to_dict(),
                                     "quality_every": self.quality_every, "quality_n": self.quality_n,
                                     "quality_min_interval_s": self.quality_min_interval_s,
                                     "quality_note": run.quality_note})

    def refresh(self) -> RunView:
        """One poll of the worker, folded into the shared view and published (the poller calls it)."""
        view = self._view
        run = self._run
        if self.ended:
            return self._published
        if run is not None and run.starting:
            view.status, view.busy, view.message = "starting", True, "The presenter's run is starting..."
        elif run is not None and run.start_error:
            view.status, view.busy, view.message = "error", False, run.why_no_worker()
        else:
            worker = self._current_worker() if run is not None else self._attached()
            if worker is None:
                view.status, view.busy = "worker_gone", False
                view.message = "The presenter's training process is not running; it may be resumed."
            else:
                try:
                    self.requests += 1
                    snapshot: RunSnapshot = worker.call("snapshot", view.known(), timeout=15)
                    view.apply(snapshot)
                except WorkerGone:
                    if run is None:
                        self._worker = None  # look the run up again next time: ended, or resumed elsewhere
                    view.status, view.busy, view.worker_gone = "worker_gone", False, True
                    view.message = ("The presenter's training process ended; the view continues if the presenter "
                                    "presses Resume.")
                except (WorkerError, TimeoutError) as exc:
                    view.message = f"The training process did not answer ({describe_failure(exc)}); retrying."
        with self._lock:
            if not self.ended:
                self._published = _frozen(view)
        return self._published

    def _attached(self):
        """The named worker of another replica's run, looked up (again) in the registry when needed."""
        if self._worker is not None:
            return self._worker
        backend = self.hub.backend
        found = backend.lookup_share(self.token)
        if found is None or found.get("ended"):
            self.end((found or {}).get("ended") or "The presenter stopped sharing this run.", withdraw=False)
            return None
        try:
            self._worker = backend.attach(found["worker"])
        except WorkerGone:
            return None
        return self._worker

    def end(self, message: str, withdraw: bool = True) -> None:
        with self._lock:
            if self.ended:
                return
            self.ended = message
            gone = RunView()
            gone.status, gone.message = "ended", message
            self._published = gone
            self._weights = None
            # Let go of the run and the poller's copy: an ended link is kept (to say why) at the cost of a message.
            self._run, self._view = None, RunView()
        self._stop.set()
        self._wake.set()
        withdraw_share = getattr(self.hub.backend, "withdraw_share", None)
        if withdraw and self._remote is None and withdraw_share is not None:
            try:
                withdraw_share(self.token, message)
            except Exception:  # the cluster may be gone at shutdown; ending must never raise
                pass


class SharedPlayground:
    """A Playground presenter's browser run as its viewers see it: the latest state the browser published.

    - Nothing polls: the presenter's page hands each state the component sends to `publish`, which checks it
      (gan_core.toy_share.check_state: budgets, then every field) before keeping it, and keeps at most one per
      PLAYGROUND_MIN_PUBLISH_S (a faster one is dropped: the next is at most that far behind).
    - Viewers read `latest()`: the same checked dict for all, replaced (never changed) by the next publish.
    - Owned by the presenter's session (`owner`): it ends when they stop sharing or their session ends, and an
      ended share keeps only its message. It is not published to other replicas (the browser talks to one).
    """

    kind = "playground"

    def __init__(self, token: str, owner: str):
        self.token = token
        self.owner = owner
        self._run = None  # (Shares looks for a training run's shares by this; a browser run has none here)
        self.ended = ""
        self.published = 0  # states kept (tests read it)
        self._state: dict | None = None
        self._kept_at = float("-inf")
        self._lock = threading.Lock()

    def publish(self, value, now: float | None = None) -> bool:
        """Check and keep a published state; False when dropped (too soon, or ended). StateRefused if bad."""
        now = time.monotonic() if now is None else now
        if self.ended or now - self._kept_at < PLAYGROUND_MIN_PUBLISH_S:
            return False
        state = check_state(value)
        with self._lock:
            if self.ended:
                return False
            self._state, self._kept_at = state, now
            self.published += 1
        return True

    def latest(self) -> dict | None:
        """The latest checked state (None before the first, and once ended)."""
        return self._state

    def end(self, message: str, withdraw: bool = True) -> None:
        with self._lock:
            if not self.ended:
                self.ended, self._state = message, None


def _frozen(view: RunView) -> RunView:
    """A copy of `view` that later polls never change: polls replace arrays, and may grow lists and dicts in
    place (the timeline), so those are copied one level deep; arrays are shared, never copied."""
    copy = RunView.__new__(RunView)
    copy.__dict__.update({name: type(value)(value) if isinstance(value, (list, dict)) else value
                          for name, value in view.__dict__.items()})
    return copy


class Shares:
    """This replica's presenter links: make, look up, revoke, end with the run."""

    def __init__(self, backend, make_model: Callable):
        self.backend = backend  # the worker factory; may offer publish/withdraw/lookup_share and attach
        self.make_model = make_model  # (key, config, weights, label, state) -> ModelHandle
        self.closed = False
        self._lock = threading.RLock()
        self._shares: dict[str, SharedRun] = {}

    def share(self, run) -> str:
        """The run's live-view token, made on first call (long, random: secrets.token_urlsafe(24))."""
        with self._lock:
            for token, shared in self._shares.items():
                if shared._run is run and not shared.ended:  # (an ended share holds no run)
                    return token
            token = secrets.token_urlsafe(24)
            self._shares[token] = SharedRun(self, token, run=run)
            return token

    def share_playground(self, owner: str) -> str:
        """The live-view token of `owner`'s (a page session's) Playground, made on first call."""
        with self._lock:
            token = self.playground_token(owner)
            if token is None:
                token = secrets.token_urlsafe(24)
                self._shares[token] = SharedPlayground(token, owner)
            return token

    def playground_token(self, owner: str) -> str | None:
        with self._lock:
            return next((token for token, shared in self._shares.items()
                         if isinstance(shared, SharedPlayground) and shared.owner == owner and not shared.ended), None)

    def share_token(self, run) -> str | None:
        with self._lock:
            return next((token for token, shared in self._shares.items() if shared._run is run and not shared.ended),
                        None)

    def revoke(self, token: str, message: str = "The presenter stopped sharing this live view.") -> None:
        """The link stops working at once: viewers see `message` and nothing more of the run."""
        with self._lock:
            shared = self._shares.get(token)
        if shared is not None:
            shared.end(message)
        self._forget_ended()

    def watch(self, token: str) -> "SharedRun | None":
        """The shared view behind `token` (this replica's, or another's through the backend), None if unknown."""
        if not token:
            return None
        with self._lock:
            shared = self._shares.get(token)
        if shared is not None:
            return shared
        lookup = getattr(self.backend, "lookup_share", None)
        found = lookup(token) if lookup is not None else None
        if found is None:
            return None
        with self._lock:
            if token not in self._shares:
                # Ended elsewhere: remembered with its reason, for this replica's late viewers.
                self._shares[token] = (SharedRun.gone(self, token, found["ended"]) if found.get("ended")
                                       else SharedRun(self, token, remote=found))
            return self._shares[token]

    def run_ended(self, run) -> None:
        """A run let its worker go: its links end, with why (the run's on_ended callback)."""
        reason = run.closed_by
        if reason == "reset":
            message = "The presenter reset the run; this live view has ended."
        elif reason:
            message = f"The presenter's run was ended ({reason}); this live view has ended."
        else:
            message = f"The presenter's run could not start ({run.why_no_worker()}); this live view has ended."
        with self._lock:
            shares = [shared for shared in self._shares.values() if shared._run is run]  # live ones only
        for shared in shares:
            shared.end(message)
        self._forget_ended()

    def _forget_ended(self) -> None:
        with self._lock:
            ended = [token for token, shared in self._shares.items() if shared.ended]
            for token in ended[:max(0, len(ended) - ENDED_SHARES_KEPT)]:
                del self._shares[token]

    def close(self) -> None:
        self.closed = True
        with self._lock:
            shares = list(self._shares.values())
        for shared in shares:
            if not shared.ended:
                shared.end("The server is shutting down; this live view has ended.")
