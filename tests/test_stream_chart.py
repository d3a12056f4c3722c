"""Live curves that append: each redraw sends only the points new since the last one, and starts over when it must."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np

from ui.stream_chart import FULL_POINTS, MAX_DELTA_POINTS, chart_update

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("d_loss", "g_loss")


def _history(steps) -> dict:
    steps = np.asarray(steps, np.float64)
    return {"step": steps, "d_loss": steps / 1000, "g_loss": -steps / 1000}


def test_first_draw_is_whole_then_only_new_points_are_sent():
    update, sent = chart_update(_history([25, 50, 75]), NAMES, None, token="run")
    assert update["reset"] and update["steps"] == [25, 50, 75] and update["seq"] == 1
    assert update["values"] == [[0.025, 0.05, 0.075], [-0.025, -0.05, -0.075]]

    update, sent = chart_update(_history([25, 50, 75, 100, 125]), NAMES, sent, token="run")
    assert not update["reset"]
    assert (update["prev_seq"], update["seq"]) == (1, 2)
    assert update["steps"] == [100, 125]
    assert update["values"] == [[0.1, 0.125], [-0.1, -0.125]]

    update, unchanged = chart_update(_history([25, 50, 75, 100, 125]), NAMES, sent, token="run")
    assert update is None and unchanged == sent  # nothing new: nothing sent


def test_new_points_after_the_page_thinned_its_history_are_still_only_the_new_ones():
    _, sent = chart_update(_history(np.arange(1, 101) * 25), NAMES, None, token="run")
    thinned = _history(np.concatenate([np.arange(1, 101, 2) * 25, [2525, 2550]]))  # old points dropped
    update, _ = chart_update(thinned, NAMES, sent, token="run")
    assert not update["reset"] and update["steps"] == [2525, 2550]


def test_a_new_run_a_step_back_or_other_series_start_over():
    _, sent = chart_update(_history([25, 50, 75]), NAMES, None, token="run")
    assert chart_update(_history([25, 50, 75, 100]), NAMES, sent, token="another run")[0]["reset"]
    assert chart_update(_history([25, 50]), NAMES, sent, token="run")[0]["reset"]  # a Reset, a timeline restore
    assert chart_update(_history([25, 50, 75, 100]), ("d_loss",), sent, token="run")[0]["reset"]


def test_a_full_draw_is_thinned_and_a_flood_of_new_points_becomes_one():
    update, sent = chart_update(_history(np.arange(10_000)), NAMES, None, token="run")
    assert len(update["steps"]) <= FULL_POINTS and update["steps"][-1] == 9999
    flood = _history(np.arange(10_001 + MAX_DELTA_POINTS))
    update, _ = chart_update(flood, NAMES, sent, token="run")
    assert update["reset"] and len(update["steps"]) <= FULL_POINTS


def test_gaps_travel_as_null():
    history = _history([25, 50])
    history["g_loss"] = np.array([np.nan, 1.0])
    update, _ = chart_update(history, NAMES, None, token="run")
    assert update["values"][1] == [None, 1.0]
    json.dumps(update)


APP_SCRIPT = """
import numpy as np
import streamlit as st
from ui.stream_chart import stream_chart

count = st.session_state.get("count", 3)
steps = np.arange(1, count + 1) * 25.0
stream_chart(st.container(), "losses", {"step": steps, "d_loss": steps / 100, "g_loss": steps / 50}, ["d_loss", "g_loss"],
             "loss", [(1.386, "2 ln 2")], token="run")
"""


def _sent(at) -> dict:
    [element] = at.get("bidi_component")
    return json.loads(element.proto.json)


def test_the_component_gets_only_new_points_and_a_resync_restarts_it(tmp_path):
    from streamlit.testing.v1 import AppTest

    script = tmp_path / "chart_app.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(APP_SCRIPT))
    at = AppTest.from_file(str(script), default_timeout=60).run()
    assert not at.exception, at.exception
    first = _sent(at)
    assert first["reset"] and first["steps"] == [25, 50, 75]
    assert first["references"] == [{"value": 1.386, "label": "2 ln 2"}]
    assert [s["label"] for s in first["series"]] == ["D loss", "G loss"]

    at.session_state["count"] = 5
    at.run()
    delta = _sent(at)
    assert not delta["reset"] and delta["steps"] == [100, 125] and delta["prev_seq"] == first["seq"]

    at.run()  # nothing new: the browser is told the same seq, with no points
    again = _sent(at)
    assert again["steps"] == [] and again["seq"] == delta["seq"]

    at.session_state["_stream_chart_sent"].pop("losses")  # as the "resync" trigger's callback does
    at.run()
    assert _sent(at)["reset"] and _sent(at)["steps"] == [25, 50, 75, 100, 125]
