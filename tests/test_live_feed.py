"""The Train page's live feed (ui/live_feed.py): the chart component fetches the points after a step itself.

The route is called here as Starlette calls it (a Request in, a JSONResponse out); tests/test_server_start.py
checks that app.py serves it, and tests/test_browser.py that the page's curve follows the feed between reruns.
"""

from __future__ import annotations

import asyncio
import gc
import json

import numpy as np
from starlette.requests import Request

from gan_core.config import GANConfig
from gan_core.messages import RunView
from ui import live_feed


class FakeRun:
    """What the feed needs of a RunClient: poll() -> RunView."""

    def __init__(self, steps, status="running", busy=True):
        self.view = RunView()
        steps = np.asarray(steps, np.float64)
        self.view.history = {"step": steps, "time": steps / 100, "d_loss": steps / 1000, "g_loss": -steps / 1000}
        self.view.status, self.view.busy = status, busy
        self.view.step = int(steps[-1]) if len(steps) else 0
        self.view.elapsed_s, self.view.steps_per_second = 12.5, 99.0
        self.polls = 0

    def poll(self) -> RunView:
        self.polls += 1
        return self.view


def _get(path: str, query: str = "") -> tuple[int, dict]:
    token = path.rsplit("/", 1)[-1]
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": [],
             "path_params": {"token": token}}
    response = asyncio.run(live_feed.endpoint(Request(scope)))
    return response.status_code, json.loads(response.body)


def test_the_feed_answers_only_the_points_after_the_step_asked_for():
    run = FakeRun([25, 50, 75, 100])
    url = live_feed.feed_url(run)
    assert url == live_feed.feed_url(run)  # one address per run
    assert url.startswith("/gan-lab/feed/") and len(url.rsplit("/", 1)[-1]) >= 20  # a random token

    status, body = _get(url, "after=50")
    assert status == 200 and run.polls == 1  # it polled the run: the worker's news, not a stale copy
    assert body["steps"] == [75.0, 100.0]
    assert body["series"]["d_loss"] == [0.075, 0.1] and body["series"]["g_loss"] == [-0.075, -0.1]
    assert "step" not in body["series"] and "time" not in body["series"]
    assert (body["status"], body["busy"], body["step"], body["steps_per_second"]) == ("running", True, 100, 99.0)

    assert _get(url, "after=100")[1]["steps"] == []  # nothing new
    assert _get(url)[1]["steps"] == [25.0, 50.0, 75.0, 100.0]  # no `after`: everything
    assert _get(url, "after=oops")[1]["steps"] == [25.0, 50.0, 75.0, 100.0]  # a bad `after` is treated as none
    assert _get(url, "after=nan")[1]["steps"] == [25.0, 50.0, 75.0, 100.0]


def test_a_gap_in_a_curve_is_null_and_a_long_wait_gets_the_newest_points_only():
    run = FakeRun(np.arange(1, live_feed.MAX_POINTS + 501) * 5.0)
    run.view.history["d_loss"][-1] = np.nan
    _, body = _get(live_feed.feed_url(run), "after=0")
    assert len(body["steps"]) == live_feed.MAX_POINTS and body["steps"][-1] == run.view.step
    assert body["series"]["d_loss"][-1] is None  # JSON has no NaN: a gap


def test_other_runs_and_gone_runs_are_not_found():
    first, second = FakeRun([5]), FakeRun([10])
    assert live_feed.feed_url(first) != live_feed.feed_url(second)
    assert _get("/gan-lab/feed/guessed-token")[0] == 404
    url = live_feed.feed_url(second)
    del second
    gc.collect()
    status, body = _get(url)
    assert status == 404 and body == {"error": "no such run"}  # held weakly: a discarded run is gone


