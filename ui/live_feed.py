"""The Train page's live feed: what moves between reruns, read by the page's components themselves over HTTP.

Why: every Streamlit rerun costs the browser tens of milliseconds of main-thread work whatever it draws (React,
styles, layout; benchmarks/README.md), and on two cores that time comes out of the training worker's share. With
the feed the curves, the numbers and the sample grid move once a second while the page's live fragment reruns
only every LIVE_REFRESH_S (alerts, status text, the discriminator view, live quality) or when the status changes.

- `GET /gan-lab/feed/<token>?after=<step>&grid_after=<step>` answers JSON: the run's status, its numbers as the
  page shows them (Step, Elapsed, Steps/s), per series the points after `after` (at most MAX_POINTS, the newest),
  and the fixed-noise sample grid as a PNG data URL when the run's grid is another than the one at `grid_after`
  (only then: a grid is ~30 KB, the points a few hundred bytes; "another", not "newer": a run restored to an
  earlier step has an older grid). The live panel (ui/live_panel.py) shows the numbers and the grid, the charts
  (ui/stream_chart.py) the points, from one request.
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

import numpy as np

from gan_core.history import finite_or_none
from gan_core.images import grid_png, png_data_uri, sample_columns
from ui.train_text import elapsed_text

ROUTE = "/gan-lab/feed/{token}"
MAX_POINTS = 2000  # per answer: a browser that fell further behind gets the newest and the page's next rerun
NOT_SERIES = ("step", "time")

_lock = threading.Lock()
_runs: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()
_tokens: "weakref.WeakKeyDictionary[object, str]" = weakref.WeakKeyDictionary()
_grids: "weakref.WeakKeyDictionary[object, tuple]" = weakref.WeakKeyDictionary()  # run -> (samples step, data URL)
GRID_SCALE = 2  # as the page's own grid (ui/live_views.py)


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


def grid_data_url(run, view) -> str:
    """The run's newest sample grid as a PNG data URL, encoded once per grid (every request after reuses it)."""
    key = (id(view.samples), int(view.samples_step))
    with _lock:
        cached = _grids.get(run)
    if cached is None or cached[0] != key:
        png = grid_png(view.samples, columns=sample_columns(getattr(run, "config", None)), scale=GRID_SCALE)
        cached = (key, png_data_uri(png))
        with _lock:
            _grids[run] = cached
    return cached[1]


def answer(run, after: float, grid_after: float | None = None) -> dict:
    """The feed's JSON for `run`: its status and numbers, the points after step `after`, and the sample grid when
    `grid_after` is given and the run's grid is at another step."""
    view = run.poll()
    history = view.history
    steps = np.asarray(history.get("step", ()), np.float64)
    start = int(np.searchsorted(steps, after, side="right")) if len(steps) else 0
    start = max(start, len(steps) - MAX_POINTS)
    series = {name: finite_or_none(np.asarray(values)[start:]) for name, values in history.items()
              if name not in NOT_SERIES and len(values) == len(steps)}
    body = {"status": view.status, "busy": bool(view.busy), "step": int(view.step),
            "elapsed_s": float(view.elapsed_s), "steps_per_second": float(view.steps_per_second or 0.0),
            "numbers": numbers(view), "steps": steps[start:].tolist(), "series": series}
    if grid_after is not None and view.samples is not None and view.samples_step != grid_after:
        body["grid"] = {"step": int(view.samples_step), "png": grid_data_url(run, view)}
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
    body = await run_in_threadpool(answer, run, after, grid_after)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def routes() -> list:
    from starlette.routing import Route

    return [Route(ROUTE, endpoint, methods=["GET"])]
