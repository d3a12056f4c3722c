"""Your own digit in the latent space: draw (or upload) one, find the z that draws it, explore from there.

Decisions, and why:
- The canvas is an inline component (ui/draw_digit.js): strokes live in the browser, so drawing costs no
  rerun; Python hears the picture once per finished stroke, undo or clear (component state "drawing").
- A drawing or an upload becomes a digit the way uploaded training images do (gan_core.uploads.mnist_form:
  the ink's box fitted into 20 x 20, placed by its centre of mass), so what the model sees is what MNIST is.
- The projection runs in the engine's inference worker (ModelHandle.project; the classifier is convolutional
  and the page holds no TensorFlow), one chunk of Adam steps per request, so a progress bar moves between
  requests. Autoencoders answer in one request (their encoder).
- The result sets the page's z (and a conditional GAN's digit) before the sliders are drawn, so the sliders,
  the principal directions and the link in the address bar all start from the projected z: a copied link
  reopens the projection.

DOM, inside the component's shadow root (Playwright's CSS selectors and get_by_test_id pierce it):
  [data-testid="draw-digit"]         root; data-strokes (strokes on the canvas), data-sent (pictures sent)
  [data-testid="draw-canvas"]        the canvas (pointer events: mouse, pen or finger)
  [data-testid="draw-undo"], [data-testid="draw-clear"]   the buttons
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from gan_core import latent, share, uploads
from gan_core.images import grid_png, to_png

CANVAS_KEY = "explore_draw_canvas"
SOURCE_KEY = "explore_draw_source"
UPLOAD_KEY = "explore_draw_upload"
UPLOAD_DIGIT_KEY = "_draw_digit_upload"  # (file id, digit or None, reason or None) of the last upload read
RESULT_KEY = "_explore_projection"  # {"model_key", "digit", "report"} of the last projection
SOURCES = ("Draw", "Upload an image")
SEND_SIDE = 112  # what ui/draw_digit.js sends: SEND_SIDE x SEND_SIDE grey levels 0-255
CHUNK_STEPS = 40  # Adam steps per request to the worker: one progress-bar move
DIGIT_SCALE = 6  # 28 px -> 168 px
UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif"]
WALK_STEPS = 8

_HTML = """
<div class="draw-digit" data-testid="draw-digit" data-strokes="0" data-sent="0">
  <canvas class="draw-canvas" data-testid="draw-canvas" width="280" height="280"
          aria-label="Drawing canvas: draw one digit"></canvas>
  <div class="draw-buttons">
    <button type="button" class="draw-undo" data-testid="draw-undo">Undo</button>
    <button type="button" class="draw-clear" data-testid="draw-clear">Clear</button>
  </div>
</div>
"""

_CSS = """
.draw-digit { font-family: var(--st-font); color: var(--st-text-color); }
.draw-canvas { display: block; background: #000; image-rendering: pixelated; touch-action: none;
  cursor: crosshair; border-radius: 0.25rem; max-width: 100%; }
