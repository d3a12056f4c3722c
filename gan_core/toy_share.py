"""What a Playground presenter's browser may publish for its viewers, checked before the server keeps it.

The Playground trains in the presenter's browser (ui/components/playground), so presenter mode runs the other
way round from the Train page's: the browser sends its state (weights, step, recipe, curves, scores) back
through the component a few times a second, the server keeps the latest one (gan_core.engine.sharing), and each
viewer's browser draws it with the same drawing code, training nothing.

Decisions, and why:
- A browser is a stranger's input: `check_state` walks the value with a byte budget before anything else (a
  deep or huge value is refused after at most PLAYGROUND_STATE_MAX_BYTES of reading), then checks every field
  against gan_core.limits and returns a new dict holding only the known fields. Nothing from it is ever put
  into html or js: viewers' browsers read it as data, and text only ever becomes textContent.
- Weights travel as base64 of little-endian float32, one string per network (every layer's W, then its b, in
  order), and must hold exactly as many finite numbers as the run's ToyConfig says the network has: the
  config is checked by ToyConfig itself, the count before any decoding.
- The server keeps the strings as received (checked); it never builds a model from them. Pure Python and NumPy:
  the page process imports this.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np

from gan_core.limits import (PLAYGROUND_MAX_HISTORY, PLAYGROUND_MAX_PARAMS, PLAYGROUND_MAX_RUNS,
                             PLAYGROUND_MAX_TEXT, PLAYGROUND_STATE_MAX_BYTES)
from gan_core.toy import MAX_DRAWN_POINTS, ToyConfig, check_drawn_points

HISTORY_SERIES = ("step", "d_loss", "g_loss", "d_real", "d_fake")
LAYER_NAMES = ("heatmap", "real", "fake", "manifold", "arrows", "average")
MAX_DEPTH = 6  # state -> runs -> run -> history -> series -> number


class StateRefused(ValueError):
    """A published state the server does not keep; the message names the field and the limit."""


def network_sizes(config: ToyConfig) -> dict[str, list[int]]:
    """The layer widths of G and D, input first (as ToyGAN and toy_gan.js build them)."""
    hidden = [config.hidden_units] * config.depth
    return {"G": [config.latent_dim, *hidden, 2], "D": [2, *hidden, 1]}


def parameter_count(sizes: list[int]) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def encode_weights(values: np.ndarray) -> str:
    """The wire form of one network's weights (flat, in order): base64 of little-endian float32."""
    return base64.b64encode(np.asarray(values, "<f4").tobytes()).decode("ascii")


def check_state(value: Any) -> dict:
    """The published state, checked and copied (only known fields), or StateRefused saying what is wrong."""
    _within_budget(value)
    if not isinstance(value, dict):
        raise StateRefused("the published state must be a mapping")
    runs = value.get("runs")
    if not isinstance(runs, list) or not 1 <= len(runs) <= PLAYGROUND_MAX_RUNS:
        raise StateRefused(f"the published state must hold 1 to {PLAYGROUND_MAX_RUNS} runs")
    layers = value.get("layers", {})
    if not isinstance(layers, dict):
        raise StateRefused("layers must be a mapping of layer names to true/false")
    drawn = value.get("drawn") or []
    if drawn:
        try:
            drawn = check_drawn_points(drawn).round(4).tolist()
        except ValueError as exc:
            raise StateRefused(str(exc)) from exc
    return {
        "seq": _whole(value.get("seq", 0), "seq", 0, 2**53),
        "extent": _number(value.get("extent", 3.0), "extent", 0.5, 20.0),
        "running": bool(value.get("running", False)),
        "slow_motion": bool(value.get("slow_motion", False)),
        "sentence": _text(value.get("sentence", ""), "sentence"),
        "layers": {name: bool(layers[name]) for name in LAYER_NAMES if name in layers},
        "drawn": drawn,
        "runs": [_run(run, i) for i, run in enumerate(runs)],
    }


