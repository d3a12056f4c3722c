"""The page side of the lab engine: this session's run, and the models the pages draw from.

Lifecycle of a session's training (the decisions the pages rely on; the engine's own are in gan_core.engine):
- The page process never imports TensorFlow. One LabEngine per server process (shared: it is a service, like
  a database pool) owns the worker processes; each session's run is a RunClient in st.session_state, made
  only when the user presses Start or Step, never at the top of a script.
- A run belongs to the browser, not to the websocket (gan_core.reattach): the browser keeps a random
  secret in a cookie (written by a tiny component, read through st.context.cookies), and the server keeps
  {hashed secret -> the browser's run and its archived runs}. A reload, a dropped connection or a second tab
  of the same browser finds its run there and carries on. A session-scoped cache entry tells the registry
  when a session ends; when a browser's last session has been gone for BROWSER_GRACE_S (10 minutes; an
  operator may set GAN_LAB_BROWSER_GRACE_S), its run's worker
  ends after a last snapshot (so an abandoned tab holds no process for long): a later visit sees "Stopped"
  at the step it reached, and Resume starts a new worker from the snapshot.
- Reset ends the worker and forgets the run; the next Start builds a new one from the widgets.
- Models to draw from are ModelHandles: dense ones run as NumPy in this process, others in the engine's
  inference worker. Shipped ones are shared by every session (read-only); a session's own model is a
  private copy of its run's weights, taken when the user asks, so training never changes a picture under them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

import gan_core.data
from gan_core import checkpoints, latent, reattach, run_archive
from gan_core.engine import options as engine_options
from gan_core.config import GANConfig
from gan_core.engine import CapacityError, EngineError, EngineOptions, LabEngine, ModelHandle, RunClient

LOG = logging.getLogger(__name__)

__all__ = ["CapacityError", "EngineError", "ModelHandle", "RunClient"]

ROOT = Path(__file__).resolve().parents[1]
# The shipped weights; GAN_LAB_PRETRAINED points the app at another weights or run folder.
PRETRAINED_DIR = Path(os.environ.get("GAN_LAB_PRETRAINED", ROOT / "pretrained" / "gan"))
# What the train page starts from before the widgets override the recipe; tests swap in tiny networks.
BASE_CONFIG = GANConfig()
CHUNK_STEPS = 100
DIRECTION_COUNT = 6
DIRECTION_SAMPLES = 4000  # generated digits behind the principal directions
JUDGE_DIR = ROOT / "pretrained" / "classifier"
QUALITY_EVERY_STEPS = 2000  # live quality: steps between evaluations
QUALITY_SAMPLES = 1000  # generated digits per evaluation
QUALITY_MIN_INTERVAL_S = EngineOptions.quality_min_interval_s  # ...and at most this often (gan_core.monitor)
CONFIRM_RESET_STEPS = 5_000  # from here on the Train page's Reset asks first (minutes of a lesson's training)

RUN_KEY = "lab_run"
# Set (per script thread) only while a viewer's Explore page draws: a read-only stand-in for the presenter's run.
VIEWER = threading.local()
SESSION_COPY_KEY = "explore_session_model"
BROWSER_COOKIE = "gan_lab_browser"  # the browser's secret (gan_core.reattach); never shown on a page
BROWSER_SECRET_KEY = "_lab_browser_secret"
SESSION_ID_KEY = "_lab_session_id"


BROWSER_GRACE_S = engine_options.default_browser_grace_s(reattach.GRACE_S)  # a browser away longer than this has its run saved and ended
COOKIE_MAX_AGE_S = 30 * 24 * 3600


# ---- the engine --------------------------------------------------------------------------------
def _shutdown(engine_: LabEngine) -> None:
    engine_.shutdown()


@st.cache_resource(show_spinner=False, max_entries=1, on_release=_shutdown)
def _engine(spare_config_json: str, chunk_steps: int, judge_dir: str, direction_samples: int) -> LabEngine:
    # Keyed on what the tests may swap, so a test's tiny recipe gets an engine (and a warm spare) of its own.
    return LabEngine(EngineOptions(spare_config=GANConfig.from_dict(json.loads(spare_config_json)),
                                   chunk_steps=chunk_steps, judge_dir=judge_dir or None,
                                   quality_every=QUALITY_EVERY_STEPS, quality_n=QUALITY_SAMPLES,
                                   direction_samples=direction_samples, direction_count=DIRECTION_COUNT))


def engine() -> LabEngine:
    """The server's engine; made (and its warm spare started) when the server starts, else by the first page."""
    judge = str(JUDGE_DIR) if (Path(JUDGE_DIR) / "classifier.weights.h5").is_file() else ""
    return _engine(BASE_CONFIG.to_json(), CHUNK_STEPS, judge, DIRECTION_SAMPLES)


