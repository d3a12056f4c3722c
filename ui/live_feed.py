"""The Train page's live feed: what moves between reruns, read by the page's components themselves over HTTP.

Why: every Streamlit rerun costs the browser tens of milliseconds of main-thread work whatever it draws (React,
styles, layout; benchmarks/README.md), and on two cores that time comes out of the training worker's share. With
the feed the curves, the live-quality curves, the numbers and the sample grid move once a second while the page's
live fragment reruns only every LIVE_REFRESH_S (the status text, the alerts' numbers) or when the status or the
redraw key (below) changes. The discriminator view follows the feed too, redrawn with each new grid.

- `GET /gan-lab/feed/<token>?after=<step>&grid_after=<step>&quality_after=<step>&dview_after=<chunk>` answers
  JSON: the run's status, its numbers as the page shows them (Step, Elapsed, Steps/s), per series the points after
  `after` (at most MAX_POINTS, the newest), the live-quality rows after `quality_after` and the last scoring's class
  shares (when asked), the fixed-noise sample grid as a PNG data URL when the run's grid is another than the one at
  `grid_after` (only then: a grid is ~30 KB, the points a few hundred bytes; "another", not "newer": a run
  restored to an earlier step has an older grid), the discriminator view's two histograms when the run's view is
  another computation than chunk `dview_after`'s (a few hundred bytes), and the run's `redraw` key. The live panel
  (ui/live_panel.py) shows the numbers, the grid, the class shares and the discriminator view, the charts
  (ui/stream_chart.py) the points, from one request.
- `redraw` names what only a rerun of the page can draw (which alerts are up, whether live quality has a first
  score or an error): when it differs from the key the page was drawn with, the live panel reruns the page's live
  fragment at once. So a new alert or the first quality score shows within a second, while the fragment's timer
  (LIVE_REFRESH_S, for the status text and the alerts' numbers) stays slow.
- The token is random (128 bits) and names one run of one browser session, as a share link does; an unknown token
  gets 404. Nothing but numbers and the grid's picture leaves: no path, no message text.
- The route polls the run through `RunClient.poll()` (thread-safe), in Starlette's thread pool, never in the
  event loop. Tokens are held weakly: a run that is gone answers 404.
"""

from __future__ import annotations

import math
import secrets
import threading
import weakref
import zlib
from collections import OrderedDict

import numpy as np

from gan_core.alerts import check_alerts
from gan_core.config import LOGISTIC_LOSSES
from gan_core.history import finite_or_none
from gan_core.images import grid_png, png_data_uri, sample_columns
from gan_core.train_views import score_histogram
from ui.train_text import elapsed_text

ROUTE = "/gan-lab/feed/{token}"
MAX_POINTS = 2000  # per answer: a browser that fell further behind gets the newest and the page's next rerun
NOT_SERIES = ("step", "time")

_lock = threading.Lock()
_runs: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()
_tokens: "weakref.WeakKeyDictionary[object, str]" = weakref.WeakKeyDictionary()
# (samples step, columns, shape, CRC-32 of the samples) -> the grid's PNG data URL, newest last. Keyed by content, not
# by run or view object: the Train page, every viewer's page and the feed share each encoding, and a reset run's new
# grid at an old step is another key.
_grid_urls: "OrderedDict[tuple, str]" = OrderedDict()
GRID_URLS_HELD = 16  # a few runs' newest grids (each ~100-200 KB)
GRID_SCALE = 2


def feed_url(run) -> str:
    """The feed's address for `run` (made once per run object, then the same)."""
    with _lock:
        token = _tokens.get(run)
        if token is None:
            token = secrets.token_urlsafe(16)
            _tokens[run] = token
            _runs[token] = run
    return ROUTE.replace("{token}", token)


def numbers(view) -> list[dict]:
    """The run's numbers as the Train page shows them: label, value, and the hover text where there is one."""
    return [{"label": "Step", "value": f"{view.step:,}"},
            {"label": "Elapsed", "value": elapsed_text(view.elapsed_s),
             "help": f"{view.elapsed_s:,.1f} seconds of training"},
            {"label": "Steps/s", "value": f"{view.steps_per_second:,.0f}" if view.steps_per_second else "-"}]


def grid_data_url(config, view) -> str | None:
    """`view`'s sample grid (laid out for `config`'s model) as a PNG data URL, or None before its first grid. Encoded
    once per grid: the pages' reruns and the feed's answers after the first reuse it."""
    if view.samples is None:
        return None
    samples = np.ascontiguousarray(view.samples)
    columns = sample_columns(config)
    key = (int(view.samples_step), columns, samples.shape, samples.dtype.str, zlib.crc32(samples))
    with _lock:
        url = _grid_urls.get(key)
        if url is not None:
            _grid_urls.move_to_end(key)
            return url
    url = png_data_uri(grid_png(samples, columns=columns, scale=GRID_SCALE))
    with _lock:
        _grid_urls[key] = url
        while len(_grid_urls) > GRID_URLS_HELD:
            _grid_urls.popitem(last=False)
    return url


def shares(view) -> dict | None:
    """The last scoring's class shares: {"step", "values" (10 shares of the samples)}, or None before one."""
    steps = () if view.quality is None else view.quality.get("step", ())
    if view.quality_shares is None or not len(steps):
        return None
    return {"step": int(steps[-1]), "values": finite_or_none(np.asarray(view.quality_shares, np.float64))}