def test_the_feed_carries_the_numbers_and_a_sample_grid_only_when_it_is_not_the_one_shown():
    import base64

    from gan_core.images import grid_png

    run = FakeRun([25, 50])
    run.view.elapsed_s, run.view.steps_per_second = 123.4, 321.6
    url = live_feed.feed_url(run)
    _, body = _get(url, "after=50")
    assert body["numbers"] == [{"label": "Step", "value": "50"},
                               {"label": "Elapsed", "value": "2m 03s", "help": "123.4 seconds of training"},
                               {"label": "Steps/s", "value": "322"}]
    assert "grid" not in body  # no samples yet, and no grid asked for

    run.view.samples = np.random.default_rng(0).random((64, 28, 28)).astype(np.float32)
    run.view.samples_step = 50
    assert "grid" not in _get(url, "after=50")[1]  # the charts alone ask no grid_after: ~30 KB they don't want
    grid = _get(url, "after=50&grid_after=25")[1]["grid"]
    assert grid["step"] == 50 and grid["png"].startswith("data:image/png;base64,")
    assert base64.b64decode(grid["png"].split(",", 1)[1]) == grid_png(run.view.samples, columns=8, scale=2)
    assert "grid" not in _get(url, "after=50&grid_after=50")[1]  # the browser shows that one already
    assert _get(url, "after=50&grid_after=oops")[1]["grid"]["step"] == 50  # a bad grid_after: whatever it shows
    run.view.samples_step = 75
    assert _get(url, "after=50&grid_after=50")[1]["grid"]["step"] == 75
    run.view.samples_step = 25  # restored to an earlier step: the browser's grid is from a future that is gone
    assert _get(url, "after=50&grid_after=75")[1]["grid"]["step"] == 25

    run.config = GANConfig(model="cgan")  # the page's grid layout: ten columns, one digit class each
    run.view.samples_step = 100
    grid = _get(url, "after=50&grid_after=25")[1]["grid"]
    assert base64.b64decode(grid["png"].split(",", 1)[1]) == grid_png(run.view.samples, columns=10, scale=2)



def test_each_grid_is_encoded_once_for_the_pages_and_the_feed_and_a_new_grid_at_an_old_step_is_new(monkeypatch):
    """The Train page, every viewer's page and the feed draw the same grid: one encoding serves them all. A reset run
    draws new samples at a step it drew before; those are another picture."""
    import gan_core.images

    encoded = []
    real_grid_png = live_feed.grid_png
    monkeypatch.setattr(live_feed, "grid_png", lambda *a, **k: encoded.append(1) or real_grid_png(*a, **k))
    rng = np.random.default_rng(7)
    view, other_view = RunView(), RunView()  # a presenter's view and a viewer's copy of it
    view.samples, view.samples_step = rng.random((64, 28, 28), dtype=np.float32), 400
    other_view.samples, other_view.samples_step = view.samples.copy(), 400
    config = GANConfig()
    first = live_feed.grid_data_url(config, view)
    assert live_feed.grid_data_url(config, other_view) is first and live_feed.grid_data_url(config, view) is first
    assert len(encoded) == 1
    assert live_feed.grid_data_url(None, RunView()) is None  # before the first grid
    view.samples = rng.random((64, 28, 28), dtype=np.float32)  # reset, and a new grid at step 400 again
    assert live_feed.grid_data_url(config, view) != first and len(encoded) == 2
    conditional = live_feed.grid_data_url(GANConfig(model="cgan"), view)  # ten columns: another picture
    assert conditional != live_feed.grid_data_url(config, view) and len(encoded) == 3
    assert conditional == gan_core.images.png_data_uri(gan_core.images.grid_png(view.samples, columns=10, scale=2))

def _quality(steps, covered):
    steps = np.asarray(steps, np.float64)
    return {"step": steps, "fid": 100.0 / (1 + steps / 1000), "fid_floor": np.full(len(steps), 2.5),
            "classes_covered": np.asarray(covered, np.float64), "kl_to_uniform": np.full(len(steps), 0.05),
            "precision": np.full(len(steps), 0.6), "recall": np.full(len(steps), 0.5)}


def test_the_feed_carries_the_live_quality_rows_after_the_step_asked_for_and_the_shares_only_when_asked():
    run = FakeRun([2000, 4000, 6000])
    url = live_feed.feed_url(run)
    assert "quality" not in _get(url, "after=6000")[1]  # the loss charts and the panel ask none
    assert _get(url, "after=6000&quality_after=-1")[1]["quality"] == {"steps": [], "series": {}, "shares": None}

    run.view.quality = _quality([2000, 4000, 6000], [3, 8, 10])
    run.view.quality_shares = np.array([0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, np.nan])
    rows = _get(url, "after=6000&quality_after=2000")[1]["quality"]
    # The last scoring's class shares come whole with every answer that asks for quality (ten numbers).
    assert rows["shares"] == {"step": 6000, "values": [0.2] + [0.1] * 8 + [None]}
    assert rows["steps"] == [4000.0, 6000.0]
    assert rows["series"]["classes_covered"] == [8.0, 10.0] and rows["series"]["recall"] == [0.5, 0.5]
    assert rows["series"]["fid"] == [20.0, 100.0 / 7] and "step" not in rows["series"]
    assert _get(url, "after=6000&quality_after=6000")[1]["quality"]["steps"] == []  # nothing new
    assert _get(url, "after=6000&quality_after=6000")[1]["quality"]["shares"]["step"] == 6000
    assert _get(url, "after=6000&quality_after=oops")[1]["quality"]["steps"] == [2000.0, 4000.0, 6000.0]
    run.view.quality["recall"][-1] = np.nan
    assert _get(url, "after=6000&quality_after=4000")[1]["quality"]["series"]["recall"] == [None]