# ---- widgets that survive a visit to another page ------------------------------------------------
def keep_widgets(defaults: dict) -> None:
    """Give each widget its value before it is drawn: the one from an earlier visit, else the default.

    Streamlit forgets the state of widgets a page did not draw, so without this a trip to another page
    would put the sidebar back to defaults while the running model still uses the user's values. Widgets
    that take their value from here must not also be given a default (value=/index=).
    """
    for key, default in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = st.session_state.get(f"_kept_{key}", default)
        st.session_state[f"_kept_{key}"] = st.session_state[key]


# ---- the browser this session belongs to ------------------------------------------------------
def _close_registry(registry: reattach.BrowserRegistry) -> None:
    registry.close_all()


@st.cache_resource(show_spinner=False, on_release=_close_registry)
def browsers(grace_s: float) -> reattach.BrowserRegistry:
    """The server's one registry of browsers and their runs (a service, like the engine)."""
    return reattach.BrowserRegistry(grace_s=grace_s)


def _registry() -> reattach.BrowserRegistry:
    return browsers(float(BROWSER_GRACE_S))


def cookie_secret() -> str | None:
    """The browser's secret from its cookie, when it sent a well-formed one."""
    try:
        value = st.context.cookies.get(BROWSER_COOKIE)
    except Exception:  # no browser (a bare script run)
        return None
    return value if reattach.valid_secret(value) else None


@dataclass(frozen=True)
class _SessionHold:
    secret: str
    session_id: str


def _leave(hold: _SessionHold) -> None:
    # On a server thread when the session goes away: the registry starts the browser's grace timer.
    _registry().leave(hold.secret, hold.session_id)


@st.cache_resource(scope="session", on_release=_leave, show_spinner=False)
def _hold_browser(secret: str, session_id: str) -> _SessionHold:
    # Keyed on the secret too (it is what the hold releases): a hold keyed on the session id alone was the
    # first secret that session id ever held, so its release left that browser and never this one.
    return _SessionHold(secret, session_id)


def _session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def _browser_entry() -> reattach.BrowserEntry:
    """This browser's entry in the registry; joins it (once per session) on first use."""
    secret = st.session_state.get(BROWSER_SECRET_KEY)
    if not reattach.valid_secret(secret):
        secret = cookie_secret() or reattach.new_secret()
        st.session_state[BROWSER_SECRET_KEY] = secret
    session_id = _session_id()
    st.session_state[SESSION_ID_KEY] = session_id
    entry = _registry().join(secret, session_id)
    _hold_browser(secret, session_id)
    return entry


_COOKIE_JS = """
export default function(component) {
  const { data } = component;
  if (!data || !data.name || !data.secret) return;
  const pair = data.name + "=" + data.secret;
  if (!document.cookie.split("; ").includes(pair)) {
    document.cookie = pair + "; path=/; max-age=" + data.max_age + "; SameSite=Strict";
  }
}
"""
_cookie_component = st.components.v2.component("gan_lab_browser_cookie", html="<span></span>", js=_COOKIE_JS)


def attach_browser() -> None:
    """Every script run (app.py): join this browser's entry, take its run, and keep its cookie written.

    The secret goes only to this browser's own cookie (the component's data), never into the page's text.
    """
    # `streamlit run app.py` made the engine when the server started (ui/server_start.py); wherever the pages run
    # without that start-up (AppTest, a bare `streamlit run main.py`), the first script run makes it, first thing.
    engine()
    entry = _browser_entry()
    if entry.run is not None and st.session_state.get(RUN_KEY) is not entry.run:
        st.session_state[RUN_KEY] = entry.run  # a reload or another tab of this browser: the same run
    elif entry.run is None and RUN_KEY in st.session_state:
        st.session_state.pop(RUN_KEY, None)  # another tab of this browser pressed Reset
    if cookie_secret() != st.session_state[BROWSER_SECRET_KEY]:
        _cookie_component(key="gan_lab_browser_cookie", height=0,
                          data={"name": BROWSER_COOKIE, "secret": st.session_state[BROWSER_SECRET_KEY],
                                "max_age": COOKIE_MAX_AGE_S})


# ---- this browser's training -------------------------------------------------------------------
def current_run() -> RunClient | None:
    """This browser's run, or None before the first Start."""
    run = st.session_state.get(RUN_KEY)
    if run is None:  # a viewer's Explore page (ui/presenter.py): the presenter's run, read-only
        return getattr(VIEWER, "run", None)
    return run