def dview(view, probabilities: bool) -> dict | None:
    """The discriminator view as the live panel draws it: D's outputs on the run's real and generated batches as
    two histograms over shared bins ({"chunk" (which computation), "step", "lower", "upper", "real", "fake" (counts),
    "count" (digits in each batch), "probabilities"}), or None before the first."""
    scores = view.extras.get("discriminator_view") if view.extras else None
    if not scores:
        return None
    histogram = score_histogram(scores["real"], scores["fake"], probabilities)
    return {"chunk": int(view.extras_chunk), "step": int(view.samples_step),
            "lower": finite_or_none(histogram["lower"]), "upper": finite_or_none(histogram["upper"]),
            "real": histogram["real"].tolist(), "fake": histogram["fake"].tolist(),
            "count": int(np.size(scores["real"])), "probabilities": bool(probabilities)}


def redraw_key(run, view, alerts: list | None = None) -> str:
    """What of `view` only a rerun of the page draws: whether the run has points yet (the curves are drawn from the
    first), the alerts up (kind and severity; their numbers move with every point and wait for the next rerun),
    whether live quality has a score, and whether it has an error (not its text: no message leaves through the
    feed). The page is drawn with this key; the feed answers the run's current one, and the live panel reruns the
    fragment when they differ. `alerts`: the page's, when it has just checked them (so they are checked once)."""
    if alerts is None:
        config = getattr(run, "config", None)
        adversarial = bool(getattr(config, "is_adversarial", True))
        probabilities = getattr(config, "loss", None) in LOGISTIC_LOSSES
        alerts = check_alerts(view.history, view.quality if adversarial else None, view.status, view.message,
                              probabilities)
    scored = view.quality is not None and len(view.quality.get("step", ())) > 0
    points = "points" if len(view.history.get("step", ())) else "no points"
    return "|".join([points, ",".join(f"{alert.kind}:{alert.severity}" for alert in alerts),
                     "scored" if scored else "unscored", "quality error" if view.quality_error else ""])


def _rows_after(table: dict, after: float, max_rows: int = MAX_POINTS) -> tuple[list, dict]:
    """(steps, {series: values}) of the rows of `table` ("step" and equal-length series) after step `after`."""
    steps = np.asarray(table.get("step", ()), np.float64)
    start = int(np.searchsorted(steps, after, side="right")) if len(steps) else 0
    start = max(start, len(steps) - max_rows)
    series = {name: finite_or_none(np.asarray(values, np.float64)[start:]) for name, values in table.items()
              if name not in NOT_SERIES and np.ndim(values) == 1 and len(values) == len(steps)}
    return steps[start:].tolist(), series


def answer(run, after: float, grid_after: float | None = None, quality_after: float | None = None,
           dview_after: float | None = None) -> dict:
    """The feed's JSON for `run`: its status and numbers, the points after step `after`, the live-quality rows after
    `quality_after` when it is given, the sample grid when `grid_after` is given and the run's grid is at another
    step, the discriminator view when `dview_after` is given and the run's is another computation than that chunk's,
    and the run's redraw key."""
    view = run.poll()
    config = getattr(run, "config", None)
    steps, series = _rows_after(view.history, after)
    body = {"status": view.status, "busy": bool(view.busy), "step": int(view.step),
            "elapsed_s": float(view.elapsed_s), "steps_per_second": float(view.steps_per_second or 0.0),
            "numbers": numbers(view), "steps": steps, "series": series, "redraw": redraw_key(run, view)}
    if quality_after is not None:
        quality_steps, quality_series = _rows_after(view.quality or {}, quality_after)
        body["quality"] = {"steps": quality_steps, "series": quality_series, "shares": shares(view)}
    if grid_after is not None and view.samples is not None and view.samples_step != grid_after:
        body["grid"] = {"step": int(view.samples_step), "png": grid_data_url(config, view)}
    if dview_after is not None and view.extras_chunk != dview_after:
        probabilities = getattr(config, "loss", None) in LOGISTIC_LOSSES
        drawn = dview(view, probabilities)
        if drawn is not None:
            body["dview"] = drawn
    return body


def _number(text: str | None, default: float) -> float:
    """A query's number, or `default` when it is absent, not a number, or not finite."""
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return value if math.isfinite(value) else default


async def endpoint(request):
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    with _lock:
        run = _runs.get(request.path_params.get("token", ""))
    if run is None:
        return JSONResponse({"error": "no such run"}, status_code=404)
    after = _number(request.query_params.get("after"), -1.0)
    grid_text = request.query_params.get("grid_after")  # absent: no grid wanted; unreadable: whichever it shows
    grid_after = None if grid_text is None else _number(grid_text, -1.0)
    quality_text = request.query_params.get("quality_after")  # absent: no quality rows wanted
    quality_after = None if quality_text is None else _number(quality_text, -1.0)
    dview_text = request.query_params.get("dview_after")  # absent: no discriminator view wanted
    dview_after = None if dview_text is None else _number(dview_text, -1.0)
    body = await run_in_threadpool(answer, run, after, grid_after, quality_after, dview_after)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def routes() -> list:
    from starlette.routing import Route

    return [Route(ROUTE, endpoint, methods=["GET"])]
