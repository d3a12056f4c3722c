"""The page side of the lab engine: this session's run, and the models the pages draw from.

Lifecycle of a session's training (the decisions the pages rely on; the engine's own are in gan_core.engine):
- The page process never imports TensorFlow. One LabEngine per server process (shared: it is a service, like
  a database pool) owns the worker processes; each session's run is a RunClient in st.session_state, made
  only when the user presses Start or Step, never at the top of a script.
- A session-scoped cache entry watches the run. When Streamlit releases the session (the browser went
  away), the release hook ends the run's worker after a last snapshot, so an abandoned tab holds no process
  and no memory. The curves stay in session_state: a browser that reconnects to the same session sees
  "Stopped" at the step it reached, and Resume starts a new worker from the snapshot.
- Reset ends the worker and forgets the run; the next Start builds a new one from the widgets.
- Models to draw from are ModelHandles: dense ones run as NumPy in this process, others in the engine's
  inference worker. Shipped ones are shared by every session (read-only); a session's own model is a
  private copy of its run's weights, taken when the user asks, so training never changes a picture under them.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import streamlit as st

import gan_core.data
from gan_core import checkpoints, latent, run_archive
from gan_core.config import GANConfig
from gan_core.engine import CapacityError, EngineError, EngineOptions, LabEngine, ModelHandle, RunClient

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

RUN_KEY = "lab_run"
# Set (per script thread) only while a viewer's Explore page draws: a read-only stand-in for the presenter's run.
VIEWER = threading.local()
SESSION_COPY_KEY = "explore_session_model"
ARCHIVE_KEY = "lab_archived_runs"  # Reset runs kept for the Compare page (gan_core.run_archive)
ARCHIVE_COUNT_KEY = "_lab_archived_count"


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
    """The server's engine; made (and its warm spare started) by the first page any visitor opens."""
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


# ---- this session's training -------------------------------------------------------------------
def _end_worker(run: RunClient) -> None:
    # On a server thread when the session goes away: a last snapshot, then the process ends.
    run.close("the browser session ended")


@st.cache_resource(scope="session", on_release=_end_worker, show_spinner=False)
def _watch_run(run_id: str, _run: RunClient) -> RunClient:
    return _run


def current_run() -> RunClient | None:
    """This session's run, or None before the first Start; re-arms the disconnect watch on every rerun."""
    run = st.session_state.get(RUN_KEY)
    if run is not None:
        _watch_run(run.run_id, run)
    if run is None:  # a viewer's Explore page (ui/presenter.py): the presenter's run, read-only
        return getattr(VIEWER, "run", None)
    return run


def new_run(config: GANConfig, quality_every: int = QUALITY_EVERY_STEPS, dataset: tuple | None = None,
            initial: dict | None = None) -> RunClient:
    """Start building a run (returns at once); raises CapacityError / EngineError with a message.

    `dataset` (images, labels) and `initial` (a bundle's weights, step, history): see LabEngine.create_run.
    """
    discard_run()
    run = engine().create_run(config, quality_every=quality_every, dataset=dataset, initial=initial)
    st.session_state[RUN_KEY] = run
    _watch_run(run.run_id, run)
    return run


def discard_run() -> None:
    run = st.session_state.pop(RUN_KEY, None)
    st.session_state.pop(SESSION_COPY_KEY, None)
    if run is not None:
        archive_run(run)
        run.discard()


def archive_run(run: RunClient) -> None:
    """Keep a plain copy of a run's curves, samples and recipe for the Compare page (bounded; never raises)."""
    number = st.session_state.get(ARCHIVE_COUNT_KEY, 0) + 1
    try:
        try:
            view = run.poll()  # the newest points, if the worker is still there
        except Exception:
            view = run.view
        archived = run_archive.archive_view(view, run.config, f"Run {number}")
    except Exception:  # an archive must never stop a Reset
        archived = None
    if archived is not None:
        st.session_state[ARCHIVE_COUNT_KEY] = number
        st.session_state[ARCHIVE_KEY] = run_archive.keep(st.session_state.get(ARCHIVE_KEY, []), archived)


def archived_runs() -> list[run_archive.ArchivedRun]:
    """This session's last few Reset runs, oldest first."""
    return list(st.session_state.get(ARCHIVE_KEY, []))


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
        return None, f"The weights in `{weights}` cannot be loaded: {exc}"
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