.draw-buttons { display: flex; gap: 0.5rem; margin-top: 0.5rem; }
.draw-buttons button { font: inherit; padding: 0.25rem 0.9rem; border-radius: 0.5rem; cursor: pointer;
  border: 1px solid var(--st-border-color, #ccc); background: var(--st-secondary-background-color, #f0f2f6);
  color: inherit; }
"""

_component = st.components.v2.component(
    "gan_lab_draw_digit", html=_HTML, css=_CSS, js=(Path(__file__).resolve().parent / "draw_digit.js").read_text())


def digit_from_drawing(drawing) -> np.ndarray | None:
    """The canvas's picture ({side, pixels}) in MNIST form (28, 28), or None when it is blank or malformed."""
    if not isinstance(drawing, dict) or drawing.get("side") != SEND_SIDE:
        return None
    pixels = drawing.get("pixels")
    if not isinstance(pixels, list) or len(pixels) != SEND_SIDE * SEND_SIDE:
        return None
    try:
        grey = np.asarray(pixels, np.float32).reshape(SEND_SIDE, SEND_SIDE) / 255.0
    except (TypeError, ValueError):
        return None
    if not np.isfinite(grey).all():
        return None
    return uploads.mnist_form(np.clip(grey, 0.0, 1.0), invert=False)


def digit_from_upload(data: bytes) -> tuple[np.ndarray | None, str | None]:
    """(digit, None) for an image file, or (None, the reason it cannot be used). The file is decoded in the
    limited parsing child (gan_core/sandbox.py), never in the page's process."""
    digit, note = uploads.convert_one_picture("your digit", data)
    if digit is not None:
        return digit, None
    return None, "the picture is blank (no ink to find)" if note.reason.startswith("blank") else note.reason


def _on_drawing() -> None:
    """Registered so "drawing" is a known state key; its value is read in `draw_digit_ui`."""


def _input_ui() -> np.ndarray | None:
    source = st.radio("Your digit", SOURCES, key=SOURCE_KEY, horizontal=True,
                      help="Draw with the mouse or a finger, or upload a photo or scan of one digit.")
    if source == SOURCES[0]:
        st.caption("Draw one digit, large, in the middle. It is fitted into MNIST's 20 x 20 box when you let go.")
        _component(key=CANVAS_KEY, data={"size": 280, "brush": 0.09}, on_drawing_change=_on_drawing)
        try:
            drawing = st.session_state[CANVAS_KEY].get("drawing")
        except (KeyError, AttributeError):
            drawing = None
        return digit_from_drawing(drawing)
    upload = st.file_uploader("One image of a digit (PNG, JPEG, BMP or GIF)", type=UPLOAD_TYPES, key=UPLOAD_KEY)
    if upload is None:
        return None
    cached = st.session_state.get(UPLOAD_DIGIT_KEY)
    if cached is None or cached[0] != upload.file_id:  # once per upload: each reading starts a parsing child
        cached = (upload.file_id, *digit_from_upload(upload.getvalue()))
        st.session_state[UPLOAD_DIGIT_KEY] = cached
    _, digit, reason = cached
    if digit is None:
        st.warning(f"{upload.name}: {reason}. Try another picture of one digit.")
    return digit


def _reading(probabilities: np.ndarray) -> str:
    digit = int(np.argmax(probabilities))
    return f"reads **{digit}** ({float(probabilities[digit]):.0%} sure)"


def _project(model, digit: np.ndarray) -> dict | None:
    """The projection report, with a progress bar moving between the worker's chunks."""
    bar = st.progress(0.0, text="Finding your digit in the latent space...")
    report, state = None, None
    try:
        while report is None or not report["done"]:
            report = model.project(digit[None], state, CHUNK_STEPS)
            state = report["state"]
            if report["steps"]:
                bar.progress(report["step"] / report["steps"],
                             text=f"Finding your digit: step {report['step']} of {report['steps']}")
    except (RuntimeError, ValueError) as exc:  # EngineError (a RuntimeError) carries a message for the page
        st.error(f"Could not project the digit: {exc}")
        return None
    finally:
        bar.empty()
    return report


def apply_projection(report: dict) -> None:
    """Make the projected z the page's z (and the cGAN's label its digit), as a link would bring it back."""
    z = np.asarray(report["z"][0], np.float32)
    base = st.session_state.get("explore_base_z")
    st.session_state["explore_z"] = share.canonical_z(z, base) if base is not None and base.shape == z.shape else z
    if report.get("labels") is not None:
        st.session_state["explore_label"] = int(report["labels"][0])


def _result_ui(loaded, digit: np.ndarray, report: dict) -> None:
    drawn_col, found_col, words_col = st.columns([1, 1, 2])
    drawn_col.image(to_png(digit, scale=DIGIT_SCALE), caption="Your digit (MNIST form)", output_format="PNG")
    found_col.image(to_png(report["images"][0], scale=DIGIT_SCALE), caption="Its projection", output_format="PNG")
    with words_col:
        lines = [f"**Distance**: mean pixel difference {float(report['pixel_error'][0]):.3f} (0 = identical, "
                 f"1 = opposite)."]
        if "input_probabilities" in report:
            lines.append(f"**Classifier**: your digit {_reading(report['input_probabilities'][0])}; the projection "
                         f"{_reading(report['projection_probabilities'][0])}.")
        if report.get("labels") is not None:
            lines.append(f"The conditional GAN draws it as a **{int(report['labels'][0])}** (the digit picker below "
                         f"is set to it).")
        how = ("its encoder" if loaded.config.model in ("ae", "vae") else
               f"{report['step']} Adam steps from {report['settings']['restarts']} random starts")
        lines.append(f"Found with {how}. The sliders below now start from this z, and the address bar holds it.")
        st.markdown("  \n".join(lines))
    _walk_ui(loaded, report)


def _walk_ui(loaded, report: dict) -> None:
    """Your digit -> the seed's digit along the sphere: "my 7 -> a 1" by picking a seed that draws a 1."""
    base = st.session_state.get("explore_base_z")
    start = np.asarray(report["z"][0], np.float32)
    if base is None or np.shape(base) != start.shape:
        return
    labels = report.get("labels")
    frames = loaded.model.generate(latent.interpolate(start, base, WALK_STEPS, "slerp"),
                                   labels=None if labels is None else int(labels[0]))
    seed = int(st.session_state.get("explore_seed", 0))
    st.image(grid_png(frames, columns=WALK_STEPS, scale=2), output_format="PNG",
             caption=f"A walk (slerp) from your digit's z to the z of seed {seed}: change the seed below to choose "
                     "where it ends.")


def draw_digit_ui(loaded) -> None:
    """Draw or upload a digit and project it; call before the page's sliders and digit picker are drawn."""
    earlier = st.session_state.get(RESULT_KEY)
    with st.expander("Start from your own digit: draw one, find it in the latent space",
                     expanded=earlier is not None):
        digit = _input_ui()
        pressed = st.button("Find it in the latent space", key="explore_draw_project", type="primary",
                            icon=":material/travel_explore:", disabled=digit is None,
                            help="Autoencoders use their encoder; GANs search for the z whose picture is closest "
                                 "(pixels and the digit classifier's features).")
        if pressed and digit is not None:
            report = _project(loaded.model, digit)
            if report is not None:
                report = {name: value for name, value in report.items() if name != "state"}
                st.session_state[RESULT_KEY] = earlier = {"model_key": loaded.key, "digit": digit, "report": report}
                apply_projection(report)
        if earlier is not None and earlier["model_key"] == loaded.key:
            _result_ui(loaded, earlier["digit"], earlier["report"])
        elif earlier is not None:
            st.caption("Your last projection was made with another model: press the button to project it here.")