def new_run(config: GANConfig, quality_every: int = QUALITY_EVERY_STEPS, dataset: tuple | None = None,
            initial: dict | None = None) -> RunClient:
    """Start building a run (returns at once); raises CapacityError / EngineError with a message.

    `dataset` (images, labels) and `initial` (a bundle's weights, step, history): see LabEngine.create_run.
    """
    discard_run()
    entry = _browser_entry()
    # The owner is this browser (the hash of its secret), not the websocket: a reload keeps its trainer slot,
    # and GAN_LAB_MAX_TRAINERS_PER_SESSION counts one browser's runs however many tabs it has.
    owner = reattach.secret_hash(st.session_state[BROWSER_SECRET_KEY])[:16]
    run = engine().create_run(config, quality_every=quality_every, dataset=dataset, initial=initial, owner=owner)
    st.session_state[RUN_KEY] = run
    entry.run = run
    return run


def discard_run() -> None:
    run = st.session_state.pop(RUN_KEY, None)
    st.session_state.pop(SESSION_COPY_KEY, None)
    entry = _browser_entry()
    if entry.run is run:
        entry.run = None
    if run is not None:
        archive_run(run)
        run.discard()


def archive_run(run: RunClient) -> None:
    """Keep a plain copy of a run's curves, samples and recipe for the Compare page (bounded; never raises)."""
    entry = _browser_entry()
    number = entry.archive_count + 1
    try:
        try:
            view = run.poll()  # the newest points, if the worker is still there
        except Exception:
            view = run.view
        archived = run_archive.archive_view(view, run.config, f"Run {number}")
    except Exception:  # an archive must never stop a Reset
        archived = None
    if archived is not None:
        entry.archive_count = number
        entry.archive = run_archive.keep(entry.archive, archived)


def archived_runs() -> list[run_archive.ArchivedRun]:
    """This browser's last few Reset runs, oldest first (kept across reloads)."""
    return list(_browser_entry().archive)


def clear_archive() -> None:
    _browser_entry().archive = []


def training_step(run: RunClient | None) -> int:
    return 0 if run is None else run.view.step


@st.cache_resource(show_spinner="Loading the dataset...", max_entries=2)
def load_dataset(name: str) -> gan_core.data.Dataset:
    """Shared, read-only real digits the Explore page encodes (NumPy only: the offline sample)."""
    return gan_core.data.load_dataset(name)


# ---- models the explore and model pages draw from ---------------------------------------------
class LoadedModel:
    """A model a page may draw from, with a key that changes whenever its weights do."""

    def __init__(self, model: ModelHandle):
        self.model = model
        self.config = model.config
        self.key = model.key
        self.label = model.label

    @property
    def directions(self) -> latent.PrincipalDirections | None:
        return self.model.directions()


def pretrained_folder() -> Path:
    return PRETRAINED_DIR


@st.cache_resource(show_spinner="Loading a shipped model...", max_entries=8)
def shipped_handle(folder: str, stamp: float, label: str) -> ModelHandle:
    # Shared by every session and only ever read, never trained; the stamp reloads it when the files change.
    return engine().shipped_model(folder, label)


def load_folder(folder: Path, label: str) -> tuple[LoadedModel | None, str]:
    try:
        weights = checkpoints.resolve_weights_folder(folder)
    except checkpoints.CheckpointError as exc:
        return None, str(exc)
    stamp = max((p.stat().st_mtime for p in weights.glob("*.weights.h5")), default=0.0)
    try:
        handle = shipped_handle(str(weights), stamp, label)
    except (checkpoints.CheckpointError, EngineError, ValueError, OSError) as exc:
        LOG.warning("loading the weights in %s failed: %s", weights, exc)
        return None, f"The {label} model's weights cannot be loaded (details are in the server log)."
    step = handle.state.get("step")
    if isinstance(step, int) and "steps)" not in handle.label:
        handle.label = f"{label} ({step:,} steps)"
    return LoadedModel(handle), ""


def pretrained() -> tuple[LoadedModel | None, str]:
    """The shipped GAN (shared), or None and a message saying what to do."""
    folder = pretrained_folder()
    try:
        checkpoints.resolve_weights_folder(folder)
    except checkpoints.CheckpointError:
        return None, (f"No pretrained weights at `{folder}`. They ship in `pretrained/gan`; to make your own, run "
                      f"`python -m gan_core train --steps 30000 --out runs/mine` and start the app with "
                      f"`GAN_LAB_PRETRAINED=runs/mine`. You can also train one on the Train page.")
    return load_folder(folder, "Pretrained")


def session_model(refresh: bool = False) -> LoadedModel | None:
    """This session's private copy of its trained model; made on first use or when refresh is asked."""
    run = current_run()
    if run is None or run.view.step == 0:
        return None
    copy = st.session_state.get(SESSION_COPY_KEY)
    if copy is None or refresh or not copy.key.startswith(f"session:{run.run_id}:"):
        if not run.live:
            if copy is not None and copy.key.startswith(f"session:{run.run_id}:"):
                return copy
            raise EngineError("the training process is not running; press Resume on the Train page first")
        with st.spinner("Copying the trained weights..."):
            copy = LoadedModel(run.model_copy())
        st.session_state[SESSION_COPY_KEY] = copy
    return copy
