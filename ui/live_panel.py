"""The Train page's live numbers (Step, Elapsed, Steps/s), sample grid, class shares and discriminator view, kept
current by the run's live feed.

Why: every Streamlit rerun costs the browser tens of milliseconds of main-thread work whatever it draws (React,
styles, layout; benchmarks/README.md), and on two cores that time comes out of the training worker's share. The
curves already follow the feed (ui/live_feed.py) between reruns; with the numbers and the grid following it too,
the page's live fragment reruns only every LIVE_REFRESH_S (the status text, the alerts' numbers), and at once
when the run's status or its redraw key (a new alert, the first quality score: ui/live_feed.py) changes: the numbers
panel sees the change in the feed and fires "status", which reruns the fragment.

The panel is ours and small (ui/components/live_panel/live_panel.js); the feed's poller is shared with the charts
(ui/components/live_feed/feed.js), so the page makes one request a second for everything that moves.
The values and the picture are made in Python (ui/live_feed.py), the same for a rerun and for the feed.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from gan_core.messages import RunView
from ui import live_feed
from ui.charts import FAKE_COLOUR, REAL_COLOUR

_HERE = Path(__file__).resolve().parent / "components"
_HTML = '<div class="live-panel"></div>'
_CSS = """
.live-panel { width: 100%; color: var(--st-text-color); font-family: var(--st-font); }
.live-numbers { display: flex; gap: 1rem; }
.live-metric { flex: 1 1 0; min-width: 0; }
.live-metric-label { font-size: 0.875rem; line-height: 1.6; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
/* Streamlit's metric values are 2.25rem: at 1024 px wide "59m 59s" or "123,456" would be cut; 1.75rem fits. */
.live-metric-value { font-size: 1.75rem; line-height: 1.4; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; font-variant-numeric: tabular-nums; }
.live-grid { margin: 0; }
.live-grid img { display: block; max-width: 100%; height: auto; }
.live-grid figcaption { font-size: 0.875rem; opacity: 0.6; margin-top: 0.375rem; text-align: center; }
.live-shares { margin: 0; font-size: 0.8rem; }
.live-shares-plot { position: relative; height: 170px; margin-left: 2.6rem; display: flex; align-items: flex-end;
  gap: 6%; padding: 0 3%; border-left: 1px solid rgba(128, 128, 128, 0.5);
  border-bottom: 1px solid rgba(128, 128, 128, 0.5); }
.live-share-bar { flex: 1 1 0; background: #2874a6; min-height: 1px; }
.live-share-uniform { position: absolute; left: 0; right: 0; border-top: 1px dashed gray; pointer-events: none; }
.live-share-tick { position: absolute; left: -2.6rem; width: 2.3rem; text-align: right; opacity: 0.7;
  transform: translateY(50%); }
.live-share-uniform-label { position: absolute; right: 0; opacity: 0.7; transform: translateY(-110%); }
.live-shares-digits { display: flex; gap: 6%; padding: 0 3%; margin-left: 2.6rem; }
.live-shares-digits span { flex: 1 1 0; text-align: center; }
.live-shares figcaption { font-size: 0.875rem; opacity: 0.6; margin-top: 0.375rem; text-align: center; }
.live-dview { margin: 0; font-size: 0.8rem; }
.live-dview-legend { display: flex; justify-content: center; gap: 1.25rem; margin-bottom: 0.25rem; }
.live-dview-key { display: inline-flex; align-items: center; gap: 0.35rem; }
.live-dview-key i { display: inline-block; width: 0.8rem; height: 0.8rem; opacity: 0.55; }
.live-dview-ytitle { opacity: 0.7; margin-bottom: 0.25rem; }
.live-dview-plot { position: relative; height: 190px; margin-left: 2.6rem;
  border-left: 1px solid rgba(128, 128, 128, 0.5); border-bottom: 1px solid rgba(128, 128, 128, 0.5); }
.live-dview-bin { position: absolute; top: 0; bottom: 0; }
.live-dview-bar { position: absolute; left: 0; right: 0; bottom: 0; opacity: 0.55; pointer-events: none; }
.live-dview-bin:hover { background: rgba(128, 128, 128, 0.12); }
.live-dview-xticks { position: relative; height: 1.3em; margin-left: 2.6rem; opacity: 0.7; }
.live-dview-xticks span { position: absolute; top: 0.15rem; transform: translateX(-50%); white-space: nowrap; }
.live-dview figcaption { font-size: 0.875rem; opacity: 0.6; margin-top: 0.375rem; text-align: center; }
"""
_JS = "\n".join(path.read_text() for path in (_HERE / "live_feed" / "feed.js", _HERE / "live_panel" / "live_panel.js"))

_component = st.components.v2.component("gan_lab_live_panel", html=_HTML, css=_CSS, js=_JS)


def _status_changed() -> None:
    """The feed saw another status than the page was drawn with: the fired trigger reruns the fragment."""


def live_numbers(where, view: RunView, feed: str | None, key: str = "live_numbers", redraw: str | None = None,
                 watch: bool = False) -> None:
    """Step, Elapsed and Steps/s of `view`, then of the run's feed while it trains. `redraw`: the run's redraw key
    (live_feed.redraw_key) as the page is drawn; when the feed's differs, the fragment reruns (None: not watched).
    `watch`: a viewer's page, which follows the feed while the run is paused too (only the presenter resumes it)."""
    data = {"part": "numbers", "token": feed, "status": view.status, "busy": bool(view.busy), "feed": feed,
            "numbers": live_feed.numbers(view), "step": int(view.step), "redraw": redraw, "watch": bool(watch)}
    with where:
        _component(key=key, data=data, on_status_change=_status_changed)


def live_grid(where, view: RunView, png_url: str | None, caption: str, feed: str | None,
              key: str = "live_grid") -> None:
    """The sample grid of `view` as a PNG data URL (live_feed.grid_data_url; its step in `caption` as "{step}"; None
    before the run's first grid), then the feed's newer grids: a run's first grid can come seconds before the page's
    next rerun."""
    grid = None if png_url is None else {"step": int(view.samples_step), "png": png_url}
    data = {"part": "grid", "token": feed, "status": view.status, "busy": bool(view.busy), "feed": feed,
            "grid": grid, "caption": caption}
    with where:
        _component(key=key, data=data)


def live_shares(where, view: RunView, feed: str | None, key: str = "live_shares") -> None:
    """The share of the last scoring's samples the classifier reads as each digit, against the uniform 10%; then
    the feed's newer scorings while the run trains (they come with the live-quality rows: ui/live_feed.py)."""
    data = {"part": "shares", "token": feed, "status": view.status, "busy": bool(view.busy), "feed": feed,
            "shares": live_feed.shares(view)}
    with where:
        _component(key=key, data=data)


def live_dview(where, view: RunView, feed: str | None, probabilities: bool, key: str = "live_dview") -> None:
    """The discriminator view: D's outputs on the run's real and generated batches as two overlaid histograms, then
    the feed's newer ones while the run trains (the worker makes one with each sample grid)."""
    labels = {"title": "D(x), probability of 'real'" if probabilities else "critic score",
              "real": "real digits", "fake": "generated digits", "realColour": REAL_COLOUR, "fakeColour": FAKE_COLOUR}
    data = {"part": "dview", "token": feed, "status": view.status, "busy": bool(view.busy), "feed": feed,
            "dview": live_feed.dview(view, probabilities), "labels": labels}
    with where:
        _component(key=key, data=data)
