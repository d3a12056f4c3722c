"""Train page: choose data and a recipe, train in this session's worker, watch curves and samples live."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from gan_core.alerts import check_alerts
from gan_core.config import GAN_LOSSES, LOGISTIC_LOSSES, GANConfig, recommended_config
from gan_core.data import DATASET_CHOICES, DatasetError
from gan_core.images import grid_png
from gan_core.train_views import score_histogram
from gan_core.training import TrainerSnapshot, downsample
from ui import state

LIVE_REFRESH_S = 1.5  # each redraw holds the GIL the trainer thread needs; measured in benchmarks/ui_speed.py
ERROR_KEY = "train_error"
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
EQUILIBRIUM_D_LOSS = 2 * math.log(2)
EQUILIBRIUM_G_LOSS = math.log(2)
SERIES_LABELS = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "mean D(x), real", "d_fake": "mean D(G(z)), fake",
                 "gradient_penalty": "gradient penalty", "d_grad_norm": "D gradient norm",
                 "g_grad_norm": "G gradient norm", "loss": "total (negative ELBO)", "recon_loss": "reconstruction",
                 "kl_loss": "KL", "fid": "FID", "classes_covered": "classes covered",
                 "kl_to_uniform": "KL to uniform", "precision": "precision", "recall": "recall"}
CRITIC_LABELS = {"d_real": "critic score, real", "d_fake": "critic score, fake"}
SERIES_COLOURS = {"D loss": "#c0392b", "G loss": "#2874a6", "mean D(x), real": "#27ae60",
                  "mean D(G(z)), fake": "#8e44ad", "critic score, real": "#27ae60", "critic score, fake": "#8e44ad",
                  "gradient penalty": "#d35400", "D gradient norm": "#c0392b", "G gradient norm": "#2874a6",
                  "total (negative ELBO)": "#2c3e50", "reconstruction": "#2874a6", "KL": "#d35400",
                  "FID": "#2c3e50", "classes covered": "#27ae60", "KL to uniform": "#d35400",
                  "precision": "#8e44ad", "recall": "#16a085"}
# One paragraph beside each chart: what healthy and unhealthy look like.
LOSS_TEXT = {
    "non_saturating": "**Losses.** At the equilibrium D cannot tell real from fake: D loss sits near 2 ln 2 ≈ 1.39 "
                      "and G loss near ln 2 ≈ 0.69 (dashed). Healthy training wobbles around these values. D loss "
                      "falling towards 0 while G loss climbs means D is winning and G gets little to learn from; NaN "
                      "or a sudden explosion means divergence (lower the learning rates).",
    "wgan_gp": "**Losses.** The critic's loss is minus its estimate of the Wasserstein distance between real and "
               "generated digits (plus the penalty), so it starts strongly negative and should creep towards 0 as G "
               "improves. G loss has no target. A critic loss that keeps falling, or swings wildly, means the "
               "critic or G is out of step (check the penalty below).",
    "other": "**Losses.** With the {loss} loss the values have no fixed equilibrium; watch for steady curves rather "
             "than a target. D loss heading to 0 while G loss climbs means D is winning; an explosion means "
             "divergence (lower the learning rates).",
}
LOSS_TEXT["minimax"] = LOSS_TEXT["non_saturating"]
SCORES_TEXT_PROBABILITY = (
    "**What D believes.** Mean D(x) on real digits and mean D(G(z)) on generated ones. At equilibrium both hover "
    "around 0.5 (dashed). D(x) → 1 with D(G(z)) → 0 means D is winning; both near 1 means G fools D easily, often "
    "because D has stopped learning.")
SCORES_TEXT_CRITIC = (
    "**What the critic says.** Mean raw scores on real and generated digits; they are not probabilities, so there "
    "is no 0.5 line. A steady, modest gap is healthy; a gap that widens without end means the critic separates "
    "them easily and G is not catching up.")
PENALTY_TEXT = (
    "**Gradient penalty.** How far the critic's gradient norm strays from 1 between real and generated digits. "
    "Healthy: it drops quickly and stays small. A penalty that grows means the critic is breaking its Lipschitz "
    "constraint; raise the penalty weight or lower the learning rates.")
GRAD_NORM_TEXT = (
    "**Gradient norms.** The size of each network's update signal. Healthy: both stay within an order of magnitude "
    "of where they started. G's norm collapsing towards 0 means D gives it nothing to learn from (vanishing "
    "gradients); spikes in either one come before divergence.")
RECON_TEXT = (
    "**Reconstruction loss.** How badly the decoder rebuilds each digit from its code (cross-entropy over the "
    "pixels). Healthy: a steep drop, then a slow decline. A plateau early on means the learning rate is too low; "
    "a jump up means it is too high.")
ELBO_TEXT = (
    "**The ELBO terms.** The total is the negative evidence lower bound: reconstruction plus the weighted KL term "
    "(next chart). Healthy: both fall fast, then flatten. A total that rises again, or NaN, means the learning rate "
    "is too high.")
KL_TEXT = (
    "**KL term.** How far the encoder's codes stray from the N(0, I) prior (weight {weight:g}). Healthy: it rises "
    "early as codes start to carry information, then levels off. Near 0 for long means posterior collapse: the "
    "decoder ignores z (lower the KL weight); a KL that keeps growing gives sharp reconstructions but poor samples.")
SAMPLES_TEXT = {
    "gan": "**Samples.** The grid always uses the same 64 noise vectors, so changes you see are G learning. Healthy: "
           "blobs become strokes, then varied, legible digits. Unhealthy: many cells turn into the same digit (mode "
           "collapse), or the grid flickers between styles from one refresh to the next.",
    "cgan": "**Samples.** The same 64 noise vectors, each asked for a digit: 0, 1, ..., 9, 0, 1, ... reading left to "
            "right, row by row. Healthy: each cell shows the digit it was asked for. Unhealthy: the label is ignored, or many cells "
            "turn into the same digit (mode collapse).",
    "ae": "**Samples.** The decoder applied to random z from N(0, I). Nothing shapes a plain autoencoder's codes "
          "like that Gaussian, so expect poor or smeared digits even when reconstructions are good: that is the "
          "lesson of this model, not a bug.",
    "vae": "**Samples.** The decoder applied to random z from N(0, I), which the KL term makes the codes resemble. "
           "Healthy: legible but blurry digits (blur is the VAE's known weakness). Grey mush late in training "
           "means the KL term dominates.",
}
DISCRIMINATOR_VIEW_TEXT = (
    "**Discriminator view.** D's output on 256 real digits (green) and 256 generated ones (purple), as in GAN Lab. "
    "Early on the two piles sit apart: real near 1, fake near 0. Healthy training pulls them together around 0.5. "
    "Piles pinned at 1 and 0 for long means D is winning; purple piled at 1 means G fools a D that stopped learning.")
DISCRIMINATOR_VIEW_TEXT_CRITIC = (
    "**Critic view.** The critic's raw score on 256 real digits (green) and 256 generated ones (purple), as in GAN "
    "Lab. Healthy training brings the two piles closer and keeps them overlapping; piles that drift apart without "
    "end mean the critic separates them easily and G is not catching up.")
QUALITY_TEXT = (
    "Every {every:,} steps a separate thread draws {n:,} digits and scores them with a digit classifier. "
    "**FID** on its features should fall towards the real-vs-real floor (dashed: two sets of real digits "
    "differ by this much too). **Classes covered** should reach 10 and **KL to uniform** approach 0: a drop in "
    "classes or a rising KL is mode collapse. **Precision** (samples look real) and **recall** (samples cover the "
    "variety of real digits) should both rise; high precision with low recall is again mode collapse.")
MODEL_CHOICES = {  # widget value -> (label, GANConfig.model, GANConfig.architecture)
    "gan": ("GAN (documented)", "gan", "dense"), "cgan": ("Conditional GAN", "cgan", "dense"),
    "dcgan": ("DCGAN (conv)", "gan", "conv"), "ae": ("Autoencoder", "ae", "dense"), "vae": ("VAE", "vae", "dense")}
MODEL_TITLES = {"ae": "an autoencoder", "vae": "a VAE"}
LOSS_LABELS = {"non_saturating": "non-saturating", "minimax": "minimax", "least_squares": "least squares (LSGAN)",
               "hinge": "hinge", "wgan_gp": "WGAN-GP"}
AUTOENCODER_LATENTS = {2: "2 (latent map)", 16: "16 (quality)"}
# Widgets a new model or loss sets to its recommended recipe, and the config field each shows.
RECIPE_WIDGETS = {"train_g_lr": "g_learning_rate", "train_d_lr": "d_learning_rate", "train_beta1": "beta1",
                  "train_d_steps": "d_steps", "train_label_smoothing": "label_smoothing",
                  "train_r1_gamma": "r1_gamma", "train_latent_dim": "latent_dim", "train_loss": "loss"}
INTRO_ADVERSARIAL = ("A generator G turns random noise z into images; a discriminator D learns to tell them from real "
                     "digits, and G learns to fool D. Pick a recipe in the sidebar, press **Start**, and watch them "
                     "compete.")
INTRO_AUTOENCODER = ("An encoder squeezes each digit into a short latent code and a decoder rebuilds the digit from "
                     "it; no adversary. Pick a recipe in the sidebar, press **Start**, and watch the reconstruction "
                     "improve.")
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
    config = controls_ui()
    adversarial = MODEL_CHOICES[st.session_state.train_model][1] in ("gan", "cgan")
    st.title("Train a GAN" if adversarial else f"Train {MODEL_TITLES[st.session_state.train_model]}")
    st.write(INTRO_ADVERSARIAL if adversarial else INTRO_AUTOENCODER)
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


def controls_ui() -> GANConfig | None:
    """The recipe widgets in the sidebar; returns the config they describe, or None (with an error shown)."""
    base = state.BASE_CONFIG
    start = recommended_config(base.model, base.loss, base.architecture, base=base)
    state.keep_widgets({
        "train_model": _choice_of(base), "train_dataset": base.dataset if base.dataset in DATASET_CHOICES else DATASET_CHOICES[0],
        "train_idx_path": "", "train_g_lr": float(start.g_learning_rate), "train_d_lr": float(start.d_learning_rate),
        "train_beta1": float(start.beta1), "train_batch_size": base.batch_size if base.batch_size in BATCH_SIZES else 128,
        "train_d_steps": int(start.d_steps), "train_label_smoothing": float(start.label_smoothing),
        "train_seed": int(base.seed), "train_loss": start.loss, "train_r1_gamma": float(start.r1_gamma),
        "train_ema_decay": float(base.ema_decay), "train_latent_dim": int(start.latent_dim),
        "train_kl_weight": float(base.kl_weight), "train_gp_weight": float(base.gp_weight),
        "train_quality_every": state.QUALITY_EVERY_STEPS})
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
        dataset_choice = st.selectbox(
            "Dataset", DATASET_CHOICES, key="train_dataset",
            help="mnist-sample: 5,000 real MNIST digits, offline. mnist / fashion_mnist: the full sets, downloaded "
                 "by Keras (falls back to mnist-sample when offline). idx:PATH: a folder of MNIST-format IDX files.")
        dataset = dataset_choice
        if dataset_choice == "idx:PATH":
            folder = st.text_input("IDX folder", key="train_idx_path", placeholder="/data/mnist",
                                   help="A folder holding *-images-idx3-ubyte[.gz] (and optionally the labels files).")
            dataset = f"idx:{folder.strip()}" if folder.strip() else ""
        st.caption("Learning rates apply live, at the next chunk. Everything else takes effect after Reset.")
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
                        help="How often a separate thread scores 1,000 samples with the digit classifier.")
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
        st.sidebar.error("Type the IDX folder to train on, e.g. /data/mnist.")
        return None
    try:
        recipe = recommended_config(model, loss, architecture, base=base)
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
        return state.new_run(config, int(st.session_state.get("train_quality_every", state.QUALITY_EVERY_STEPS)))
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
    quality_every = st.session_state.get("train_quality_every")
    if run.live_quality is not None and quality_every is not None and run.live_quality.every_steps != quality_every:
        changed.append("live quality interval")
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
        # Only drawing here: the worker, the probes and the quality thread did the work.
        snapshot = run.trainer.snapshot()
        if snapshot.status != drawn.status or _busy(snapshot) != drawn_busy:
            st.rerun()  # the buttons and the timer depend on the status: redraw the whole page
        quality = run.live_quality.history() if run.live_quality is not None else None
        alerts_ui(snapshot, quality if run.config.is_adversarial else None, run.model.scores_are_probabilities)
        status_ui(snapshot)
        if len(snapshot.history.get("step", [])) == 0:
            st.info("The curves and samples appear after the first chunk (it also compiles the training step).")
            return
        if run.config.is_adversarial:
            adversarial_charts_ui(snapshot, run.config, run.model.scores_are_probabilities)
        else:
            autoencoder_charts_ui(snapshot, run.config)
        samples_ui(snapshot, run.config)
        if run.config.is_adversarial:
            discriminator_view_ui(snapshot, run.model.scores_are_probabilities)
        quality_ui(run, quality)

    live()


def alerts_ui(snapshot: TrainerSnapshot, quality: dict | None, scores_are_probabilities: bool) -> None:
    for alert in check_alerts(snapshot.history, quality, snapshot.status, snapshot.message, scores_are_probabilities):
        show = st.error if alert.severity == "error" else st.warning
        show(f"**{alert.title}.** {alert.message}", icon=":material/error:" if alert.severity == "error"
             else ":material/warning:")


def status_ui(snapshot: TrainerSnapshot) -> None:
    title, hint = STATUS_TEXT.get(snapshot.status, (snapshot.status, ""))
    step_col, elapsed_col, speed_col, status_col = st.columns([1, 1, 1, 3])
    step_col.metric("Step", f"{snapshot.step:,}")
    elapsed_col.metric("Elapsed", f"{snapshot.elapsed_s:,.1f} s")
    speed_col.metric("Steps/s", f"{snapshot.steps_per_second:,.0f}" if snapshot.steps_per_second else "-")
    text = snapshot.message or hint.format(chunk=state.CHUNK_STEPS)
    if snapshot.status == "diverged":
        text = "Training holds at the last good weights; see the alert above."
    with status_col:
        show = {"diverged": st.warning, "error": st.error}.get(snapshot.status, st.info)
        show(f"**{title}.** {text}")


def _long_frame(history: dict, names: list[str], labels: dict[str, str] | None = None) -> pd.DataFrame:
    labels = {**SERIES_LABELS, **(labels or {})}
    frames = []
    for name in names:
        if name in history and len(history[name]):
            steps, values = downsample(np.asarray(history["step"]), np.asarray(history[name]), max_points=600)
            frames.append(pd.DataFrame({"step": steps, "value": values, "series": labels[name]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["step", "value", "series"])


# Charts are plain Vega-Lite specs: Altair's schema validation costs ~100 ms a chart here, more than a redraw may take.
def _rule(value: float, label: str, field: str = "value") -> dict:
    return {"data": {"values": [{field: value, "label": label}]},
            "mark": {"type": "rule", "strokeDash": [4, 4], "color": "gray"},
            "encoding": {"y": {"field": field, "type": "quantitative"},
                         "tooltip": [{"field": "label", "type": "nominal"},
                                     {"field": field, "type": "quantitative", "format": ".4g"}]}}


def _line_spec(series: list[str], y_title: str, references: list[tuple[float, str]],
               y_domain: tuple[float, float] | None = None, points: bool = False, y_zero: bool = False) -> dict:
    lines = {"mark": {"type": "line", "point": points},
             "encoding": {
                 "x": {"field": "step", "type": "quantitative", "title": "step", "scale": {"domainMin": 0},
                       "axis": {"format": "~s"}},
                 "y": {"field": "value", "type": "quantitative", "title": y_title,
                       "scale": {"domain": list(y_domain)} if y_domain else {"zero": y_zero}},
                 "color": {"field": "series", "type": "nominal", "title": None, "legend": {"orient": "top"},
                           "scale": {"domain": series, "range": [SERIES_COLOURS.get(s, "#555555") for s in series]}},
                 "tooltip": [{"field": "series", "type": "nominal"}, {"field": "step", "type": "quantitative"},
                             {"field": "value", "type": "quantitative", "format": ".4g"}]}}
    return {"height": 230, "layer": [lines] + [_rule(value, label) for value, label in references]}


def _draw_lines(where, frame: pd.DataFrame, y_title: str, references: list[tuple[float, str]], **options) -> None:
    where.vega_lite_chart(frame, _line_spec(list(frame["series"].unique()), y_title, references, **options),
                          width="stretch")


def _chart_with_text(frame: pd.DataFrame, y_title: str, references: list[tuple[float, str]], text: str,
                     **chart_options) -> None:
    chart, words = st.columns([3, 2])
    _draw_lines(chart, frame, y_title, references, **chart_options)
    words.markdown(text)


def adversarial_charts_ui(snapshot: TrainerSnapshot, config: GANConfig, probabilities: bool) -> None:
    history = snapshot.history
    logistic = config.loss in LOGISTIC_LOSSES
    loss_refs = [(EQUILIBRIUM_D_LOSS, "2 ln 2"), (EQUILIBRIUM_G_LOSS, "ln 2")] if logistic else []
    _chart_with_text(_long_frame(history, ["d_loss", "g_loss"]), "loss", loss_refs, LOSS_TEXT.get(
        config.loss, LOSS_TEXT["other"]).format(loss=LOSS_LABELS[config.loss]))
    if probabilities:
        _chart_with_text(_long_frame(history, ["d_real", "d_fake"]), "D output", [(0.5, "equilibrium 0.5")],
                         SCORES_TEXT_PROBABILITY)
    else:
        _chart_with_text(_long_frame(history, ["d_real", "d_fake"], CRITIC_LABELS), "critic score", [],
                         SCORES_TEXT_CRITIC)
    if "gradient_penalty" in history:
        _chart_with_text(_long_frame(history, ["gradient_penalty"]), "penalty", [], PENALTY_TEXT)
    _chart_with_text(_long_frame(history, ["d_grad_norm", "g_grad_norm"]), "gradient norm", [], GRAD_NORM_TEXT)


def autoencoder_charts_ui(snapshot: TrainerSnapshot, config: GANConfig) -> None:
    history = snapshot.history
    if config.model == "vae":
        _chart_with_text(_long_frame(history, ["loss", "recon_loss"]), "loss per digit", [], ELBO_TEXT)
        _chart_with_text(_long_frame(history, ["kl_loss"]), "KL (nats)", [], KL_TEXT.format(weight=config.kl_weight))
    else:
        _chart_with_text(_long_frame(history, ["recon_loss"]), "loss per digit", [], RECON_TEXT)


def samples_ui(snapshot: TrainerSnapshot, config: GANConfig) -> None:
    if snapshot.samples is None:
        return
    picture, text = st.columns([3, 2])
    what = "noise vectors" if config.is_adversarial else "latent vectors, drawn from N(0, I) and decoded,"
    picture.image(grid_png(snapshot.samples, columns=8, scale=2), output_format="PNG",
                  caption=f"The same 64 {what} at step {snapshot.samples_step:,}")
    text.markdown(SAMPLES_TEXT[config.model if config.model in SAMPLES_TEXT else "gan"])


def discriminator_view_ui(snapshot: TrainerSnapshot, probabilities: bool) -> None:
    view = snapshot.extras.get("discriminator_view")
    if not view:
        return
    histogram = score_histogram(view["real"], view["fake"], probabilities)
    frame = pd.concat([pd.DataFrame({"lower": histogram["lower"], "upper": histogram["upper"],
                                     "count": histogram[batch], "batch": label})
                       for batch, label in (("real", "real digits"), ("fake", "generated digits"))],
                      ignore_index=True)
    title = "D(x), probability of 'real'" if probabilities else "critic score"
    spec = {"height": 230, "mark": {"type": "bar", "opacity": 0.55, "binSpacing": 0},
            "encoding": {
                "x": {"field": "lower", "type": "quantitative", "bin": "binned", "title": title},
                "x2": {"field": "upper"},
                "y": {"field": "count", "type": "quantitative", "stack": None,
                      "title": f"digits (of {len(view['real'])} each)"},
                "color": {"field": "batch", "type": "nominal", "title": None, "legend": {"orient": "top"},
                          "scale": {"domain": ["real digits", "generated digits"], "range": ["#27ae60", "#8e44ad"]}},
                "tooltip": [{"field": "batch", "type": "nominal"},
                            {"field": "lower", "type": "quantitative", "format": ".3g"},
                            {"field": "upper", "type": "quantitative", "format": ".3g"},
                            {"field": "count", "type": "quantitative"}]}}
    picture, text = st.columns([3, 2])
    picture.vega_lite_chart(frame, spec, width="stretch")
    text.markdown(DISCRIMINATOR_VIEW_TEXT if probabilities else DISCRIMINATOR_VIEW_TEXT_CRITIC)


def quality_ui(run, quality: dict | None) -> None:
    st.subheader("Quality, judged by a digit classifier")
    live = run.live_quality
    if live is None:
        note = st.session_state.get(state.QUALITY_NOTE_KEY) or "this run was started without them"
        st.info(f"Quality metrics unavailable: {note}")
        return
    if live.error:
        st.warning(live.error)
    if quality is None or len(quality["step"]) == 0:
        st.info(f"The first evaluation comes at step {live.every_steps:,}: {live.n:,} samples scored by the digit "
                f"classifier in a separate thread, so training never waits for it.")
        return
    st.markdown(QUALITY_TEXT.format(n=live.n, every=live.every_steps))
    fid, coverage = st.columns(2)
    _draw_lines(fid, _long_frame(quality, ["fid"]), "FID (classifier features)",
                [(float(quality["fid_floor"][-1]), "real-vs-real floor")], points=True, y_zero=True)
    _draw_lines(coverage, _long_frame(quality, ["classes_covered"]), "classes covered", [(10, "all 10")],
                y_domain=(0, 10), points=True)
    kl, precision_recall = st.columns(2)
    _draw_lines(kl, _long_frame(quality, ["kl_to_uniform"]), "KL to uniform (nats)", [], points=True, y_zero=True)
    _draw_lines(precision_recall, _long_frame(quality, ["precision", "recall"]), "share", [], y_domain=(0, 1),
                points=True)
    shares = live.latest_shares
    if shares is not None:
        frame = pd.DataFrame({"digit": [str(d) for d in range(len(shares))], "share": shares})
        bars = {"mark": {"type": "bar", "color": "#2874a6"},
                "encoding": {"x": {"field": "digit", "type": "nominal", "title": "class the classifier sees",
                                   "axis": {"labelAngle": 0}},
                             "y": {"field": "share", "type": "quantitative", "title": "share of samples",
                                   "axis": {"format": "%"}},
                             "tooltip": [{"field": "digit", "type": "nominal"},
                                         {"field": "share", "type": "quantitative", "format": ".1%"}]}}
        chart, text = st.columns([3, 2])
        chart.vega_lite_chart(frame, {"height": 200, "layer": [bars, _rule(0.1, "uniform 10%", "share")]},
                              width="stretch")
        text.markdown(f"**Which digits {'G' if run.config.is_adversarial else 'the decoder'} draws** (step {int(quality['step'][-1]):,}). Healthy: every bar near the "
                      f"dashed 10%. Mode collapse: a few tall bars and missing digits.")


main()
