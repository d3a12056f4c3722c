"""The live views of a run: alerts, status, curves, the sample grid, the discriminator view, live quality.

Drawing only, from a RunView (gan_core.messages): the Train page draws its own run with these, and the
presenter's viewers (ui/watch_page.py) draw the shared run with the very same functions.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import streamlit as st

from gan_core.alerts import check_alerts
from gan_core.config import LOGISTIC_LOSSES, GANConfig
from gan_core.messages import RunView
from ui import live_feed, state
from ui.live_panel import live_dview, live_grid, live_numbers, live_shares
from ui.stream_chart import stream_chart
from ui.train_text import (CRITIC_LABELS, DISCRIMINATOR_VIEW_TEXT, DISCRIMINATOR_VIEW_TEXT_CRITIC, ELBO_TEXT,
                           GRAD_NORM_TEXT, KL_TEXT, LOSS_LABELS, LOSS_TEXT, PENALTY_TEXT, QUALITY_AT_MOST, QUALITY_TEXT,
                           RECON_TEXT, SAMPLES_TEXT, SCORES_TEXT_CRITIC, SCORES_TEXT_PROBABILITY, STATUS_TEXT)

EQUILIBRIUM_D_LOSS = 2 * math.log(2)
EQUILIBRIUM_G_LOSS = math.log(2)
ALERTS_KEY = "live_alerts"


def alerts_ui(view: RunView, quality: dict | None, scores_are_probabilities: bool) -> list:
    """The run's alerts, in one slot of their own; returns them (the page's redraw key names them: ui/live_feed.py).
    The browser matches a rerun's elements to the drawn ones by their place in the block: an alert coming or going
    in the block itself moved every chart and panel below it one place, and each then reloaded its component with
    another's arguments (losing what the feed had appended)."""
    alerts = check_alerts(view.history, quality, view.status, view.message, scores_are_probabilities)
    with st.container(key=ALERTS_KEY):
        for alert in alerts:
            show = st.error if alert.severity == "error" else st.warning
            show(f"**{alert.title}.** {alert.message}", icon=":material/error:" if alert.severity == "error"
                 else ":material/warning:")
    return alerts


def status_ui(view: RunView, feed: str, redraw: str | None = None, watch: bool = False) -> None:
    """The run's numbers and its status. `feed`: the run's live feed, which moves the numbers between reruns
    (ui/live_panel.py). `redraw`: the run's redraw key as drawn (ui/live_feed.py), so the feed reruns the fragment
    when it changes. `watch`: a viewer's page, whose numbers follow the feed while the presenter's run is paused
    too."""
    title, hint = STATUS_TEXT.get(view.status, (view.status, ""))
    with st.container(key="live_status"):
        numbers_col, status_col = st.columns([3, 2])
        live_numbers(numbers_col, view, feed, redraw=redraw, watch=watch)
        text = view.message or hint.format(chunk=state.CHUNK_STEPS)
        if view.status == "diverged":
            text = "Training holds at the last good weights; see the alert above."
        show = {"diverged": st.warning, "error": st.error, "worker_gone": st.error}.get(view.status, st.info)
        with status_col:
            show(f"**{title}.** {text}")


class Curve(NamedTuple):
    key: str
    names: list[str]
    y_title: str
    references: list[tuple[float, str]]
    text: str
    about: str  # the expander's label in the presentation layout
    labels: dict[str, str] | None = None


def _curve_with_text(view: RunView, curve: Curve, feed: str | None = None, token: object = None) -> None:
    """A live curve that appends (ui/stream_chart.py) with its explanation beside it. `token` names the run drawn
    (default: `view`, one per run on the Train page; a viewer's shared view is a new object at every poll)."""
    chart, words = st.columns([3, 2])
    stream_chart(chart, curve.key, view.history, curve.names, curve.y_title, curve.references, labels=curve.labels,
                 token=id(view) if token is None else token, feed=feed)
    words.markdown(curve.text)


def _curve_folded(container, view: RunView, curve: Curve, feed: str | None = None) -> None:
    """A live curve with its explanation folded under it: the presentation layout."""
    stream_chart(container, curve.key, view.history, curve.names, curve.y_title, curve.references,
                 labels=curve.labels, token=id(view), feed=feed)
    container.expander(curve.about).markdown(curve.text)


def adversarial_curves(view: RunView, config: GANConfig, probabilities: bool) -> list[Curve]:
    logistic = config.loss in LOGISTIC_LOSSES
    loss_refs = [(EQUILIBRIUM_D_LOSS, "2 ln 2"), (EQUILIBRIUM_G_LOSS, "ln 2")] if logistic else []
    curves = [Curve("live_losses", ["d_loss", "g_loss"], "loss", loss_refs, LOSS_TEXT.get(
        config.loss, LOSS_TEXT["other"]).format(loss=LOSS_LABELS[config.loss]), "About the losses")]
    if probabilities:
        curves.append(Curve("live_scores", ["d_real", "d_fake"], "D output", [(0.5, "equilibrium 0.5")],
                            SCORES_TEXT_PROBABILITY, "About D's outputs"))
    else:
        curves.append(Curve("live_scores", ["d_real", "d_fake"], "critic score", [], SCORES_TEXT_CRITIC,
                            "About the critic's scores", CRITIC_LABELS))
    if "gradient_penalty" in view.history:
        curves.append(Curve("live_penalty", ["gradient_penalty"], "penalty", [], PENALTY_TEXT, "About the penalty"))
    curves.append(Curve("live_grad_norms", ["d_grad_norm", "g_grad_norm"], "gradient norm", [], GRAD_NORM_TEXT,
                        "About the gradient norms"))
    return curves


