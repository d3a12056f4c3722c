"""The live views of a run: alerts, status, curves, the sample grid, the discriminator view, live quality.

Drawing only, from a RunView (gan_core.messages): the Train page draws its own run with these, and the
presenter's viewers (ui/watch_page.py) draw the shared run with the very same functions.
"""

from __future__ import annotations

import math

import streamlit as st

from gan_core.alerts import check_alerts
from gan_core.config import LOGISTIC_LOSSES, GANConfig
from gan_core.images import grid_png
from gan_core.messages import RunView
from ui import charts, state
from ui.stream_chart import stream_chart
from ui.train_text import (CRITIC_LABELS, DISCRIMINATOR_VIEW_TEXT, DISCRIMINATOR_VIEW_TEXT_CRITIC, ELBO_TEXT,
                           GRAD_NORM_TEXT, KL_TEXT, LOSS_LABELS, LOSS_TEXT, PENALTY_TEXT, QUALITY_TEXT, RECON_TEXT,
                           SAMPLES_TEXT, SCORES_TEXT_CRITIC, SCORES_TEXT_PROBABILITY, STATUS_TEXT)

EQUILIBRIUM_D_LOSS = 2 * math.log(2)
EQUILIBRIUM_G_LOSS = math.log(2)
GRID_KEY = "_live_sample_grid_png"  # ((view id, samples step, columns), PNG bytes)


def sample_columns(config: GANConfig | None) -> int:
    """Columns of every sample grid of a run: the conditional GAN's fixed labels cycle 0..9, so ten columns put one
    digit per column; the other models draw their 64 samples 8 by 8."""
    return 10 if config is not None and config.model == "cgan" else 8


def alerts_ui(view: RunView, quality: dict | None, scores_are_probabilities: bool) -> None:
    for alert in check_alerts(view.history, quality, view.status, view.message, scores_are_probabilities):
        show = st.error if alert.severity == "error" else st.warning
        show(f"**{alert.title}.** {alert.message}", icon=":material/error:" if alert.severity == "error"
             else ":material/warning:")


def status_ui(view: RunView) -> None:
    title, hint = STATUS_TEXT.get(view.status, (view.status, ""))
    step_col, elapsed_col, speed_col, status_col = st.columns([1, 1, 1, 3])
    step_col.metric("Step", f"{view.step:,}")
    elapsed_col.metric("Elapsed", f"{view.elapsed_s:,.1f} s")
    speed_col.metric("Steps/s", f"{view.steps_per_second:,.0f}" if view.steps_per_second else "-")
    text = view.message or hint.format(chunk=state.CHUNK_STEPS)
    if view.status == "diverged":
        text = "Training holds at the last good weights; see the alert above."
    with status_col:
        show = {"diverged": st.warning, "error": st.error, "worker_gone": st.error}.get(view.status, st.info)
        show(f"**{title}.** {text}")


def _curve_with_text(key: str, view: RunView, names: list[str], y_title: str, references: list[tuple[float, str]],
                     text: str, labels: dict[str, str] | None = None) -> None:
    """A live curve that appends (ui/stream_chart.py) with its explanation beside it."""
    chart, words = st.columns([3, 2])
    stream_chart(chart, key, view.history, names, y_title, references, labels=labels, token=id(view))
    words.markdown(text)


def adversarial_charts_ui(view: RunView, config: GANConfig, probabilities: bool) -> None:
    logistic = config.loss in LOGISTIC_LOSSES
    loss_refs = [(EQUILIBRIUM_D_LOSS, "2 ln 2"), (EQUILIBRIUM_G_LOSS, "ln 2")] if logistic else []
    _curve_with_text("live_losses", view, ["d_loss", "g_loss"], "loss", loss_refs, LOSS_TEXT.get(
        config.loss, LOSS_TEXT["other"]).format(loss=LOSS_LABELS[config.loss]))
    if probabilities:
        _curve_with_text("live_scores", view, ["d_real", "d_fake"], "D output", [(0.5, "equilibrium 0.5")],
                         SCORES_TEXT_PROBABILITY)
    else:
        _curve_with_text("live_scores", view, ["d_real", "d_fake"], "critic score", [], SCORES_TEXT_CRITIC,
                         labels=CRITIC_LABELS)
    if "gradient_penalty" in view.history:
        _curve_with_text("live_penalty", view, ["gradient_penalty"], "penalty", [], PENALTY_TEXT)
    _curve_with_text("live_grad_norms", view, ["d_grad_norm", "g_grad_norm"], "gradient norm", [], GRAD_NORM_TEXT)


