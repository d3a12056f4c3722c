"""Live curves that append: a uPlot canvas chart sent only the points that are new since its last redraw.

Decisions, and why:
- A live redraw used to send the whole (thinned) Vega-Lite spec and data every second, and the browser
  re-parsed and re-laid-out every chart. Here the first draw sends the curve thinned to `charts.MAX_POINTS`
  a series and each later redraw only the points after the last step sent, which uPlot appends to its
  columns: the cost of a redraw follows the points that arrived, not the length of the run.
- What was sent lives in the session (`SENT_KEY`, one `Sent` per chart key), so each browser session keeps
  its own memory: the Train page and every viewer of a shared run alike.
- A chart that cannot append safely starts over: a new run (another `token`), a step that went back (a
  Reset, a restore from the timeline), a change of series, or a browser that missed an update (it fires
  "resync"; a remount does that too). Starting over costs one full draw.
- The vendored uPlot (ui/components/stream_chart/, MIT, its licence beside it) is put in front of our
  component file, as ui/instant.py does with its generator: no build step, no network.
- A chart given the run's live feed (`feed`, ui/live_feed.py) also fetches the points after its newest step by
  itself, once a second, between reruns: the Train page then reruns every few seconds instead of every second
  (each rerun costs the browser ~65 ms whatever it draws). Python's updates append only the steps the feed has not
  brought, so the two never draw a point twice.
- Meaning kept from the Vega-Lite charts: the same series labels and colours, reference lines (equilibria,
  floors) as dashed grey series named in the legend, axis titles, and the values under the cursor in the
  legend (uPlot's live legend, in place of tooltips).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from gan_core.history import downsample, finite_or_none
from ui.train_text import SERIES_COLOURS, SERIES_LABELS

SENT_KEY = "_stream_chart_sent"  # chart key -> Sent
FULL_POINTS = 400  # per series in a full draw, as the Vega-Lite charts thinned (charts.MAX_POINTS)
MAX_DELTA_POINTS = 2000  # more new points than this (a long pause, a reconnect) are sent as a full draw
VERSION = "1.6.32"  # the vendored uPlot
_HERE = Path(__file__).resolve().parent / "components" / "stream_chart"

_HTML = """<div class="stream-chart" data-testid="stream-chart" data-points="0" data-draws="0" data-appends="0">
<div class="stream-chart-plot"></div></div>"""
_CSS = ((_HERE / "uPlot.min.css").read_text() + """
.stream-chart { width: 100%; color: var(--st-text-color); font-family: var(--st-font); font-size: 0.8rem; }
.stream-chart .u-legend { font-size: 0.8rem; color: var(--st-text-color); }
.stream-chart .u-legend .u-marker { border-radius: 2px; }
""")
_FEED_JS = _HERE.parent / "live_feed" / "feed.js"  # the poller the live panel (ui/live_panel.py) shares
_JS = "\n".join(path.read_text() for path in (_HERE / "uPlot.iife.min.js", _FEED_JS, _HERE / "stream_chart.js"))

_component = st.components.v2.component("gan_lab_stream_chart", html=_HTML, css=_CSS, js=_JS)


@dataclass
class Sent:
    """What one chart's browser holds: the run it drew, the last step sent, the update counter, the series."""
    token: object
    last_step: float
    seq: int
    names: tuple[str, ...]


def _columns(history: dict, names: tuple[str, ...], start: int, max_points: int | None) -> tuple[list, list]:
    """(steps, [values per series]) from row `start` on, thinned to max_points (all series thinned alike)."""
    steps = np.asarray(history["step"], np.float64)[start:]
    index = np.arange(len(steps))
    if max_points is not None:
        _, index = downsample(steps, index, max_points=max_points)
    values = []
    for name in names:
        column = history.get(name)
        if column is None or len(column) != len(history["step"]):
            values.append([None] * len(index))
        else:
            values.append(finite_or_none(np.asarray(column, np.float64)[start:][index]))
    return steps[index].tolist(), values


