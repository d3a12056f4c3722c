"""What the server does when it starts, before any page opens: begin warming the lab engine.

Streamlit runs a page's script only when a browser connects, so an engine made by the first page begins its
~10 s warm-up (a worker process, TensorFlow, the default recipe built and traced) only then. `streamlit run
app.py` finds app.py's `st.App` and runs this lifespan at start-up instead; the engine it makes is the one every
page gets (ui.state caches it), so the spare is ready that much sooner.
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

LOG = logging.getLogger(__name__)


def warm_engine() -> None:
    """Make the server's engine (which starts warming its spare at once); never raises."""
    try:
        from ui import state

        state.engine()
    except Exception:  # the first page makes it instead, and says what went wrong
        LOG.exception("starting the lab engine with the server failed; the first page will try again")


@asynccontextmanager
async def lifespan(_app):
    # A thread: making the engine imports NumPy and the engine's modules (a second or so), which must not hold
    # up the server's start.
    threading.Thread(target=warm_engine, daemon=True, name="warm-engine").start()
    yield
