"""Your own digit in the latent space: draw (or upload) one, find the z that draws it, explore from there.

Decisions, and why:
- The canvas is an inline component (ui/draw_digit.js): strokes live in the browser, so drawing costs no
  rerun; Python hears the picture once per finished stroke, undo or clear (component state "drawing").
- A drawing or an upload becomes a digit the way uploaded training images do (gan_core.uploads.mnist_form:
  the ink's box fitted into 20 x 20, placed by its centre of mass), so what the model sees is what MNIST is.
- The projection runs in the engine's inference worker (ModelHandle.project; the classifier is convolutional
  and the page holds no TensorFlow), one chunk of Adam steps per request, so a progress bar moves between
  requests. Autoencoders answer in one request (their encoder).
- The result becomes "your drawing" (DRAWING_KEY), set before the sliders are drawn: the sliders' base z (Reset
  comes back to it; a seed leaves it), the principal directions, the operand every view offers (interpolation,
  arithmetic, the cGAN's walk between classes, the 2-D VAE's map, the autoencoders' reconstructions) and the
  link in the address bar (`drawn`, gan_core.explore_link): a copied link reopens the projection.

DOM, inside the component's shadow root (Playwright's CSS selectors and get_by_test_id pierce it):
  [data-testid="draw-digit"]         root; data-strokes (strokes on the canvas), data-sent (pictures sent)
  [data-testid="draw-canvas"]        the canvas (pointer events: mouse, pen or finger)
  [data-testid="draw-undo"], [data-testid="draw-clear"]   the buttons
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from gan_core import explore_link, uploads
from gan_core.images import to_png

CANVAS_KEY = "explore_draw_canvas"
SOURCE_KEY = "explore_draw_source"
UPLOAD_KEY = "explore_draw_upload"
UPLOAD_DIGIT_KEY = "_draw_digit_upload"  # (file id, digit or None, reason or None) of the last upload read
RESULT_KEY = "_explore_projection"  # {"model_key", "digit", "report"} of the last projection
DRAWING_KEY = "explore_drawing"  # {"z", "label", "model_key"}: "your drawing", projected here or from a link
FROM_DRAWING_KEY = "explore_from_drawing"  # True while the sliders' base z is the drawing (not a seed's z)
DRAWING_NAME = "your drawing"  # what every view calls it
SOURCES = ("Draw", "Upload an image")
SEND_SIDE = 112  # what ui/draw_digit.js sends: SEND_SIDE x SEND_SIDE grey levels 0-255
CHUNK_STEPS = 40  # Adam steps per request to the worker: one progress-bar move
DIGIT_SCALE = 6  # 28 px -> 168 px
UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif"]

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


def apply_projection(report: dict, model_key: str) -> None:
    """Make the projected z "your drawing": the page's z and the sliders' base (and the cGAN's label its digit),
    kept at the precision a link brings back."""
    z = explore_link.canonical_point(report["z"][0])
    label = None if report.get("labels") is None else int(report["labels"][0])
    set_drawing(z, label, model_key)
    if label is not None:
        st.session_state["explore_label"] = label


def set_drawing(z: np.ndarray, label: int | None, model_key: str) -> None:
    """Remember the drawing's z (an operand of every view) and start the sliders from it."""
    z = np.asarray(z, np.float32)
    st.session_state[DRAWING_KEY] = {"z": z.copy(), "label": label, "model_key": model_key}
    st.session_state["explore_z"] = z.copy()
    st.session_state["explore_base_z"] = z.copy()
    st.session_state[FROM_DRAWING_KEY] = True


def drawing_for(loaded) -> dict | None:
    """{"z", "label", "model_key"} of the drawing projected with this very model, else None."""
    drawing = st.session_state.get(DRAWING_KEY)
    if drawing is None or drawing["model_key"] != loaded.key or drawing["z"].shape != (loaded.config.latent_dim,):
        return None
    return drawing


def drawn_picture(loaded) -> np.ndarray | None:
    """The digit as drawn (MNIST form) when it was drawn in this session for this model; None from a link."""
    earlier = st.session_state.get(RESULT_KEY)
    if earlier is None or earlier["model_key"] != loaded.key:
        return None
    return earlier["digit"]


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
        lines.append(f"Found with {how}. Every view below now starts from this z, named **your drawing**: the "
                     "sliders and directions move it, Interpolate walks from it to a digit you pick, Arithmetic "
                     "takes it as an operand. The address bar holds it.")
        st.markdown("  \n".join(lines))


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
                apply_projection(report, loaded.key)
        if earlier is not None and earlier["model_key"] == loaded.key:
            _result_ui(loaded, earlier["digit"], earlier["report"])
        elif earlier is not None:
            st.caption("Your last projection was made with another model: press the button to project it here.")
