"""Server-mode latent sliders: the sliders, the digit and its neighbours as one component of ours.

The server draws the digit (the reference renderer); the browser only moves sliders and shows pictures. As one
element, a slider move re-renders one thing in the browser: the same page made of `st.slider`s, `st.image`s and
columns re-rendered 31 elements per press, ~112 ms of JavaScript (benchmarks/README.md, 30 November).

A move is a slider let go or stepped with a key (its `change` event, as `st.slider` sends). The component keeps
every move Python has not applied in its state "moves" = {instance, moves: [{n, id, value}]}; `new_moves` hands
over those past the last one applied and the next run's data says which that was ("applied"), so the browser
stops resending them. Moves made faster than the server reruns are all applied, in order.

DOM, inside the component's shadow root (Playwright CSS selectors and get_by_test_id pierce it):
  [data-testid="latent-sliders"]             root
  [data-testid="latent-slider-<id>"]         <input type="range">, aria-label = the slider's label
  [data-testid="latent-slider-value-<id>"]   its value, two decimals
  [data-testid="latent-digit"]               <img>, the digit at z (a data: URL of the server's PNG)
  [data-testid="latent-caption"]             the words under it
  [data-testid="latent-neighbours"]          <img>, the neighbours grid
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

TAKEN_KEY = "_latent_sliders_taken"  # component key -> (instance, n) of the last move handed over
_HERE = Path(__file__).resolve().parent

_HTML = """
<div class="latent-sliders" data-testid="latent-sliders">
  <div class="latent-groups" data-testid="latent-groups"></div>
  <div class="latent-picture">
    <img class="latent-digit" data-testid="latent-digit" alt="">
    <div class="latent-caption" data-testid="latent-caption"></div>
    <img class="latent-neighbours" data-testid="latent-neighbours" alt="">
    <div class="latent-neighbours-caption"></div>
  </div>
</div>
"""

_CSS = """
.latent-sliders { display: flex; flex-wrap: wrap; gap: 1.5rem 3rem; align-items: flex-start;
  font-family: var(--st-font); color: var(--st-text-color); }
.latent-groups { flex: 3 1 24rem; display: grid; grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr));
  gap: 0 2rem; }
.latent-picture { flex: 2 1 17.5rem; }
.latent-group-title { font-weight: 600; margin-bottom: 0.35rem; }
.latent-group-caption, .latent-caption, .latent-neighbours-caption { font-size: 0.875rem; opacity: 0.72;
  margin: 0.25rem 0 0.5rem; line-height: 1.4; }
.latent-rows { display: grid; grid-template-columns: auto 1fr auto; gap: 0.55rem 0.75rem; align-items: center; }
.latent-slider { display: contents; }
.latent-slider-label { font-size: 0.875rem; }
.latent-slider-input { width: 100%; min-width: 5rem; accent-color: var(--st-primary-color); }
.latent-slider-value { font-variant-numeric: tabular-nums; font-size: 0.85rem; min-width: 3.2em; text-align: right; }
.latent-digit { display: block; image-rendering: pixelated; background: #000; }
.latent-neighbours { display: block; image-rendering: pixelated; margin-top: 0.5rem; max-width: 100%; }
.latent-explained { text-decoration: underline dotted; cursor: help; }
"""

_component = st.components.v2.component("gan_lab_latent_sliders", html=_HTML, css=_CSS,
                                        js=(_HERE / "latent_sliders.js").read_text())


@dataclass(frozen=True)
class Move:
    """One slider move from the browser: the slider's id and the value it was let go at."""
    id: str
    value: float


def _on_moves() -> None:
    """Registered so "moves" is a known state key; its value is read in `new_moves`."""


def new_moves(key: str) -> list[Move]:
    """The moves of the component under `key` not handed over before, oldest first.

    "moves" is component state, not a trigger, so a run that a newer rerun interrupts cannot lose one: the
    state holds every move not yet acknowledged, and what was handed over is remembered here.
    """
    try:
        state = st.session_state[key].get("moves")
    except (KeyError, AttributeError):
        return []
    if not isinstance(state, dict) or not isinstance(state.get("moves"), list):
        return []
    instance = str(state.get("instance"))
    taken = st.session_state.setdefault(TAKEN_KEY, {})
    taken_instance, taken_n = taken.get(key, (None, 0))
    after = taken_n if taken_instance == instance else 0
    moves = []
    for move in state["moves"]:
        try:
            n, move_id, value = int(move["n"]), str(move["id"]), float(move["value"])
        except (KeyError, TypeError, ValueError):
            continue
        if n > after:
            moves.append(Move(move_id, value))
            after = n
    if moves:
        taken[key] = (instance, after)
    return moves


def _applied(key: str) -> str | None:
    taken = st.session_state.get(TAKEN_KEY, {}).get(key)
    return None if taken is None else f"{taken[0]}-{taken[1]}"


def latent_sliders(key: str, groups: list[dict], *, slider_range: float, step: float, digit: dict,
                   caption: list[dict], neighbours: dict | None = None) -> None:
    """Draw the sliders (groups: [{title, caption, sliders: [{id, label, value}]}]) beside the digit.

    digit: {src: an image URL (a data: URL), size: its side in px, alt}; caption: the words under it, as
    [{text, strong?: bool, title?: a tooltip}]; neighbours: {src, width, caption} or None. Call `new_moves(key)`
    before this, in the same run, and apply what it returns: the values passed here should already show them.
    """
    data = {"groups": groups, "range": float(slider_range), "step": float(step), "applied": _applied(key),
            "digit": digit, "caption": caption, "neighbours": neighbours}
    _component(key=key, data=data, on_moves_change=_on_moves)
