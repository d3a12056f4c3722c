"""The Train page's live feed: the curve points after a step, read by the chart component itself over HTTP.

Why: every Streamlit rerun costs the browser about 65 ms of main-thread work whatever it draws (React, styles,
layout; benchmarks/README.md), and on two cores that time comes out of the training worker's share. With the feed
the live curves move twice a second while the page's fragment reruns only every few seconds (the grid, the
numbers, the alerts).

- `GET /gan-lab/feed/<token>?after=<step>` answers JSON: the run's status numbers and, per series, the points after
  `after` (at most MAX_POINTS, the newest). The token is random (128 bits) and names one run of one browser
  session, as a share link does; an unknown token gets 404. Nothing but numbers leaves: no path, no message text.
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

ROUTE = "/gan-lab/feed/{token}"
MAX_POINTS = 2000  # per answer: a browser that fell further behind gets the newest and the page's next rerun
NOT_SERIES = ("step", "time")

_lock = threading.Lock()
_runs: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()
_tokens: "weakref.WeakKeyDictionary[object, str]" = weakref.WeakKeyDictionary()


def feed_url(run) -> str:
    """The feed's address for `run` (made once per run object, then the same)."""
    with _lock:
        token = _tokens.get(run)
        if token is None:
            token = secrets.token_urlsafe(16)
            _tokens[run] = token
            _runs[token] = run
    return ROUTE.replace("{token}", token)


def answer(run, after: float) -> dict:
    """The feed's JSON for `run`: its status numbers and the points after step `after`."""
    view = run.poll()
    history = view.history
    steps = np.asarray(history.get("step", ()), np.float64)
    start = int(np.searchsorted(steps, after, side="right")) if len(steps) else 0
    start = max(start, len(steps) - MAX_POINTS)
    series = {name: finite_or_none(np.asarray(values)[start:]) for name, values in history.items()
              if name not in NOT_SERIES and len(values) == len(steps)}
    return {"status": view.status, "busy": bool(view.busy), "step": int(view.step),
            "elapsed_s": float(view.elapsed_s), "steps_per_second": float(view.steps_per_second or 0.0),
            "steps": steps[start:].tolist(), "series": series}


async def endpoint(request):
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    with _lock:
        run = _runs.get(request.path_params.get("token", ""))
    if run is None:
        return JSONResponse({"error": "no such run"}, status_code=404)
    try:
        after = float(request.query_params.get("after", "-1"))
    except ValueError:
        after = -1.0
    if not math.isfinite(after):
        after = -1.0
    body = await run_in_threadpool(answer, run, after)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def routes() -> list:
    from starlette.routing import Route

    return [Route(ROUTE, endpoint, methods=["GET"])]
