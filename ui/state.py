"""Session helpers: this session's TrainingRun and its lifecycle, shared pretrained loads, model copies.

Lifecycle of a session's training (the decision the pages rely on):
- One TrainingRun per browser session, in st.session_state["lab_run"]. It is created only when the user
  presses Start or Step, never at the top of a script, and a rerun never retrains or rebuilds it.
- A session-scoped cache entry watches the run. Streamlit releases session-scoped entries when the browser
  disconnects; our release hook asks the worker to stop (without waiting, so the server never blocks).
  The model, its weights and the curves stay in session_state, so a browser that reconnects to the same
  session finds its training "stopped" at the step it reached and can press Resume to continue; a session
  that never comes back is dropped by Streamlit with nothing left running.
- Reset stops the worker and forgets the run; the next Start builds a new one from the widgets.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

import gan_core.data
from gan_core import checkpoints, evaluation, latent
from gan_core.classifier import DigitJudge
from gan_core.config import GANConfig
from gan_core.lab import TrainingRun, create_run
from gan_core.models import build_model

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
DISCRIMINATOR_VIEW_COUNT = 256

RUN_KEY = "lab_run"
RUN_ID_KEY = "lab_run_id"
QUALITY_NOTE_KEY = "lab_quality_note"  # why this run has no live quality, or ""


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
def _stop_worker(run: TrainingRun) -> None:
    # Runs on a server thread when the session disconnects: request the stop, never wait for it.
    run.trainer.stop(timeout=0)


@st.cache_resource(scope="session", on_release=_stop_worker, show_spinner=False)
def _watch_run(run_id: str, _run: TrainingRun) -> TrainingRun:
    return _run


def current_run() -> TrainingRun | None:
    """This session's run, or None before the first Start; re-arms the disconnect watch on every rerun."""
    run = st.session_state.get(RUN_KEY)
    if run is not None:
        _watch_run(st.session_state[RUN_ID_KEY], run)
    return run


@st.cache_resource(show_spinner="Loading the dataset...", max_entries=4)
def load_dataset(name: str) -> gan_core.data.Dataset:
    """Shared, read-only: the arrays are never written to, so every session may hold the same copy."""
    return gan_core.data.load_dataset(name)


@st.cache_resource(show_spinner="Loading the digit classifier...")
def load_judge() -> tuple[DigitJudge | None, str]:
    """Shared, read-only: the classifier that scores live quality, or None and why it is missing."""
    try:
        return DigitJudge.load(JUDGE_DIR), ""
    except (OSError, ValueError) as exc:
        return None, f"the digit classifier in `{JUDGE_DIR}` cannot be loaded ({exc})"