def _run(run: Any, index: int) -> dict:
    where = f"run {index + 1}"
    if not isinstance(run, dict):
        raise StateRefused(f"{where} must be a mapping")
    try:
        config = ToyConfig.from_dict(run.get("config"))
    except (TypeError, ValueError) as exc:
        raise StateRefused(f"{where}: config: {exc}") from exc
    sizes = network_sizes(config)
    weights = {name: _weights(run.get(name), f"{where}: {name}", parameter_count(sizes[name])) for name in sizes}
    history = run.get("history", {})
    if not isinstance(history, dict):
        raise StateRefused(f"{where}: history must be a mapping of series to lists of numbers")
    series = {name: _series(history.get(name, []), f"{where}: history {name}") for name in HISTORY_SERIES}
    if len({len(values) for values in series.values()}) != 1:
        raise StateRefused(f"{where}: history series must have one length")
    scores = run.get("scores", {})
    if not isinstance(scores, dict):
        raise StateRefused(f"{where}: scores must be a mapping")
    return {
        "label": _text(run.get("label", ""), f"{where}: label"),
        "config": config.to_dict(),
        "step": _whole(run.get("step", 0), f"{where}: step", 0, 2**53),
        **weights,
        "history": series,
        "scores": {
            "covered": _whole(scores.get("covered", 0), f"{where}: covered", 0, 1000),
            "total": _whole(scores.get("total", 0), f"{where}: total", 0, 1000),
            "hq": _number(scores.get("hq", 0.0), f"{where}: hq", 0.0, 1.0),
            "js": _optional_number(scores.get("js"), f"{where}: js"),
            "kl": _optional_number(scores.get("kl"), f"{where}: kl"),
        },
    }


def _weights(encoded: Any, where: str, expected: int) -> str:
    if expected > PLAYGROUND_MAX_PARAMS:
        raise StateRefused(f"{where}: {expected:,} weights are more than presenter mode shares "
                           f"({PLAYGROUND_MAX_PARAMS:,}); use fewer hidden units or layers")
    if not isinstance(encoded, str) or len(encoded) != 4 * math.ceil(4 * expected / 3):
        raise StateRefused(f"{where}: must be base64 of exactly {expected:,} float32 weights")
    try:
        values = np.frombuffer(base64.b64decode(encoded, validate=True), "<f4")
    except (binascii.Error, ValueError) as exc:
        raise StateRefused(f"{where}: not base64 of float32 weights") from exc
    if values.size != expected or not np.all(np.isfinite(values)):
        raise StateRefused(f"{where}: must hold {expected:,} finite float32 weights")
    return encoded


def _series(values: Any, where: str) -> list:
    if not isinstance(values, list) or len(values) > PLAYGROUND_MAX_HISTORY:
        raise StateRefused(f"{where}: must be a list of at most {PLAYGROUND_MAX_HISTORY} numbers")
    return [_optional_number(v, where) for v in values]


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > PLAYGROUND_MAX_TEXT:
        raise StateRefused(f"{where}: must be text of at most {PLAYGROUND_MAX_TEXT} characters")
    return value


def _whole(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or not low <= value <= high:
        raise StateRefused(f"{where}: must be a whole number in [{low}, {high}]")
    return int(value)


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise StateRefused(f"{where}: must be a number in [{low}, {high}]")
    return float(value)


def _optional_number(value: Any, where: str) -> float | None:
    """A finite number, or None (JSON's null: the browser sends a non-finite loss as null)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StateRefused(f"{where}: must hold numbers or null")
    return float(value)


def _within_budget(value: Any) -> None:
    """Refuse a value bigger than PLAYGROUND_STATE_MAX_BYTES, or deeper than the state's shape, reading no more."""
    budget = PLAYGROUND_STATE_MAX_BYTES
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise StateRefused("the published state is nested deeper than a playground state")
        if isinstance(item, str):
            budget -= len(item) + 2
        elif isinstance(item, (dict, list)):
            budget -= 2 + 4 * len(item)
        else:
            budget -= 8
        if budget < 0:  # checked before a container's items are looked at
            raise StateRefused(f"the published state is larger than {PLAYGROUND_STATE_MAX_BYTES // 1024 ** 2} MiB: "
                               f"use fewer hidden units or layers to share it")
        if isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    raise StateRefused("the published state's keys must be text")
                budget -= len(key)
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
