"""Train page: choose data and a recipe, train in this session's engine worker, watch curves and samples live.

The page only asks and draws: the run lives in a worker process (gan_core.engine), and each redraw folds in
what the worker sent since the last one (new curve points, the grid when it changed).
"""

from __future__ import annotations

import time

import streamlit as st

from gan_core.config import GAN_LOSSES, LOGISTIC_LOSSES, GANConfig, recommended_config
from gan_core.data import DATASET_CHOICES
from gan_core.messages import RunView
from ui import live_feed, presenter, state, train_extras
from ui.live_views import alerts_ui, discriminator_view_ui, presentation_ui, quality_ui, status_ui
from ui.train_text import AUTOENCODER_LATENTS, INTRO_ADVERSARIAL, INTRO_AUTOENCODER, LOSS_LABELS

LIVE_REFRESH_S = 30.0  # the timer that reruns the live fragment (the status text, the alerts' numbers) while the
# worker trains. Between these reruns the run's live feed (ui/live_feed.py) moves the curves, live quality (curves
# and class shares), the numbers, the sample grid and the discriminator view once a second, and a
# change of status or of the redraw key (a new alert, the first quality score) reruns the fragment at once
# (ui/live_panel.py). Each Streamlit rerun costs the browser tens of milliseconds whatever it draws, taken from the
# worker's cores: at 10 s (the timeline at 15 s) the open page trained ~5% slower than at 60 s (benchmarks/README.md)
STARTING_REFRESH_S = 1.0  # while the worker starts: each redraw also waits up to FIRST_POINT_HOLD_S on the server
FIRST_POINT_HOLD_S = 0.8  # ...for the first point, so it shows the moment it exists without 4 redraws a second
# (measured: the browser took 30-40% of a core redrawing at 4 Hz while the trainer it waited for needed those cores)
TIMELINE_REFRESH_S = 30.0  # the timeline's own fragment while training: only its slider's range grows (its newest
# moment is the live grid), and its first moments show this long after Start at most; dragging it reruns that
# fragment alone, at once
FIRST_POINT_WAIT_S = 1.0
ERROR_KEY = "train_error"
START_WAIT_KEY = "_train_start_wait"  # (time.monotonic() of the Start press, what that Start waits for)
CONFIRM_RESET_KEY = "_train_confirm_reset"
DCGAN_SPEED_TEXT = ("The DCGAN's convolutions are slow on a CPU: expect about 10 steps a second where the dense GAN "
                    "runs about 250 (at its default batch of 32), so its first quality check (step 2,000) comes after "
                    "3-4 minutes and legible digits after 10-20. On a GPU the gap mostly closes.")
SIDEBAR_AT_START_KEY = "_train_sidebar_at_start"  # (run id, the sidebar's recipe when that run was first drawn)
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
MODEL_CHOICES = {  # widget value -> (label, GANConfig.model, GANConfig.architecture)
    "gan": ("GAN (documented)", "gan", "dense"), "cgan": ("Conditional GAN", "cgan", "dense"),
    "dcgan": ("DCGAN (conv)", "gan", "conv"), "ae": ("Autoencoder", "ae", "dense"), "vae": ("VAE", "vae", "dense")}
MODEL_TITLES = {"ae": "an autoencoder", "vae": "a VAE"}
# Widgets a new model or loss sets to its recommended recipe, and the config field each shows.
RECIPE_WIDGETS = {"train_g_lr": "g_learning_rate", "train_d_lr": "d_learning_rate", "train_beta1": "beta1",
                  "train_d_steps": "d_steps", "train_label_smoothing": "label_smoothing",
                  "train_r1_gamma": "r1_gamma", "train_latent_dim": "latent_dim", "train_loss": "loss",
                  "train_batch_size": "batch_size"}
LR_CHANGES_KEY = "_train_lr_changes"  # run id -> [(step asked at, (g, d) before, (g, d) after)]
MAX_LR_NOTES = 5
RESUMABLE = ("paused", "stopped", "diverged", "worker_gone")