def attach_live_views(run: TrainingRun, quality_every: int) -> str:
    """Give a new run its discriminator view and live quality; returns why quality is off, or ""."""
    run.attach_discriminator_view(run.dataset.images, count=DISCRIMINATOR_VIEW_COUNT)
    judge, problem = load_judge()
    if judge is None:
        return problem
    available, reason = evaluation.metrics_available(run.config.dataset, judge)
    if not available:
        return reason
    real = load_dataset(evaluation.REFERENCE_DATASET).images
    # The floor compares n real digits with the rest, so n can be at most half the reference set.
    run.attach_live_quality(judge, real, every_steps=quality_every, n=min(QUALITY_SAMPLES, len(real) // 2))
    return ""


def new_run(config: GANConfig, quality_every: int = QUALITY_EVERY_STEPS) -> TrainingRun:
    """Build a run from a config (raises DatasetError / ValueError with a message for the user)."""
    discard_run()
    run = create_run(config, load_dataset(config.dataset), chunk_steps=CHUNK_STEPS)
    st.session_state[QUALITY_NOTE_KEY] = attach_live_views(run, quality_every)
    st.session_state[RUN_KEY] = run
    st.session_state[RUN_ID_KEY] = uuid.uuid4().hex
    _watch_run(st.session_state[RUN_ID_KEY], run)
    return run


def discard_run() -> None:
    run = st.session_state.pop(RUN_KEY, None)
    st.session_state.pop(RUN_ID_KEY, None)
    st.session_state.pop(QUALITY_NOTE_KEY, None)
    if run is not None:
        run.trainer.stop(timeout=0)
        if run.live_quality is not None:
            run.live_quality.stop()


# ---- models the explore and model pages draw from ---------------------------------------------
@dataclass
class LoadedModel:
    """A model a page may draw from, with a key that changes whenever its weights do."""

    model: object
    config: GANConfig
    key: str
    label: str
    directions: latent.PrincipalDirections | None = None


def pretrained_folder() -> Path:
    return PRETRAINED_DIR


@st.cache_resource(show_spinner="Loading the pretrained GAN...", max_entries=2)
def _load_pretrained(folder: str, stamp: float) -> tuple[object, GANConfig, dict]:
    # Shared by every session and only ever read (generate / probability), never trained.
    return checkpoints.load_model(folder, need_discriminator=True)


def directions_of(model, latent_dim: int) -> latent.PrincipalDirections:
    return latent.principal_directions(model.generate, latent_dim, count=DIRECTION_SAMPLES,
                                       components=DIRECTION_COUNT)


@st.cache_resource(show_spinner="Finding principal directions (GANSpace)...", max_entries=2)
def _pretrained_directions(folder: str, stamp: float) -> latent.PrincipalDirections:
    model, config, _ = _load_pretrained(folder, stamp)
    return directions_of(model, config.latent_dim)


def pretrained() -> tuple[LoadedModel | None, str]:
    """The shipped GAN (cached for everyone), or None and a message saying what to do."""
    folder = pretrained_folder()
    try:
        weights = checkpoints.resolve_weights_folder(folder)
    except checkpoints.CheckpointError:
        return None, (f"No pretrained weights at `{folder}`. They ship in `pretrained/gan`; to make your own, run "
                      f"`python -m gan_core train --steps 30000 --out runs/mine` and start the app with "
                      f"`GAN_LAB_PRETRAINED=runs/mine`. You can also train one on the Train page.")
    stamp = max(p.stat().st_mtime for p in weights.glob("*.weights.h5")) if any(weights.glob("*.weights.h5")) else 0.0
    try:
        model, config, state = _load_pretrained(str(weights), stamp)
        directions = _pretrained_directions(str(weights), stamp)
    except (checkpoints.CheckpointError, ValueError, OSError) as exc:
        return None, f"The pretrained weights in `{folder}` cannot be loaded: {exc}"
    step = state.get("step")
    label = f"Pretrained ({step:,} steps)" if isinstance(step, int) else "Pretrained"
    return LoadedModel(model, config, f"pretrained:{weights}:{stamp}", label, directions), ""


SESSION_COPY_KEY = "explore_session_model"


def copy_of_run_model(run: TrainingRun) -> LoadedModel:
    """A private copy of the live model's weights, so training cannot change the picture under the user."""
    model = build_model(run.config)
    copies = model.weight_networks()
    # Read while the worker may be mid-chunk: each variable is read whole; the set may straddle one step,
    # which no picture can show, and it saves making the page wait for the chunk to end.
    for stem, network in run.model.weight_networks().items():
        copies[stem].set_weights(network.get_weights())
    step = run.trainer.snapshot().step
    directions = directions_of(model, run.config.latent_dim)
    return LoadedModel(model, run.config, f"session:{st.session_state[RUN_ID_KEY]}:{step}",
                       f"This session's model (step {step:,})", directions)


def session_model(refresh: bool = False) -> LoadedModel | None:
    """This session's private copy of its trained model; made on first use or when refresh is asked."""
    run = current_run()
    if run is None or run.trainer.snapshot().step == 0:
        return None
    copy = st.session_state.get(SESSION_COPY_KEY)
    if copy is None or refresh or not copy.key.startswith(f"session:{st.session_state[RUN_ID_KEY]}:"):
        with st.spinner("Copying the trained weights..."):
            copy = copy_of_run_model(run)
        st.session_state[SESSION_COPY_KEY] = copy
    return copy


def training_step(run: TrainingRun | None) -> int:
    return 0 if run is None else run.trainer.snapshot().step
