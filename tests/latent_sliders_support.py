"""AppTest helpers for the Explore page's server-mode sliders component (ui/latent_sliders.py).

The sliders live in one component of ours, not in `st.slider`s: these read its data as the browser gets it and
move a slider the way the browser does (component state "moves", every move not yet applied).
"""

from __future__ import annotations

import json

COMPONENT = "gan_lab_latent_sliders"
KEY = "explore_sliders"
INSTANCE = "apptest"


def sliders_data(at) -> dict | None:
    """The data the sliders component was fed this run, or None when it is not on the page."""
    elements = [e for e in at.get("bidi_component") if COMPONENT in e.proto.component_name]
    assert len(elements) <= 1, "one sliders component at most"
    return json.loads(elements[0].proto.json) if elements else None


def slider_ids(at) -> list[str]:
    """Every slider's id, in order: "z_<dim>" for the raw dimensions, "pc_<index>" for the directions."""
    data = sliders_data(at)
    return [] if data is None else [s["id"] for group in data["groups"] for s in group["sliders"]]


def slider_value(at, slider_id: str) -> float:
    data = sliders_data(at)
    assert data is not None, "the sliders are not on the page"
    for group in data["groups"]:
        for slider in group["sliders"]:
            if slider["id"] == slider_id:
                return float(slider["value"])
    raise KeyError(slider_id)


def digit_src(at) -> str:
    data = sliders_data(at)
    assert data is not None, "the sliders are not on the page"
    return data["digit"]["src"]


def caption_text(at) -> str:
    data = sliders_data(at)
    return "" if data is None else "".join(part["text"] for part in data["caption"])


def move_sliders(at, *moves: tuple[str, float], run: bool = True):
    """Let go of sliders at values, as the browser reports it: every move Python has not applied, numbered."""
    data = sliders_data(at)
    assert data is not None, "the sliders are not on the page"
    applied = data.get("applied") or ""
    applied_n = int(applied.split("-")[1]) if applied.startswith(INSTANCE + "-") else 0
    pending = [move for move in getattr(at, "_latent_moves", []) if move["n"] > applied_n]
    n = getattr(at, "_latent_moves_made", 0)
    for slider_id, value in moves:
        slider_value(at, slider_id)  # the slider is on the page
        n += 1
        pending.append({"n": n, "id": slider_id, "value": float(value)})
    at._latent_moves, at._latent_moves_made = pending, n
    at.session_state[KEY] = {"moves": {"instance": INSTANCE, "moves": pending}}
    return at.run() if run else at


def move_slider(at, slider_id: str, value: float):
    return move_sliders(at, (slider_id, value))
