"""The 2-D playground component: a GAN trained and drawn in the browser (see playground_component.js).

`playground(runs, drawn, extent, key)` mounts it. Python sends the recipe(s) and the drawn points; the browser
trains, draws each animation frame and scores; it sends back the drawn points, on each mouse-up, and in
presenter mode (`publish=True`) the view's state for viewers a few times a second (state "published", checked
by gan_core.toy_share before the server keeps it). `playground_watch(state, key)` mounts a viewer's read-only
view of such a state. The component's JavaScript is trusted code of this package: no user text ever goes into
its html/js, only into `data`, which the JavaScript shows as text, never as markup.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

_HERE = Path(__file__).resolve().parent
DRAWN_STATE = "drawn"
PUBLISHED_STATE = "published"

_HTML = '<div class="pg-root" data-testid="pg-root"></div>'

_CSS = """
.pg-root { font-family: var(--st-font); color: var(--st-text-color); }
.pg-bar, .pg-layers { display: flex; flex-wrap: wrap; gap: 0.5rem 0.9rem; align-items: center; margin-bottom: 0.4rem; }
.pg-button { font: inherit; padding: 0.3rem 0.8rem; border-radius: 0.5rem; border: 1px solid rgba(49, 51, 63, 0.25);
  background: var(--st-background-color, #fff); color: inherit; cursor: pointer; }
.pg-primary { background: var(--st-primary-color, #ff4b4b); color: #fff; border-color: transparent; min-width: 5rem; }
.pg-toggle { font-size: 0.9rem; white-space: nowrap; cursor: pointer; }
.pg-fps { font-size: 0.8rem; opacity: 0.7; font-variant-numeric: tabular-nums; }
.pg-sentence { font-size: 0.9rem; min-height: 2.6em; margin: 0.2rem 0 0.5rem; padding: 0.35rem 0.6rem;
  border-left: 3px solid var(--st-primary-color, #ff4b4b); background: rgba(128, 128, 128, 0.06); }
.pg-panels { display: flex; flex-wrap: wrap; gap: 1.25rem; }
.pg-panel { display: flex; flex-direction: column; gap: 0.25rem; }
.pg-title { font-weight: 600; min-height: 1.2em; }
.pg-canvas { border: 1px solid rgba(49, 51, 63, 0.2); touch-action: none; width: 360px; height: 360px; }
.pg-drawing-mode .pg-canvas { cursor: crosshair; }
.pg-score { font-weight: 600; font-variant-numeric: tabular-nums; }
.pg-stats { font-size: 0.8rem; opacity: 0.75; font-variant-numeric: tabular-nums; }
.pg-curves { border: 1px solid rgba(49, 51, 63, 0.1); }
.pg-watching .pg-canvas { cursor: default; }
"""

_JS = (_HERE / "toy_gan.js").read_text() + "\n" + (_HERE / "playground_component.js").read_text()

_component = st.components.v2.component("gan_lab_playground", html=_HTML, css=_CSS, js=_JS)


def _on_drawn() -> None:
    """Registered so "drawn" is a known state key; the page reads it with drawn_points()."""


def drawn_points(key: str) -> list[list[float]]:
    """The points drawn in the component with this key (its state "drawn"), [] before any."""
    try:
        points = st.session_state[key].get(DRAWN_STATE)
    except (KeyError, AttributeError):
        return []
    return points if isinstance(points, list) else []


def published_state(key: str):
    """What the component with this key last published for viewers (unchecked: see gan_core.toy_share), or None."""
    try:
        return st.session_state[key].get(PUBLISHED_STATE)
    except (KeyError, AttributeError):
        return None


def _ignore() -> None:
    """For a state the page reads elsewhere (a callback must exist for each state name)."""


def playground(runs: list[dict], drawn: list[list[float]], extent: float, key: str, publish: bool = False) -> None:
    """runs: [{"label": str, "config": ToyConfig.to_dict()}], one or two (side by side, one Start).

    publish: send the view's state back (presenter mode; read it with published_state)."""
    _component(key=key, data={"runs": runs, "drawn": drawn, "extent": float(extent), "publish": bool(publish)},
               on_drawn_change=_on_drawn, on_published_change=_ignore)


def playground_watch(state: dict | None, key: str) -> None:
    """A viewer's read-only view of a presenter's published (and checked) state; None: waiting for the first."""
    _component(key=key, data={"watch": state})