def main() -> None:
    config = controls_ui()
    adversarial = MODEL_CHOICES[st.session_state.train_model][1] in ("gan", "cgan")
    st.title("Train a GAN" if adversarial else f"Train {MODEL_TITLES[st.session_state.train_model]}")
    run = state.current_run()
    intro = INTRO_ADVERSARIAL if adversarial else INTRO_AUTOENCODER
    if run is None:
        st.write(intro)
    else:  # while a run is on screen the grid and the curves have the room (a projector's 768 px)
        st.expander("What this page shows", icon=":material/info:").write(intro)
    if ERROR_KEY in st.session_state:
        st.error(st.session_state.pop(ERROR_KEY))
    view = run.poll() if run is not None else None
    config = train_extras.bundle_ui(config, run)  # a bundle to continue from: its recipe, before Start
    buttons_ui(run, view, config)
    if run is None:
        train_extras.upload_preview_ui(config)
        engine_note_ui()
        return
    for note in run.notes:
        st.warning(note)
    pending_changes_ui(run, config)
    presenter.share_ui(run)  # "Share live view": a read-only link for a room of viewers
    live_views(run, view)


def engine_note_ui() -> None:
    """Before the first Start: say whether a warm trainer is waiting, so a slow first start is no surprise."""
    status = state.engine().status()
    if status["warming"]:
        st.info("Nothing is training yet. The training engine is warming up in the background (loading TensorFlow "
                "and tracing the default recipe, a few seconds); press Start any time: training begins as soon as "
                "it is ready.")
    else:
        st.info("Nothing is training yet. Press **Start**: the views below refresh by themselves while it trains.")
    st.caption(f"Trainers in use on this server: {status['trainers']} of {status['max_trainers']}.")


# ---- controls ---------------------------------------------------------------------------------
def _choice_of(config: GANConfig) -> str:
    return "dcgan" if config.architecture == "conv" else config.model


def _recipe_for_widgets() -> GANConfig:
    """The recommended recipe of the model and loss the sidebar shows, on top of the base config."""
    _, model, architecture = MODEL_CHOICES[st.session_state.train_model]
    loss = st.session_state.train_loss if model in ("gan", "cgan") else "non_saturating"
    return recommended_config(model, loss, architecture, base=state.BASE_CONFIG)


def _load_recipe() -> None:
    """A new model or loss brings its recommended recipe into the widgets (in a callback, before they draw)."""
    recipe = _recipe_for_widgets()
    for key, name in RECIPE_WIDGETS.items():
        st.session_state[key] = type(st.session_state.get(key, getattr(recipe, name)))(getattr(recipe, name))


def widget_defaults() -> dict:
    """Every sidebar widget's first value: the base recipe with its model's recommendations."""
    base = state.BASE_CONFIG
    start = recommended_config(base.model, base.loss, base.architecture, base=base)
    return {
        "train_model": _choice_of(base), "train_dataset": base.dataset if base.dataset in DATASET_CHOICES else DATASET_CHOICES[0],
        "train_g_lr": float(start.g_learning_rate), "train_d_lr": float(start.d_learning_rate),
        "train_beta1": float(start.beta1), "train_batch_size": start.batch_size if start.batch_size in BATCH_SIZES else 128,
        "train_d_steps": int(start.d_steps), "train_label_smoothing": float(start.label_smoothing),
        "train_seed": int(base.seed), "train_loss": start.loss, "train_r1_gamma": float(start.r1_gamma),
        "train_ema_decay": float(base.ema_decay), "train_latent_dim": int(start.latent_dim),
        "train_kl_weight": float(base.kl_weight), "train_gp_weight": float(base.gp_weight),
        "train_quality_every": state.QUALITY_EVERY_STEPS}


def _restore_defaults() -> None:
    for key, value in widget_defaults().items():
        st.session_state[key] = value
    _apply_learning_rates()  # learning rates apply live; the rest waits for Reset, as always


