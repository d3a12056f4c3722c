"""Instant mode: latent sliders whose digit the browser redraws itself, with no server round trip per move.

Every model of the family runs there: the dense GAN, WGAN-GP and cGAN (its label joined on), the DCGAN
(transposed convolutions and batch normalisation) and the VAE and autoencoder decoders. The sampler's weights travel to the page once per weights hash (gan_core.browser_export); the page then
runs ui/instant_generator.js on every slider `input` event, one draw per animation frame. Python hears back
only when a slider is let go (component state "released" = {seq, z}: one rerun per release). Server
rendering (`model.generate`) stays the reference: both draw the same digit for the same z, to within one
grey level (tests/test_instant.py).

Weights are sent once: `st.session_state[HASHES_KEY]` lists the hashes this browser session has confirmed
(the component sets its state "weights_hash" after decoding them, and a callback records it before the
rerun). While a hash is listed, `data` carries the shapes and hash only and the page uses its own cache
(kept on `globalThis`, the last few hashes). If the page lacks a listed hash it fires "missing_weights", a
callback unlists it, and that rerun sends the arrays again.

DOM, inside the component's shadow root (Playwright CSS selectors and get_by_test_id pierce it):
  [data-testid="instant-generator"]          root; data-state="ready" | "waiting", data-hash=<weights hash>
  [data-testid="instant-canvas"]             the digit, white on black, nearest-neighbour upscaled
  [data-testid="instant-slider-<dim>"]       <input type="range"> for z[dim], aria-label "z[<dim>]"
  [data-testid="instant-slider-value-<dim>"] the slider's value, two decimals
  [data-testid="instant-fps"]                "<n> frames/s · <t> ms a frame" over the last second of draws;
                                             data-fps, data-draws (draws since mount) and data-ms
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import streamlit as st

from gan_core.browser_export import generator_payload

HASHES_KEY = "_instant_generator_weight_hashes"
PAYLOADS_KEY = "_instant_generator_payloads"  # (model key, weights_version) -> payload
TAKEN_KEY = "_instant_generator_taken_releases"  # component key -> sequence id of the release handed over
KEEP_HASHES = 4  # as many as the page caches (KEEP_WEIGHTS in instant_component.js)
SLIDER_STEP = 0.01
_HERE = Path(__file__).resolve().parent

_HTML = """
<div class="instant-generator" data-testid="instant-generator" data-state="waiting">
  <div class="instant-picture">
    <canvas class="instant-canvas" data-testid="instant-canvas" width="280" height="280"></canvas>
    <div class="instant-fps" data-testid="instant-fps" data-fps="0" data-draws="0">0 frames/s</div>
    <div class="instant-status" data-testid="instant-status"></div>
  </div>
  <div class="instant-sliders" data-testid="instant-sliders"></div>
</div>
"""

_CSS = """
.instant-generator { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start;
  font-family: var(--st-font); color: var(--st-text-color); }