def test_the_redraw_key_moves_with_what_only_a_rerun_draws_and_not_with_every_point():
    run = FakeRun([25, 50])
    run.config = GANConfig()
    url = live_feed.feed_url(run)
    unscored = _get(url, "after=50")[1]["redraw"]
    assert unscored == live_feed.redraw_key(run, run.view)

    run.view.quality = _quality([2000], [10])
    scored = _get(url, "after=50")[1]["redraw"]
    assert scored != unscored  # the first score: the page draws the quality charts, which then follow the feed

    run.view.quality = _quality([2000, 4000], [10, 10])
    run.view.history = {name: np.append(values, values[-1] + 25) for name, values in run.view.history.items()}
    assert _get(url, "after=75")[1]["redraw"] == scored  # more points and scores, the same alerts: no rerun

    run.view.quality = _quality([2000, 4000, 6000], [10, 10, 4])  # mode collapse: 4 of 10 classes
    collapsed = _get(url, "after=75")[1]["redraw"]
    assert collapsed != scored
    run.view.quality = _quality([2000, 4000, 6000, 8000], [10, 10, 4, 3])
    assert _get(url, "after=75")[1]["redraw"] == collapsed  # the alert's numbers move; which alert is up does not

    run.view.quality_error = "Live quality stopped: the classifier's weights are missing."
    errored = _get(url, "after=75")[1]["redraw"]
    assert errored not in (collapsed, scored) and "weights" not in errored  # that it failed, not the message


def test_the_feed_carries_the_discriminator_view_only_when_asked_and_only_a_new_computation():
    run = FakeRun([25, 50])
    run.config = GANConfig()  # the default loss: D's outputs are probabilities, binned over [0, 1]
    url = live_feed.feed_url(run)
    assert "dview" not in _get(url, "after=50&dview_after=-1")[1]  # none computed yet
    run.view.extras = {"discriminator_view": {"real": np.array([0.9, 0.97, 0.99, 0.5]),
                                              "fake": np.array([0.01, 0.02, 0.03, np.nan])}}
    run.view.extras_chunk, run.view.samples_step = 7, 50
    assert "dview" not in _get(url, "after=50")[1]  # the charts and the numbers ask none
    dview = _get(url, "after=50&dview_after=-1")[1]["dview"]
    assert (dview["chunk"], dview["step"], dview["count"], dview["probabilities"]) == (7, 50, 4, True)
    bins = len(dview["real"])
    assert len(dview["fake"]) == len(dview["lower"]) == len(dview["upper"]) == bins
    assert dview["lower"][0] == 0.0 and dview["upper"][-1] == 1.0
    assert sum(dview["real"]) == 4 and sum(dview["fake"]) == 3  # a NaN output (a diverging D) is left out
    assert dview["real"][-1] == 2 and dview["fake"][0] == 3  # real piled near 1, generated near 0
    assert "dview" not in _get(url, "after=50&dview_after=7")[1]  # the one shown: nothing to send
    run.view.extras_chunk = 9
    assert _get(url, "after=50&dview_after=7")[1]["dview"]["chunk"] == 9  # the next computation

    run.config = GANConfig(loss="wgan_gp")  # a critic's raw scores: bins over the range they span
    run.view.extras = {"discriminator_view": {"real": np.array([3.0, 5.0]), "fake": np.array([-2.0])}}
    critic = _get(url, "after=50&dview_after=7")[1]["dview"]
    assert not critic["probabilities"] and critic["lower"][0] == -2.0 and critic["upper"][-1] == 5.0


def test_the_redraw_key_changes_when_a_run_gets_its_first_points():
    """A viewer's page draws "the curves appear after the first steps" until the run has points, and its timer is
    slow: the first points must change the key, so the feed reruns the page's live part at once."""
    run = FakeRun([])
    run.config = GANConfig()
    empty = live_feed.redraw_key(run, run.view)
    run.view.history = {"step": np.array([25.0]), "d_loss": np.array([1.3]), "g_loss": np.array([0.7])}
    assert live_feed.redraw_key(run, run.view) != empty