def autoencoder_charts_ui(view: RunView, config: GANConfig) -> None:
    if config.model == "vae":
        _curve_with_text("live_elbo", view, ["loss", "recon_loss"], "loss per digit", [], ELBO_TEXT)
        _curve_with_text("live_kl", view, ["kl_loss"], "KL (nats)", [], KL_TEXT.format(weight=config.kl_weight))
    else:
        _curve_with_text("live_recon", view, ["recon_loss"], "loss per digit", [], RECON_TEXT)


def _grid_png(view: RunView, columns: int) -> bytes:
    """The sample grid's PNG, encoded once per new grid: between new samples a redraw sends the same bytes, which
    Streamlit serves under the same address, so the picture stays in place instead of being fetched again."""
    key = (id(view), view.samples_step, columns)
    cached = st.session_state.get(GRID_KEY)
    if cached is None or cached[0] != key:
        cached = (key, grid_png(view.samples, columns=columns, scale=2))
        st.session_state[GRID_KEY] = cached
    return cached[1]


def samples_ui(view: RunView, config: GANConfig) -> None:
    if view.samples is None:
        return
    picture, text = st.columns([3, 2])
    what = "noise vectors" if config.is_adversarial else "latent vectors, drawn from N(0, I) and decoded,"
    picture.image(_grid_png(view, sample_columns(config)), output_format="PNG", caption=f"The same 64 {what} at step {view.samples_step:,}")
    text.markdown(SAMPLES_TEXT[config.model if config.model in SAMPLES_TEXT else "gan"])


def discriminator_view_ui(view: RunView, probabilities: bool) -> None:
    scores = view.extras.get("discriminator_view")
    if not scores:
        return
    picture, text = st.columns([3, 2])
    charts.score_histogram_chart(picture, scores["real"], scores["fake"], probabilities)
    text.markdown(DISCRIMINATOR_VIEW_TEXT if probabilities else DISCRIMINATOR_VIEW_TEXT_CRITIC)


def quality_ui(run, view: RunView) -> None:
    st.subheader("Quality, judged by a digit classifier")
    if run.quality_note:
        st.info(f"Quality metrics unavailable: {run.quality_note}")
        return
    if view.quality_error:
        st.warning(view.quality_error)
    quality = view.quality
    if quality is None or len(quality["step"]) == 0:
        st.info(f"The first evaluation comes at step {run.quality_every:,}: {run.quality_n:,} samples scored by the "
                f"digit classifier in a separate thread, so training never waits for it.")
        return
    st.markdown(QUALITY_TEXT.format(n=run.quality_n, every=run.quality_every))
    fid, coverage = st.columns(2)
    token = id(view)
    stream_chart(fid, "live_fid", quality, ["fid"], "FID (classifier features)",
                 [(float(quality["fid_floor"][-1]), "real-vs-real floor")], token=token, points=True, y_zero=True)
    stream_chart(coverage, "live_classes", quality, ["classes_covered"], "classes covered", [(10, "all 10")],
                 token=token, y_range=(0, 10), points=True)
    kl, precision_recall = st.columns(2)
    stream_chart(kl, "live_kl_uniform", quality, ["kl_to_uniform"], "KL to uniform (nats)", [], token=token,
                 points=True, y_zero=True)
    stream_chart(precision_recall, "live_precision_recall", quality, ["precision", "recall"], "share", [],
                 token=token, y_range=(0, 1), points=True)
    if view.quality_shares is not None:
        chart, text = st.columns([3, 2])
        charts.class_shares_chart(chart, view.quality_shares)
        drawer = "G" if run.config.is_adversarial else "the decoder"
        text.markdown(f"**Which digits {drawer} draws** (step {int(quality['step'][-1]):,}). Healthy: every bar near "
                      f"the dashed 10%. Mode collapse: a few tall bars and missing digits.")