def controls_ui() -> GANConfig | None:
    """The recipe widgets in the sidebar; returns the config they describe, or None (with an error shown)."""
    state.keep_widgets(widget_defaults())
    with st.sidebar:
        st.header("Recipe")
        choice = st.selectbox("Model", tuple(MODEL_CHOICES), key="train_model", on_change=_load_recipe,
                              format_func=lambda key: MODEL_CHOICES[key][0],
                              help="Choosing a model (or a loss) loads its recommended recipe below.")
        _, model, architecture = MODEL_CHOICES[choice]
        adversarial = model in ("gan", "cgan")
        loss = "non_saturating"
        if adversarial:
            loss = st.selectbox("Loss", GAN_LOSSES, key="train_loss", on_change=_load_recipe,
                                format_func=lambda name: LOSS_LABELS[name],
                                help="non-saturating is the standard choice; minimax is the textbook objective whose "
                                     "generator gradient vanishes early; WGAN-GP trains a critic kept 1-Lipschitz by "
                                     "a gradient penalty.")
        dataset = train_extras.dataset_ui(model)  # "" when the data is not ready (it says why)
        if choice == "dcgan":
            st.caption(DCGAN_SPEED_TEXT)
        st.caption(f"Learning rates apply live, within the next {state.CHUNK_STEPS} steps. Everything else takes "
                   f"effect after Reset.")
        st.button("Restore defaults", key="train_restore_defaults", icon=":material/settings_backup_restore:",
                  on_click=_restore_defaults, help="Put every setting below back to the recommended recipe.")
        g_lr = st.number_input("G learning rate" if adversarial else "Learning rate", 1e-6, 0.1, step=1e-5,
                               format="%.5f", key="train_g_lr", on_change=_apply_learning_rates)
        d_lr = st.session_state.train_d_lr
        if adversarial:
            d_lr = st.number_input("D learning rate", 1e-6, 0.1, step=1e-5, format="%.5f",
                                   key="train_d_lr", on_change=_apply_learning_rates)
        beta1 = st.slider("Adam beta1", 0.0, 0.99, step=0.05, key="train_beta1",
                          help="Momentum of Adam; 0.5 is the DCGAN choice, 0.9 Adam's default.")
        batch_size = st.select_slider("Batch size", BATCH_SIZES, key="train_batch_size")
        latent_dim = latent_ui(adversarial)
        d_steps, smoothing, gp_weight, kl_weight = (st.session_state[key] for key in (
            "train_d_steps", "train_label_smoothing", "train_gp_weight", "train_kl_weight"))
        if adversarial:
            d_steps = st.number_input("Critic steps per G step" if loss == "wgan_gp" else "D steps per G step",
                                      1, 10, key="train_d_steps")
        if loss == "wgan_gp":
            gp_weight = st.number_input("Gradient penalty weight", 0.0, 100.0, step=1.0, key="train_gp_weight",
                                        help="Weight of the penalty that keeps the critic's gradient norm near 1.")
        if adversarial and loss in LOGISTIC_LOSSES:
            smoothing = st.slider("Label smoothing", 0.0, 0.45, step=0.05, key="train_label_smoothing",
                                  help="One-sided: D is told real digits are 1 - this, which keeps it from "
                                       "overconfidence.")
        if model == "vae":
            kl_weight = st.number_input("KL weight", 0.0, 10.0, step=0.1, key="train_kl_weight",
                                        help="Weight of the KL term of the ELBO; 1 is the true ELBO, less gives "
                                             "sharper reconstructions and a less Gaussian latent space.")
        seed = st.number_input("Seed", 0, 2**31 - 1, key="train_seed")
        st.number_input("Live quality every (steps)", 100, 100_000, step=100, key="train_quality_every",
                        help=f"How often a separate thread scores {state.QUALITY_SAMPLES:,} samples with the digit "
                             f"classifier (at most once every {state.QUALITY_MIN_INTERVAL_S:g} s: a faster run "
                             f"skips some multiples).")
        r1_gamma, ema_decay = st.session_state.train_r1_gamma, st.session_state.train_ema_decay
        if adversarial:
            with st.expander("Advanced"):
                if loss != "wgan_gp":
                    r1_gamma = st.number_input("R1 penalty (gamma)", 0.0, 100.0, step=0.5, key="train_r1_gamma",
                                               help="Penalises D's gradient on real digits; 0 turns it off.")
                ema_decay = st.number_input("Weight averaging (EMA decay)", 0.0, 0.9999, step=0.001,
                                            format="%.4f", key="train_ema_decay",
                                            help="Samples are drawn from a running average of G's weights; "
                                                 "0 turns it off.")
    if not dataset:
        return None
    try:
        recipe = recommended_config(model, loss, architecture, base=state.BASE_CONFIG)
        return recipe.replace(dataset=dataset, g_learning_rate=float(g_lr), d_learning_rate=float(d_lr),
                              beta1=float(beta1), batch_size=int(batch_size), d_steps=int(d_steps),
                              label_smoothing=float(smoothing), seed=int(seed), r1_gamma=float(r1_gamma),
                              ema_decay=float(ema_decay), latent_dim=int(latent_dim), gp_weight=float(gp_weight),
                              kl_weight=float(kl_weight))
    except ValueError as exc:
        st.sidebar.error(f"This recipe is not valid: {exc}. Change the value named above.")
        return None