def chart_update(history: dict, names: tuple[str, ...], sent: Sent | None, token: object,
                 full_points: int = FULL_POINTS) -> tuple[dict | None, Sent | None]:
    """(what to send, what the browser then holds): a full draw, only the new points, or (None, sent) when none.

    `history` holds "step" and the named series as equal-length arrays, steps increasing. A full draw is sent
    for a first draw, another token, other series, a step that went back, or too many new points.
    """
    steps = np.asarray(history.get("step", ()), np.float64)
    if len(steps) == 0:
        return None, None
    last = float(steps[-1])
    fresh = (sent is None or sent.token != token or sent.names != names or last < sent.last_step)
    if not fresh:
        start = int(np.searchsorted(steps, sent.last_step, side="right"))
        if start == len(steps):
            return None, sent
        fresh = len(steps) - start > MAX_DELTA_POINTS
    seq = 1 if sent is None else sent.seq + 1
    if fresh:
        new_steps, values = _columns(history, names, 0, full_points)
        update = {"reset": True, "seq": seq, "prev_seq": None, "steps": new_steps, "values": values}
    else:
        new_steps, values = _columns(history, names, start, None)
        update = {"reset": False, "seq": seq, "prev_seq": sent.seq, "steps": new_steps, "values": values}
    return update, Sent(token, last, seq, names)


def _sent_memory() -> dict:
    return st.session_state.setdefault(SENT_KEY, {})


def _on_resync(key: str) -> None:
    """The browser holds less than we think (a remount, a lost update): the next draw is a full one."""
    _sent_memory().pop(key, None)


def stream_chart(where, key: str, history: dict, names: list[str], y_title: str,
                 references: list[tuple[float, str]], labels: dict[str, str] | None = None, token: object = None,
                 y_range: tuple[float, float] | None = None, y_zero: bool = False, points: bool = False,
                 height: int = 230, feed: str | None = None, source: str = "history") -> None:
    """Draw the named series of `history` against step in `where`, appending to what this browser already holds.

    `key` names the chart (one per chart on a page); `token` names what is drawn (a run): another token starts
    the chart over. `references` are dashed grey lines (value, label), named in the legend. `feed`: the run's live
    feed address (ui/live_feed.py); the browser then fetches the new points itself between reruns, from the feed's
    `source`: "history" (the run's curves) or "quality" (the live-quality rows; `history` is then the quality table).
    """
    if source not in ("history", "quality"):
        raise ValueError(f"source must be 'history' or 'quality', not {source!r}")
    labels = {**SERIES_LABELS, **(labels or {})}
    present = tuple(name for name in names if name in history and len(history[name]))
    memory = _sent_memory()
    update, sent = chart_update(history, present, memory.get(key), token)
    if sent is None:
        memory.pop(key, None)
        update = {"reset": True, "seq": 0, "prev_seq": None, "steps": [], "values": [[] for _ in present]}
    elif update is None:  # nothing new: the same update again, which the browser knows it has drawn
        # prev_seq -1 matches no browser's seq: a browser that has not drawn `seq` (a remount) asks to resync.
        update = {"reset": False, "seq": sent.seq, "prev_seq": -1, "steps": [], "values": [[] for _ in present]}
    else:
        memory[key] = sent
    data = {**update,
            "series": [{"label": labels.get(name, name), "colour": SERIES_COLOURS.get(labels.get(name, name),
                                                                                       "#555555")}
                       for name in present],
            "references": [{"value": float(value), "label": label} for value, label in references],
            "y_title": y_title, "y_range": list(y_range) if y_range else None, "y_zero": bool(y_zero),
            "points": bool(points), "height": int(height), "feed": feed, "source": source,
            "names": list(present)}
    with where:
        _component(key=key, data=data, on_resync_change=functools.partial(_on_resync, key))
