"""Train page: choose data and a recipe, train in this session's worker, watch curves and samples live."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from gan_core.config import GAN_LOSSES, LOGISTIC_LOSSES, GANConfig
from gan_core.data import DATASET_CHOICES, DatasetError
from gan_core.images import grid_png
from gan_core.training import TrainerSnapshot, downsample
from ui import state

LIVE_REFRESH_S = 0.7
ERROR_KEY = "train_error"
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
EQUILIBRIUM_D_LOSS = 2 * math.log(2)
EQUILIBRIUM_G_LOSS = math.log(2)
SERIES_LABELS = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "mean D(x), real", "d_fake": "mean D(G(z)), fake"}
SERIES_COLOURS = {"D loss": "#c0392b", "G loss": "#2874a6", "mean D(x), real": "#27ae60", "mean D(G(z)), fake": "#8e44ad"}
STATUS_TEXT = {
    "idle": ("Ready", "Press Start to train, or Step to run one chunk of {chunk} steps."),
    "running": ("Running", "Training in the background; the views below refresh by themselves."),
    "paused": ("Paused", "Resume to continue, or Step to run one chunk of {chunk} steps."),
    "stopped": ("Stopped", "The worker stopped (the browser disconnected, or the server asked it to). Your model "
                "and curves are kept: Resume continues from this step."),
    "finished": ("Finished", ""),
    "diverged": ("Diverged", ""),
    "error": ("Error", "Press Reset to start again; if it happens again, lower the learning rates."),
}


def main() -> None:
    st.title("Train a GAN")
    st.write("A generator G turns random noise z into images; a discriminator D learns to tell them from real "
             "digits, and G learns to fool D. Pick a recipe in the sidebar, press **Start**, and watch them compete.")
    config = controls_ui()
    run = state.current_run()
    if ERROR_KEY in st.session_state:
        st.error(st.session_state.pop(ERROR_KEY))
    buttons_ui(run, config)
    run = state.current_run()  # a button callback may have made or dropped it
    if run is None:
        st.info("Nothing is training yet. The first chunk also compiles the training step, which takes a few "
                "seconds; after that the views below refresh about every 0.7 s while training runs.")
        return
    for note in run.dataset.notes:
        st.warning(note)
    pending_changes_ui(run, config)
    live_views(run)


# ---- controls ---------------------------------------------------------------------------------
def controls_ui() -> GANConfig | None:
    """The recipe widgets in the sidebar; returns the config they describe, or None (with an error shown)."""
    base = state.BASE_CONFIG
    state.keep_widgets({
        "train_dataset": base.dataset if base.dataset in DATASET_CHOICES else DATASET_CHOICES[0],
        "train_idx_path": "", "train_g_lr": float(base.g_learning_rate), "train_d_lr": float(base.d_learning_rate),
        "train_beta1": float(base.beta1), "train_batch_size": base.batch_size if base.batch_size in BATCH_SIZES else 128,
        "train_d_steps": int(base.d_steps), "train_label_smoothing": float(base.label_smoothing),
        "train_seed": int(base.seed), "train_loss": base.loss, "train_r1_gamma": float(base.r1_gamma),
        "train_ema_decay": float(base.ema_decay)})
    with st.sidebar:
        st.header("Recipe")
        choice = st.selectbox("Dataset", DATASET_CHOICES, key="train_dataset",
                              help="mnist-sample: 5,000 real MNIST digits, offline. mnist / fashion_mnist: the full "
                                   "sets, downloaded by Keras (falls back to mnist-sample when offline). idx:PATH: "
                                   "a folder of MNIST-format IDX files.")
        dataset = choice
        if choice == "idx:PATH":
            folder = st.text_input("IDX folder", key="train_idx_path", placeholder="/data/mnist",
                                   help="A folder holding *-images-idx3-ubyte[.gz] (and optionally the labels files).")
            dataset = f"idx:{folder.strip()}" if folder.strip() else ""
        st.caption("Learning rates apply live, at the next chunk. Everything else takes effect after Reset.")
        g_lr = st.number_input("G learning rate", 1e-6, 0.1, step=1e-5, format="%.5f",
                               key="train_g_lr", on_change=_apply_learning_rates)
        d_lr = st.number_input("D learning rate", 1e-6, 0.1, step=1e-5, format="%.5f",
                               key="train_d_lr", on_change=_apply_learning_rates)
        beta1 = st.slider("Adam beta1", 0.0, 0.99, step=0.05, key="train_beta1",
                          help="Momentum of Adam; 0.5 is the DCGAN choice, 0.9 Adam's default.")
        batch_size = st.select_slider("Batch size", BATCH_SIZES, key="train_batch_size")
        d_steps = st.number_input("D steps per G step", 1, 10, key="train_d_steps")
        smoothing = st.slider("Label smoothing", 0.0, 0.45, step=0.05, key="train_label_smoothing",
                              help="One-sided: D is told real digits are 1 - this, which keeps it from overconfidence.")
        seed = st.number_input("Seed", 0, 2**31 - 1, key="train_seed")
        with st.expander("Advanced"):
            loss = st.selectbox("Loss", GAN_LOSSES, key="train_loss",
                                help="non_saturating is the standard choice; minimax is the textbook objective "
                                     "whose generator gradient vanishes early in training.")
            r1_gamma = st.number_input("R1 penalty (gamma)", 0.0, 100.0, step=0.5, key="train_r1_gamma",
                                       help="Penalises D's gradient on real digits; 0 turns it off.")
            ema_decay = st.number_input("Weight averaging (EMA decay)", 0.0, 0.9999, step=0.001,
                                        format="%.4f", key="train_ema_decay",
                                        help="Samples are drawn from a running average of G's weights; 0 turns it off.")
    if not dataset:
        st.sidebar.error("Type the IDX folder to train on, e.g. /data/mnist.")
        return None
    try:
        return base.replace(dataset=dataset, g_learning_rate=float(g_lr), d_learning_rate=float(d_lr),
                            beta1=float(beta1), batch_size=int(batch_size), d_steps=int(d_steps),
                            label_smoothing=float(smoothing), seed=int(seed), loss=loss,
                            r1_gamma=float(r1_gamma), ema_decay=float(ema_decay))
    except ValueError as exc:
        st.sidebar.error(f"This recipe is not valid: {exc}. Change the value named above.")
        return None


def _apply_learning_rates() -> None:
    run = st.session_state.get(state.RUN_KEY)
    if run is not None:
        run.set_learning_rates(float(st.session_state.train_g_lr), float(st.session_state.train_d_lr))


# ---- buttons ----------------------------------------------------------------------------------
def buttons_ui(run, config: GANConfig | None) -> None:
    status = run.trainer.status if run is not None else "none"
    start, pause, resume, step, reset = st.columns(5)
    start.button("Start", key="train_start", type="primary", icon=":material/play_arrow:", width="stretch",
                 disabled=config is None or status not in ("none", "idle"), on_click=_start, args=(config,))
    pause.button("Pause", key="train_pause", icon=":material/pause:", width="stretch",
                 disabled=status != "running", on_click=_pause)
    resume.button("Resume", key="train_resume", icon=":material/resume:", width="stretch",
                  disabled=status not in ("paused", "stopped", "diverged"), on_click=_resume)
    step.button("Step", key="train_step", icon=":material/skip_next:", width="stretch",
                help=f"Run one chunk of {state.CHUNK_STEPS} steps, then hold.",
                disabled=(config is None and run is None) or status in ("running", "finished", "error"),
                on_click=_step, args=(config,))
    reset.button("Reset", key="train_reset", icon=":material/restart_alt:", width="stretch",
                 help="Forget this model and its curves; the next Start uses the recipe in the sidebar.",
                 disabled=run is None, on_click=_reset)


def _ensure_run(config: GANConfig | None):
    run = st.session_state.get(state.RUN_KEY)
    if run is not None:
        return run
    if config is None:
        st.session_state[ERROR_KEY] = "Fix the recipe in the sidebar first."
        return None
    try:
        return state.new_run(config)
    except DatasetError as exc:
        st.session_state[ERROR_KEY] = f"Cannot load the dataset: {exc}"
    except (ValueError, OSError) as exc:
        st.session_state[ERROR_KEY] = f"Cannot build the model: {exc}. Check the recipe and try again."
    return None


def _start(config: GANConfig | None) -> None:
    run = _ensure_run(config)
    if run is not None:
        run.trainer.start()


def _pause() -> None:
    run = st.session_state.get(state.RUN_KEY)
    if run is not None:
        run.trainer.pause()


def _resume() -> None:
    run = st.session_state.get(state.RUN_KEY)
    if run is not None:
        run.trainer.resume()


def _step(config: GANConfig | None) -> None:
    run = _ensure_run(config)
    if run is not None:
        run.trainer.step(1)


def _reset() -> None:
    state.discard_run()


def pending_changes_ui(run, config: GANConfig | None) -> None:
    """Say which sidebar changes wait for a Reset (learning rates never do)."""
    if config is None:
        return
    changed = [name for name in GANConfig.REBUILD_FIELDS if getattr(config, name) != getattr(run.config, name)]
    if changed:
        text, button = st.columns([4, 1], vertical_alignment="center")
        text.warning(f"Changed: {', '.join(changed)}. This takes effect after Reset (which starts a new model).")
        button.button("Reset now", key="train_reset_apply", icon=":material/restart_alt:", on_click=_reset)


# ---- live views -------------------------------------------------------------------------------
def _busy(snapshot: TrainerSnapshot) -> bool:
    """True while the worker is producing new steps (a pause lands after the current chunk): the timer runs only then."""
    return snapshot.busy


def live_views(run) -> None:
    drawn = run.trainer.snapshot()
    drawn_busy = _busy(drawn)

    @st.fragment(run_every=LIVE_REFRESH_S if drawn_busy else None)
    def live() -> None:
        snapshot = run.trainer.snapshot()
        if snapshot.status != drawn.status or _busy(snapshot) != drawn_busy:
            st.rerun()  # the buttons and the timer depend on the status: redraw the whole page
        status_ui(snapshot)
        charts_ui(snapshot, run.config)

    live()


def status_ui(snapshot: TrainerSnapshot) -> None:
    title, hint = STATUS_TEXT.get(snapshot.status, (snapshot.status, ""))
    step_col, elapsed_col, speed_col, status_col = st.columns([1, 1, 1, 3])
    step_col.metric("Step", f"{snapshot.step:,}")
    elapsed_col.metric("Elapsed", f"{snapshot.elapsed_s:,.1f} s")
    speed_col.metric("Steps/s", f"{snapshot.steps_per_second:,.0f}" if snapshot.steps_per_second else "-")
    text = snapshot.message or hint.format(chunk=state.CHUNK_STEPS)
    with status_col:
        show = {"diverged": st.warning, "error": st.error}.get(snapshot.status, st.info)
        show(f"**{title}.** {text}")


def _long_frame(history: dict, names: list[str]) -> pd.DataFrame:
    frames = []
    for name in names:
        if name in history:
            steps, values = downsample(history["step"], history[name])
            frames.append(pd.DataFrame({"step": steps, "value": values, "series": SERIES_LABELS[name]}))
    return pd.concat(frames, ignore_index=True)


def _line_chart(frame: pd.DataFrame, y_title: str, references: list[tuple[float, str]]) -> alt.Chart:
    lines = alt.Chart(frame).mark_line().encode(
        x=alt.X("step:Q", title="step"), y=alt.Y("value:Q", title=y_title),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=list(frame["series"].unique()),
                                        range=[SERIES_COLOURS[s] for s in frame["series"].unique()])))
    layers = [lines]
    for value, label in references:
        rule = pd.DataFrame({"value": [value], "label": [label]})
        layers.append(alt.Chart(rule).mark_rule(strokeDash=[4, 4], color="gray")
                      .encode(y="value:Q", tooltip=["label:N", "value:Q"]))
    return alt.layer(*layers).properties(height=230)


def charts_ui(snapshot: TrainerSnapshot, config: GANConfig) -> None:
    history = snapshot.history
    if len(history.get("step", [])) == 0:
        st.info("The curves and samples appear after the first chunk (it also compiles the training step).")
        return
    logistic = config.loss in LOGISTIC_LOSSES
    chart, text = st.columns([3, 2])
    loss_refs = [(EQUILIBRIUM_D_LOSS, "2 ln 2"), (EQUILIBRIUM_G_LOSS, "ln 2")] if logistic else []
    chart.altair_chart(_line_chart(_long_frame(history, ["d_loss", "g_loss"]), "loss", loss_refs),
                       width="stretch")
    text.markdown(
        "**Losses.** At the equilibrium D cannot tell real from fake: D loss sits near 2 ln 2 ≈ 1.39 and G loss "
        "near ln 2 ≈ 0.69 (dashed). Healthy training wobbles around these values. D loss falling towards 0 while "
        "G loss climbs means D is winning and G gets little to learn from; NaN or a sudden explosion means "
        "divergence (lower the learning rates)." if logistic else
        f"**Losses.** With the {config.loss.replace('_', '-')} loss the values have no fixed equilibrium; watch for "
        "steady curves rather than a target. An explosion means divergence (lower the learning rates).")
    chart, text = st.columns([3, 2])
    score_refs = [(0.5, "equilibrium 0.5")] if logistic else []
    chart.altair_chart(_line_chart(_long_frame(history, ["d_real", "d_fake"]), "D output" if logistic else "critic score",
                                   score_refs), width="stretch")
    text.markdown(
        "**What D believes.** Mean D(x) on real digits and mean D(G(z)) on generated ones. At equilibrium both "
        "hover around 0.5 (dashed). D(x) → 1 with D(G(z)) → 0 means D is winning; both near 1 means G fools D "
        "easily, often because D has stopped learning." if logistic else
        "**What the critic says.** Mean raw scores on real and generated digits; a widening gap means the critic "
        "separates them easily.")
    if snapshot.samples is not None:
        picture, text = st.columns([3, 2])
        picture.image(grid_png(snapshot.samples, columns=8, scale=2), output_format="PNG",
                      caption=f"The same 64 noise vectors, drawn at step {snapshot.samples_step:,}")
        text.markdown(
            "**Samples.** The grid always uses the same 64 noise vectors, so changes you see are G learning. "
            "Healthy: blobs become strokes, then varied, legible digits. Unhealthy: many cells turn into the same "
            "digit (mode collapse), or the grid flickers between styles from one refresh to the next.")


main()