.instant-canvas { display: block; background: #000; image-rendering: pixelated; }
.instant-fps, .instant-status { font-size: 0.8rem; opacity: 0.7; margin-top: 0.25rem;
  font-variant-numeric: tabular-nums; }
.instant-sliders { display: grid; grid-template-columns: auto 1fr auto; gap: 0.35rem 0.75rem;
  align-items: center; flex: 1 1 16rem; min-width: 14rem; }
.instant-slider { display: contents; }
.instant-slider-label { font-family: var(--st-code-font); font-size: 0.85rem; }
.instant-slider-input { width: 100%; accent-color: var(--st-primary-color); }
.instant-slider-value { font-variant-numeric: tabular-nums; font-size: 0.85rem; min-width: 3.2em; text-align: right; }
"""

_JS = (_HERE / "instant_generator.js").read_text() + "\n" + (_HERE / "instant_component.js").read_text()

_component = st.components.v2.component("gan_lab_instant_generator", html=_HTML, css=_CSS, js=_JS)


def _confirmed_hashes() -> list[str]:
    return st.session_state.setdefault(HASHES_KEY, [])


def _component_value(key: str, name: str):
    try:
        return st.session_state[key].get(name)
    except (KeyError, AttributeError):
        return None


def _on_weights_hash(key: str) -> None:
    weights_hash = _component_value(key, "weights_hash")
    hashes = _confirmed_hashes()
    if isinstance(weights_hash, str) and weights_hash not in hashes:
        hashes.append(weights_hash)
        del hashes[:-KEEP_HASHES]


def _on_missing_weights(key: str) -> None:
    missing = _component_value(key, "missing_weights")
    hashes = _confirmed_hashes()
    if missing in hashes:
        hashes.remove(missing)


def _on_released() -> None:
    """Registered so "released" is a known state key; its value is read in `instant_generator`."""


def _new_release(key: str, latent_dim: int) -> np.ndarray | None:
    """The browser's z from a slider release not handed over before, else None.

    "released" is component state, not a trigger, so a run that a newer rerun interrupts cannot lose it:
    the newer run sees the latest release (it holds the whole z) and hands that over.
    """
    release = _component_value(key, "released")
    if not isinstance(release, dict) or not isinstance(release.get("z"), list) or len(release["z"]) != latent_dim:
        return None
    taken = st.session_state.setdefault(TAKEN_KEY, {})
    if taken.get(key) == release.get("seq"):
        return None
    taken[key] = release.get("seq")
    return np.asarray(release["z"], np.float32)


def _checked_inputs(model, z: np.ndarray, dims: list[int]) -> tuple[np.ndarray, list[int]]:
    latent_dim = int(model.latent_dim)
    z = np.asarray(z, np.float32).reshape(-1)
    if z.shape != (latent_dim,):
        raise ValueError(f"z must hold the model's {latent_dim} latent values; got shape {np.shape(z)}")
    dims = [int(dim) for dim in dims]
    bad = [dim for dim in dims if not 0 <= dim < latent_dim]
    if bad:
        raise ValueError(f"dims must be indices of z, 0 to {latent_dim - 1}; got {bad}")
    return z, dims


def _payload(model, weights_version, include_arrays: bool) -> dict:
    """generator_payload, reused while the caller's weights_version (say, the training step) is unchanged.

    Reading the weights back from TensorFlow costs ~1 ms on an idle machine but far more on a loaded one,
    and a rerun follows every slider release, so callers that know when the weights change should say so.
    """
    if weights_version is None:
        return generator_payload(model, include_arrays=include_arrays)
    cache = st.session_state.setdefault(PAYLOADS_KEY, {})
    cache_key = (getattr(model, "key", id(model)), weights_version)
    payload = cache.get(cache_key)
    if payload is None or (include_arrays and "arrays" not in payload):
        payload = generator_payload(model, include_arrays=include_arrays)
        cache.clear()  # one model's payload at a time: the arrays are ~1.2 MB (the DCGAN's ~1.8)
        cache[cache_key] = payload
    if not include_arrays and "arrays" in payload:
        payload = {name: value for name, value in payload.items() if name != "arrays"}
    return payload


def instant_generator(model, z: np.ndarray, dims: list[int], key: str, slider_range: float = 3.0,
                      size_px: int = 280, weights_version=None, label: int | None = None) -> np.ndarray | None:
    """Sliders for z[dims] and the digit G(z), both drawn and recomputed in the browser.

    Returns the browser's whole z (float32, latent_dim) on the first run after a slider release, None on
    other runs: store it as the page's z and pass that back in. A z from the caller that differs from the
    previous run's (new seed, reset) moves the sliders; the browser ignores echoes of z it sent itself.
    weights_version: anything hashable that changes whenever the weights do (the training step, the
    checkpoint path); with it the weights are read and hashed once per version, not on every run.
    label: the digit a conditional GAN draws (0-9); ignored for the other models.
    Raises ValueError for a model whose weights do not fit its config's network.
    """
    z, dims = _checked_inputs(model, z, dims)
    released = _new_release(key, z.shape[0])
    if released is not None:
        z = released  # what the sliders already show, so the browser reads it as an echo
    generator = _payload(model, weights_version, include_arrays=False)
    if generator["hash"] not in _confirmed_hashes():
        generator = _payload(model, weights_version, include_arrays=True)
    data = {"generator": generator, "z": z.tolist(), "dims": dims, "range": float(slider_range),
            "step": SLIDER_STEP, "size": int(size_px),
            "label": (0 if label is None else int(label)) if generator.get("classes") else None}
    _component(key=key, data=data, on_weights_hash_change=functools.partial(_on_weights_hash, key),
               on_missing_weights_change=functools.partial(_on_missing_weights, key),
               on_released_change=_on_released)
    return released