def latent_ui(adversarial: bool) -> int:
    if adversarial:
        return st.number_input("Latent size (z)", 1, 512, key="train_latent_dim",
                               help="Length of the noise vector G draws from; 100 is the documented size.")
    if st.session_state.train_latent_dim not in AUTOENCODER_LATENTS:
        st.session_state.train_latent_dim = 16
    return st.selectbox("Latent size", tuple(AUTOENCODER_LATENTS), key="train_latent_dim",
                        format_func=lambda size: AUTOENCODER_LATENTS[size],
                        help="2 lets the Explore page draw the latent space as a map; 16 gives better digits.")


def _apply_learning_rates() -> None:
    run = st.session_state.get(state.RUN_KEY)
    if run is None:
        return
    g_rate, d_rate = float(st.session_state.train_g_lr), float(st.session_state.train_d_lr)
    before = (run.config.g_learning_rate, run.config.d_learning_rate)
    run.set_learning_rates(g_rate, d_rate)
    if before != (g_rate, d_rate):
        changes = st.session_state.setdefault(LR_CHANGES_KEY, {}).setdefault(run.run_id, [])
        changes.append((run.view.step, before, (g_rate, d_rate)))
        del changes[:-MAX_LR_NOTES]


def lr_change_notes(run) -> list[str]:
    """The learning-rate changes of this run, marked at the step they were asked at (the worker applies them at
    the end of the running chunk: the page, not the run's history, knows when they came)."""
    notes = []
    for step, (g_old, d_old), (g_new, d_new) in st.session_state.get(LR_CHANGES_KEY, {}).get(run.run_id, []):
        changed = [f"{name} {old:g} -> {new:g}" for name, old, new in (("G", g_old, g_new), ("D", d_old, d_new))
                   if old != new]
        notes.append(f"Step {step:,}: learning rate {', '.join(changed)} (from the next {state.CHUNK_STEPS} steps)")
    return notes


