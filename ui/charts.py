"""The pages' Vega-Lite charts (histograms, runs overlaid), as plain specs over long data frames.

The live curves of a run (losses, D's outputs, quality) append instead: ui/stream_chart.py.

Plain dicts, not Altair: Altair's schema validation costs ~100 ms a chart here, more than a live redraw may
take. Curves are thinned to MAX_POINTS a series before they leave the server, so a redraw costs the same at
step 1,000 and at step 1,000,000, on the server and in the browser.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gan_core.history import downsample
from ui.train_text import SERIES_COLOURS, SERIES_LABELS

MAX_POINTS = 400  # per series on screen; older points thinned, the newest quarter kept whole
REAL_COLOUR, FAKE_COLOUR = "#27ae60", "#8e44ad"
RUN_COLOURS = ["#c0392b", "#2874a6", "#27ae60", "#8e44ad", "#d35400", "#16a085"]  # runs overlaid, in order


def long_frame(history: dict, names: list[str], labels: dict[str, str] | None = None,
               max_points: int = MAX_POINTS) -> pd.DataFrame:
    """(step, value, series) rows for the named series of a history, thinned for drawing; NaN gaps dropped."""
    labels = {**SERIES_LABELS, **(labels or {})}
    frames = []
    for name in names:
        if name in history and len(history[name]):
            steps, values = np.asarray(history["step"]), np.asarray(history[name], np.float64)
            keep = np.isfinite(values)
            steps, values = downsample(steps[keep], values[keep], max_points=max_points)
            if len(steps):
                frames.append(pd.DataFrame({"step": steps, "value": values, "series": labels.get(name, name)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["step", "value", "series"])


def rule(value: float, label: str, field: str = "value") -> dict:
    """A dashed horizontal reference line (an equilibrium, a floor) with its label as a tooltip."""
    return {"data": {"values": [{field: value, "label": label}]},
            "mark": {"type": "rule", "strokeDash": [4, 4], "color": "gray"},
            "encoding": {"y": {"field": field, "type": "quantitative"},
                         "tooltip": [{"field": "label", "type": "nominal"},
                                     {"field": field, "type": "quantitative", "format": ".4g"}]}}


def line_spec(series: list[str], y_title: str, references: list[tuple[float, str]],
              y_domain: tuple[float, float] | None = None, points: bool = False, y_zero: bool = False,
              colour_field: str = "series") -> dict:
    lines = {"mark": {"type": "line", "point": points},
             "encoding": {
                 "x": {"field": "step", "type": "quantitative", "title": "step", "scale": {"domainMin": 0},
                       "axis": {"format": "~s"}},
                 "y": {"field": "value", "type": "quantitative", "title": y_title,
                       "scale": {"domain": list(y_domain)} if y_domain else {"zero": y_zero}},
                 "color": {"field": colour_field, "type": "nominal", "title": None, "legend": {"orient": "top"},
                           "scale": {"domain": series, "range": [SERIES_COLOURS.get(s, "#555555") for s in series]}
                           if colour_field == "series" else {}},
                 "tooltip": [{"field": colour_field, "type": "nominal"}, {"field": "step", "type": "quantitative"},
                             {"field": "value", "type": "quantitative", "format": ".4g"}]}}
    return {"height": 230, "layer": [lines] + [rule(value, label) for value, label in references]}


def runs_frame(series_by_run: dict[str, dict | None], name: str, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """(step, value, run) rows of one series across several runs, for one chart coloured by run."""
    frames = [long_frame(series, [name], max_points=max_points).assign(run=run_name)
              for run_name, series in series_by_run.items() if series and name in series]
    frames = [frame for frame in frames if len(frame)]
    return (pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame(columns=["step", "value", "series", "run"]))


def run_overlay_chart(where, frame: pd.DataFrame, y_title: str,
                      references: list[tuple[float, str]] | None = None, points: bool = False) -> None:
    """One metric of several runs in one chart, a colour per run (the runs' order is the legend's).

    `points` marks every value: a run with a single evaluation has no line to draw, only its point.
    """
    runs = list(frame["run"].unique()) if len(frame) else []
    spec = line_spec(runs, y_title, references or [], colour_field="run", points=points)
    spec["layer"][0]["encoding"]["color"]["scale"] = {"domain": runs, "range": RUN_COLOURS[:max(len(runs), 1)]}
    where.vega_lite_chart(frame, spec, width="stretch")