def autoencoder_curves(config: GANConfig) -> list[Curve]:
    if config.model == "vae":
        return [Curve("live_elbo", ["loss", "recon_loss"], "loss per digit", [], ELBO_TEXT, "About the loss"),
                Curve("live_kl", ["kl_loss"], "KL (nats)", [], KL_TEXT.format(weight=config.kl_weight), "About KL")]
    return [Curve("live_recon", ["recon_loss"], "loss per digit", [], RECON_TEXT, "About the loss")]


def adversarial_charts_ui(view: RunView, config: GANConfig, probabilities: bool, feed: str | None = None,
                          token: object = None) -> None:
    for curve in adversarial_curves(view, config, probabilities):
        _curve_with_text(view, curve, feed, token)


def autoencoder_charts_ui(view: RunView, config: GANConfig, feed: str | None = None, token: object = None) -> None:
    for curve in autoencoder_curves(config):
        _curve_with_text(view, curve, feed, token)


def presentation_ui(view: RunView, config: GANConfig, probabilities: bool, feed: str,
                    notes: list[str] = ()) -> None:
    """The sample grid and the main curve side by side first, so both are above the fold of a 1024x768 projector;
    the other curves two by two below; every explanation folded into an expander. `notes` (learning-rate
    changes) are marked under the main curve. `feed`: the run's live feed (ui/live_feed.py), from which the curves
    and the grid (ui/live_panel.py) follow the run between reruns."""
    curves = adversarial_curves(view, config, probabilities) if config.is_adversarial else autoencoder_curves(config)
    grid_col, curve_col = st.columns([2, 3])
    _live_grid(grid_col, view, config, feed)  # the feed swaps in each new grid between reruns, the first one too
    grid_col.expander("About the samples").markdown(_samples_text(config))
    _curve_folded(curve_col, view, curves[0], feed)
    for note in notes:
        curve_col.caption(note)
    for start in range(1, len(curves), 2):
        for column, curve in zip(st.columns(2), curves[start:start + 2]):
            _curve_folded(column, view, curve, feed)


def samples_ui(view: RunView, config: GANConfig, feed: str) -> None:
    """The fixed-noise sample grid beside what it shows. `feed`: the run's live feed, which swaps in each new grid
    between reruns (ui/live_panel.py), the first one too."""
    picture, text = st.columns([3, 2])
    _live_grid(picture, view, config, feed)
    text.markdown(_samples_text(config))


def _live_grid(container, view: RunView, config: GANConfig, feed: str) -> None:
    """The live panel's sample grid (empty until the run's first grid, which the feed then brings), encoded once
    per grid for the page and the feed together."""
    live_grid(container, view, live_feed.grid_data_url(config, view), _samples_caption(config), feed)


def _samples_caption(config: GANConfig) -> str:
    """The grid's caption; the live panel fills in "{step}" with each grid's step."""
    what = "noise vectors" if config.is_adversarial else "latent vectors, drawn from N(0, I) and decoded,"
    return f"The same 64 {what} at step {{step}}"


def _samples_text(config: GANConfig) -> str:
    return SAMPLES_TEXT[config.model if config.model in SAMPLES_TEXT else "gan"]


def discriminator_view_ui(view: RunView, probabilities: bool, feed: str | None = None) -> None:
    """GAN Lab's discriminator view beside what it means. `feed`: the run's live feed (the Train page), from which the
    view follows each new computation (one per sample grid) between reruns."""
    if not view.extras.get("discriminator_view"):
        return
    picture, text = st.columns([3, 2])
    live_dview(picture, view, feed, probabilities)
    text.markdown(DISCRIMINATOR_VIEW_TEXT if probabilities else DISCRIMINATOR_VIEW_TEXT_CRITIC)


def quality_ui(run, view: RunView, feed: str | None = None) -> None:
    """Live quality: what it measures, its four curves and the class shares. `feed`: the run's live feed (the Train
    page), from which the curves and the class shares follow each new scoring between reruns."""
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
    seconds = run.quality_min_interval_s
    at_most = QUALITY_AT_MOST.format(seconds=seconds) if seconds > 0 else ""
    st.markdown(QUALITY_TEXT.format(n=run.quality_n, every=run.quality_every, at_most=at_most))
    fid, coverage = st.columns(2)
    follow = {"token": id(view), "points": True, "feed": feed, "source": "quality"}
    stream_chart(fid, "live_fid", quality, ["fid"], "FID (classifier features)",
                 [(float(quality["fid_floor"][-1]), "real-vs-real floor")], y_zero=True, **follow)
    stream_chart(coverage, "live_classes", quality, ["classes_covered"], "classes covered", [(10, "all 10")],
                 y_range=(0, 10), **follow)
    kl, precision_recall = st.columns(2)
    stream_chart(kl, "live_kl_uniform", quality, ["kl_to_uniform"], "KL to uniform (nats)", [], y_zero=True, **follow)
    stream_chart(precision_recall, "live_precision_recall", quality, ["precision", "recall"], "share", [],
                 y_range=(0, 1), **follow)
    if view.quality_shares is not None:
        chart, text = st.columns([3, 2])
        live_shares(chart, view, feed)
        drawer = "G" if run.config.is_adversarial else "the decoder"
        text.markdown(f"**Which digits {drawer} draws**, at the latest scoring: each bar is the share of the "
                      f"{run.quality_n:,} samples the classifier confidently reads as that digit (hover for the "
                      f"number; samples it reads as no digit count in no bar). Healthy: every bar near the dashed "
                      f"10%. Mode collapse: a few tall bars and missing digits.")