# ---- buttons ----------------------------------------------------------------------------------
def buttons_ui(run, view: RunView | None, config: GANConfig | None) -> None:
    status = view.status if view is not None else "none"
    start, pause, resume, step, reset = st.columns(5)
    start.button("Start", key="train_start", type="primary", icon=":material/play_arrow:", width="stretch",
                 disabled=config is None or status not in ("none", "idle"), on_click=_start, args=(config,))
    pause.button("Pause", key="train_pause", icon=":material/pause:", width="stretch",
                 disabled=status not in ("running", "starting"), on_click=_pause)
    resume.button("Resume", key="train_resume", icon=":material/resume:", width="stretch",
                  disabled=status not in RESUMABLE, on_click=_resume)
    step.button("Step", key="train_step", icon=":material/skip_next:", width="stretch",
                help=f"Run {state.CHUNK_STEPS} training steps (one refresh of the curves and samples), then hold.",
                disabled=(config is None and run is None) or status in ("running", "finished", "error", "starting"),
                on_click=_step, args=(config,))
    reset.button("Reset", key="train_reset", icon=":material/restart_alt:", width="stretch",
                 help="Forget this model and its curves (they stay on Compare); the next Start uses the recipe in "
                      "the sidebar. A long run asks first.",
                 disabled=run is None, on_click=_reset_pressed, args=(view.step if view is not None else 0,))
    if st.session_state.get(CONFIRM_RESET_KEY) and run is not None:
        confirm_reset_ui(view.step if view is not None else 0)


def _ensure_run(config: GANConfig | None):
    run = st.session_state.get(state.RUN_KEY)
    if run is not None:
        return run
    if config is None:
        st.session_state[ERROR_KEY] = "Fix the recipe in the sidebar first."
        return None
    try:
        return state.new_run(config, int(st.session_state.get("train_quality_every", state.QUALITY_EVERY_STEPS)),
                             **train_extras.run_inputs(config))
    except state.CapacityError as exc:
        st.session_state[ERROR_KEY] = str(exc)
    except (state.EngineError, ValueError, OSError) as exc:
        st.session_state[ERROR_KEY] = f"Cannot start the training: {exc}. Check the recipe and try again."
    return None


def _command(run, action, *args) -> None:
    """Send a button's command; a full server or a failed worker becomes a message, never a traceback."""
    try:
        action(*args)
    except state.CapacityError as exc:
        st.session_state[ERROR_KEY] = str(exc)
    except state.EngineError as exc:
        st.session_state[ERROR_KEY] = f"{exc} Press Reset to start again."


def _what_start_waits_for() -> str:
    """What a Start pressed now waits for, read from the engine's warm spare (said on the page while it waits)."""
    status = state.engine().status()
    if status["spare"] and not status["warming"]:
        return "a warm trainer (TensorFlow loaded, the default recipe traced) takes this run"
    if status["spare"] or status["warming"]:
        return ("the waiting trainer is still loading TensorFlow, then builds and traces the recipe (it began "
                "before this Start: when the server started, or when the last run ended)")
    return "a new trainer process loads TensorFlow, then builds and traces the recipe"


def _start(config: GANConfig | None) -> None:
    st.session_state[START_WAIT_KEY] = (time.monotonic(), _what_start_waits_for())
    run = _ensure_run(config)
    if run is not None:
        _command(run, run.start)
        # A warm worker draws its first point within a fraction of a second: wait for it here, so this very
        # redraw shows the curves instead of a "starting" message and a timer tick later.
        if run.wait_started(FIRST_POINT_WAIT_S) and run.reused_spare:
            run.wait_first_point(FIRST_POINT_WAIT_S)


def _pause() -> None:
    run = st.session_state.get(state.RUN_KEY)
    if run is not None:
        _command(run, run.pause)


def _resume() -> None:
    run = st.session_state.get(state.RUN_KEY)
    if run is not None:
        _command(run, run.resume)


def _step(config: GANConfig | None) -> None:
    run = _ensure_run(config)
    if run is not None:
        _command(run, run.step, 1)


def _reset() -> None:
    st.session_state.pop(CONFIRM_RESET_KEY, None)
    state.discard_run()


def _reset_pressed(step: int) -> None:
    """Reset at once while a run is short; a long one (an hour's lesson) asks first."""
    if step >= state.CONFIRM_RESET_STEPS:
        st.session_state[CONFIRM_RESET_KEY] = True
    else:
        _reset()


def _keep_training() -> None:
    st.session_state.pop(CONFIRM_RESET_KEY, None)


def confirm_reset_ui(step: int) -> None:
    text, yes, no = st.columns([4, 1, 1], vertical_alignment="center")
    text.warning(f"Reset this model at step {step:,}? Its weights are gone for good (download a bundle first to "
                 f"keep them); its curves and samples stay on the Compare page.", icon=":material/warning:")
    yes.button("Reset", key="train_reset_confirm", type="primary", on_click=_reset, width="stretch")
    no.button("Keep it", key="train_reset_cancel", on_click=_keep_training, width="stretch")


def pending_changes_ui(run, config: GANConfig | None) -> None:
    """Say which sidebar changes wait for a Reset (learning rates never do)."""
    if config is None:
        return
    # Against the sidebar as it was when this run was first drawn, not the run's recipe: a run continued from a
    # bundle has the bundle's recipe (a cGAN, say) while the sidebar still shows its own, and after a reload the
    # sidebar is back at its defaults; neither is a change the user made.
    recorded = st.session_state.get(SIDEBAR_AT_START_KEY)
    if recorded is None or recorded[0] != run.run_id:
        recorded = st.session_state[SIDEBAR_AT_START_KEY] = (run.run_id, config)
    baseline = recorded[1]
    changed = [name for name in GANConfig.REBUILD_FIELDS if getattr(config, name) != getattr(baseline, name)]
    quality_every = st.session_state.get("train_quality_every")
    if not run.quality_note and quality_every is not None and run.quality_every != quality_every:
        changed.append("live quality interval")
    if changed:
        text, button = st.columns([4, 1], vertical_alignment="center")
        text.warning(f"Changed: {', '.join(changed)}. This takes effect after Reset (which starts a new model).")
        button.button("Reset now", key="train_reset_apply", icon=":material/restart_alt:", on_click=_reset)


# ---- live views -------------------------------------------------------------------------------
def _waiting_text(view: RunView) -> str:
    """Before the first point: how long this Start has waited and for what ("Starting a trainer: 4 s ...")."""
    pressed, waits_for = st.session_state.get(START_WAIT_KEY, (None, ""))
    if view.status in ("starting", "running") and pressed is not None:
        return (f"Starting a trainer: {time.monotonic() - pressed:.0f} s so far; {waits_for}. The curves and "
                f"samples appear with its first steps.")
    return f"The curves and samples appear after the first {state.CHUNK_STEPS} training steps."


def live_views(run, drawn: RunView) -> None:
    drawn_status, drawn_busy = drawn.status, drawn.busy

    waiting = drawn_status == "starting" or not len(drawn.history.get("step", ()))
    refresh = (STARTING_REFRESH_S if waiting else LIVE_REFRESH_S) if drawn_busy else None

    @st.fragment(run_every=refresh)
    def live() -> None:
        # Only drawing here: the worker did the work; poll() folds in what it sent since the last redraw.
        if waiting and drawn_busy:
            run.wait_first_point(FIRST_POINT_HOLD_S)  # returns the moment the first point exists
        view = run.poll()
        if view.status != drawn_status or view.busy != drawn_busy or (waiting and len(view.history.get("step", ()))):
            st.rerun()  # the buttons and the timer depend on the status: redraw the whole page
        probabilities = run.config.loss in LOGISTIC_LOSSES
        alerts = alerts_ui(view, view.quality if run.config.is_adversarial else None, probabilities)
        feed = live_feed.feed_url(run)
        status_ui(view, feed, live_feed.redraw_key(run, view, alerts))
        if len(view.history.get("step", ())) == 0:
            if view.status not in ("error", "worker_gone", "stopped"):
                st.info(_waiting_text(view))
            return
        presentation_ui(view, run.config, probabilities, feed, notes=lr_change_notes(run))
        # The discriminator view and live quality follow the feed between reruns, as the curves do.
        if run.config.is_adversarial:
            discriminator_view_ui(view, probabilities, feed)
        quality_ui(run, view, feed)

    live()
    train_extras.timeline_ui(run, TIMELINE_REFRESH_S if drawn_busy else None)
    train_extras.downloads_ui(run)


main()
