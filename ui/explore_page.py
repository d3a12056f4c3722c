"""Explore page: hold a latent vector z in your hands, interpolate, do arithmetic; per model, its own maps.

Every shipped model draws here. A conditional GAN adds a digit picker and a walk between classes at fixed z;
a 2-D VAE adds the manifold grid beside a scatter of encoded real digits; autoencoders add reconstructions and
samples from the prior beside samples from where the encoder really puts digits.

One view is drawn at a time (a choice, not st.tabs, which would compute every tab on every rerun). The page's
state lives in the URL (gan_core.explore_link: model, seed, the moved values of z, view, rendering, the cGAN's
digit, the projected drawing): the page reads a link it has not written itself once, then writes its state
back after every change, so the address bar always reopens the digit on screen.

"Your drawing" (ui/draw_digit.py: a digit drawn or uploaded, projected into the latent space) is a point every
view offers by that name: the sliders start from it (it is their base: Reset comes back to it, a seed leaves
it), Interpolate and Arithmetic take it as an operand (chosen by default once it exists), the cGAN's walk
between classes starts at its digit, the 2-D VAE's map marks it, the autoencoders decode it beside the drawing.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from gan_core import explore_link, latent, maps
from gan_core.images import grid_png, png_data_uri, to_gif, to_png
from ui import catalog, draw_digit, latent_sliders, state, train_text

LOG = logging.getLogger(__name__)

SOURCES = ("Pretrained", "This session's model")
MODES = ("Server", "Instant (in-browser)")
SLIDER_RANGE = 3.0
SLIDER_STEP = 0.05
DEFAULT_DIMS = 6
NEIGHBOURS = 8
NEIGHBOUR_SCALE = 0.3
GRID_COUNT = 16
DIGIT_SCALE = 10  # 28 px -> 280 px, nearest neighbour
REAL_DATASET = "mnist-sample"  # real digits to encode, reconstruct and scatter
MANIFOLD_SIZE = 20  # the 2-D VAE's grid: 20 x 20 decoded points of the latent plane
MANIFOLD_QUANTILES = (0.05, 0.95)  # the grid spans these prior probabilities on each axis
SCATTER_COUNT = 2000
RECONSTRUCTION_COUNT = 10
SAMPLE_COUNT = 16
# Widgets whose value survives a visit to another page, with their first values.
KEPT_WIDGETS = {"explore_source": SOURCES[0], "explore_model": "gan", "explore_mode": MODES[0], "explore_seed": 0,
                "explore_dims": list(range(DEFAULT_DIMS)), "explore_label": 0, "explore_view": "Latent sliders"}
MAX_SLIDERS = 12
# The views (label -> the word a link uses); which ones a model offers is decided in views_for.
VIEW_WORDS = {"Latent sliders": "sliders", "Between classes": "classes", "Latent map": "map",
              "Encode and decode": "encode", "Interpolate": "interpolate", "Arithmetic": "arithmetic"}
# The link parameter sets this page wrote to the URL lately, newest last. Not only the newest: a click sent while the
# browser had not yet received the newest carries the one before, which is ours too, not a link to apply (applying
# it undid the click: the view picked went back to the one in that URL).
LINKS_WRITTEN_KEY = "_explore_links_written"
LINKS_REMEMBERED = 8
LINK_PENDING_KEY = "_explore_link_pending"  # (seed or None, moved z values, drawn z values or None) from a link,
# applied once the model is known; no seed with a drawing means the sliders start from the drawing
# The dimensions picker: "explore_dims" holds the choice; the widget itself gets a fresh key (a generation)
# whenever it comes back after a view or model change. The browser keeps a widget's last value by its key and,
# for a multiselect that was off the page, showed it empty over the server's value (then sent that empty choice
# back on the next click); a new key has no stale value in the browser to show. Its value is also sent on every
# run (sliders_ui), for a run that was interrupted before the picker reached the browser.
DIMS_GENERATION_KEY = "_explore_dims_generation"
SLIDERS_KEY = "explore_sliders"  # the server-mode sliders component (ui/latent_sliders.py)


def main() -> None:
    st.title("Explore the latent space")
    st.write("Every digit the generator draws comes from a vector z of random numbers. Change z and watch the "
             "digit change: nearby vectors give similar digits, which is what makes the space worth exploring.")
    state.keep_widgets(KEPT_WIDGETS)
    ignored = read_link()
    loaded = source_ui()
    if loaded is not None:
        prepare_latent_state(loaded)
        ignored += apply_link_z(loaded)
    if ignored:
        st.caption("Ignored from the link (the rest of it applies): " + "; ".join(ignored) + ".")
    if loaded is None:
        st.session_state.pop(LINK_PENDING_KEY, None)
        return
    draw_digit.draw_digit_ui(loaded)  # before the widgets it may set: z (the sliders) and the cGAN's digit
    if loaded.config.model == "cgan":
        st.radio("Digit to draw", list(range(10)), key="explore_label", horizontal=True,
                 help="The conditional GAN draws the digit you ask for; z then only decides its style.")
    views = views_for(loaded)
    if st.session_state.get("explore_view") not in views:
        st.session_state["explore_view"] = "Latent sliders"
    choice = st.segmented_control("View", list(views), key="explore_view", required=True,
                                  on_change=_renew_dims_widget,
                                  help="Only the view you pick is computed; each model adds its own.")
    views[choice or "Latent sliders"](loaded)
    write_link(loaded)


def views_for(loaded: state.LoadedModel) -> dict:
    views = {"Latent sliders": sliders_ui}
    if loaded.config.model == "cgan":
        views["Between classes"] = classes_ui
    if loaded.config.model == "vae" and loaded.config.latent_dim == 2:
        views["Latent map"] = latent_map_ui
    if loaded.config.model in ("ae", "vae"):
        views["Encode and decode"] = encode_decode_ui
    views.update({"Interpolate": interpolate_ui, "Arithmetic": arithmetic_ui})
    return views


# ---- the page's state in the URL (gan_core.explore_link) ------------------------------------------------------
def _link_in_url() -> dict[str, str]:
    return {name: st.query_params.get(name) for name in explore_link.PARAMS if name in st.query_params}


def read_link() -> list[str]:
    """Apply a link the page did not write itself (a shared one, a reload) to the widgets before they are drawn.

    Returns what was ignored, each named by its parameter. z waits (LINK_PENDING_KEY) until the model is known.
    """
    found = _link_in_url()
    if not found or (found in st.session_state.get(LINKS_WRITTEN_KEY, ()) and not _history_navigation()):
        return []
    _remember_written(found)  # read once: a link that fails to apply is not retried each run
    models = [shipped.name for shipped in catalog.SHIPPED] + [catalog.SESSION]
    request = explore_link.parse_params(found, models, list(VIEW_WORDS.values()))
    if request.model is not None:
        st.session_state["explore_model"] = request.model
        _on_model()
    if request.seed is not None:
        st.session_state["explore_seed"] = request.seed
    if any(value is not None for value in (request.seed, request.z_moves, request.model, request.drawn)):
        from_drawing = request.seed is None and request.drawn is not None
        seed = None if from_drawing else int(st.session_state.get("explore_seed", 0))
        st.session_state[LINK_PENDING_KEY] = (seed, request.z_moves or {}, request.drawn)
    if request.view is not None:
        st.session_state["explore_view"] = next(label for label, word in VIEW_WORDS.items() if word == request.view)
    if request.mode is not None:
        st.session_state["explore_mode"] = request.mode
    if request.label is not None:
        st.session_state["explore_label"] = request.label
    return request.ignored


def apply_link_z(loaded: state.LoadedModel) -> list[str]:
    """The link's z: its base (the seed's z, or the drawing's) with the moved values set; moved dimensions get
    sliders. A drawing in the link becomes "your drawing" whether or not the sliders start from it."""
    pending = st.session_state.pop(LINK_PENDING_KEY, None)
    if pending is None:
        return []
    seed, moves, drawn = pending
    latent_dim = loaded.config.latent_dim
    ignored = []
    point = None if drawn is None else explore_link.point_from_moves(drawn, latent_dim)
    if drawn is not None and point is None:
        ignored.append(f"`drawn` (a z of another length than this model's {latent_dim})")
    if point is not None:
        draw_digit.set_drawing(point, _label(loaded), loaded.key)  # the base, unless the link names a seed
    if point is None or seed is not None:
        seed = int(st.session_state.get("explore_seed", 0)) if seed is None else seed  # None: a drawing not used
        base = latent.sample_z(1, latent_dim, seed)[0]
        st.session_state[draw_digit.FROM_DRAWING_KEY] = False
        _set_z(base, base=True)
    z, outside = explore_link.apply_z_moves(st.session_state["explore_base_z"], moves)
    _set_z(z)
    moved = sorted(dim for dim in moves if dim < latent_dim)
    if moved:
        kept = [dim for dim in st.session_state["explore_dims"] if dim not in moved]
        st.session_state["explore_dims"] = sorted((moved + kept)[:MAX_SLIDERS])
        _renew_dims_widget()
    if outside:
        ignored.append(f"`z` values for {len(outside)} dimension(s) this model does not have (its z has {latent_dim})")
    return ignored


def link_params(loaded: state.LoadedModel) -> dict[str, str]:
    """The page's state as link parameters; defaults (no moves, the sliders view, server rendering) left out."""
    params = {"model": str(st.session_state["explore_model"])}
    drawing = draw_digit.drawing_for(loaded)
    if drawing is not None:
        params["drawn"] = explore_link.encode_point(drawing["z"])
    if drawing is None or not _from_drawing():
        params["seed"] = str(int(st.session_state["explore_seed"]))
    moves = explore_link.encode_z(_z(), st.session_state["explore_base_z"])
    if moves:
        params["z"] = moves
    view = VIEW_WORDS.get(st.session_state.get("explore_view"), "sliders")
    if view != "sliders":
        params["view"] = view
    if st.session_state.get("explore_mode") == MODES[1]:
        params["mode"] = "instant"
    if loaded.config.model == "cgan":
        params["label"] = str(_label(loaded))
    return params


def _remember_written(params: dict[str, str]) -> None:
    written = [link for link in st.session_state.get(LINKS_WRITTEN_KEY, ()) if link != params]
    st.session_state[LINKS_WRITTEN_KEY] = (written + [params])[-LINKS_REMEMBERED:]


def _history_navigation() -> bool:
    """Whether this run follows the browser's Back or Forward: then an earlier link of ours is the one wanted."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return bool(getattr(get_script_run_ctx(), "is_history_navigation", False))


def write_link(loaded: state.LoadedModel) -> dict[str, str]:
    """Put the page's state in the URL when it changed, in one message, and remember it as written by us.

    One message: a run is interrupted (by the next click) only where it sends one, so the browser's URL is either
    the one before or this one, never a mix of the two that the next run would take for a link to apply."""
    params = link_params(loaded)
    _remember_written(params)
    if _link_in_url() != params:
        others = {name: st.query_params.get_all(name) for name in st.query_params if name not in explore_link.PARAMS}
        st.query_params.from_dict({**others, **params})
    return params


def link_url(params: dict[str, str]) -> str:
    """The whole link when the browser told us the page's address (st.context.url), else its query part."""
    others = {name: st.query_params.get(name) for name in st.query_params if name not in explore_link.PARAMS}
    query = urlencode({**others, **params}, safe="_~")  # others: e.g. a live-view token the page was opened with
    try:
        page = st.context.url
    except Exception:  # outside a browser session (a test without a context)
        page = None
    return f"{page}?{query}" if page else f"?{query}"


def share_ui(loaded: state.LoadedModel, png: bytes) -> None:
    """The link to this very digit, and the digit (its PNG as shown) and its z to download."""
    url = link_url(write_link(loaded))  # the address bar follows every move, open or not
    # Drawn only while open: closed, a slider move sends no link and no download buttons (a fifth of its cost in
    # the browser); opening it reruns this fragment, so what it shows is always the digit on screen.
    with st.expander("Link and downloads", icon=":material/share:", key="explore_share", on_change="rerun") as box:
        if not box.open:
            return
        st.code(url, language=None, wrap_lines=True)
        st.caption("Copy it with the button at the code's top right: the link reopens this digit (model, seed, "
                   "moved sliders, view, rendering" + (", digit" if loaded.config.model == "cgan" else "") + ")." +
                   (" A trained model lives only in this browser session, so someone else opening it sees "
                    "nothing trained." if st.session_state["explore_model"] == catalog.SESSION else ""))
        downloads_ui(loaded, png)


def _file_stem() -> str:
    name = str(st.session_state["explore_model"])
    start = "drawing" if _from_drawing() else f"seed{int(st.session_state['explore_seed'])}"
    return f"{name if name in catalog.BY_NAME else 'session'}-{start}"


def downloads_ui(loaded: state.LoadedModel, png: bytes) -> None:
    z, stem = _z(), _file_stem()
    png_col, json_col, npy_col = st.columns(3)
    png_col.download_button("PNG", png, file_name=f"{stem}.png",
                            mime="image/png", key="explore_download_png", icon=":material/download:",
                            on_click="ignore", width="stretch", help="The digit as shown (280 x 280 pixels).")
    seed = None if _from_drawing() else int(st.session_state["explore_seed"])
    json_col.download_button("z", explore_link.z_json_bytes(z, stem.rsplit("-", 1)[0], seed, _label(loaded)),
                             file_name=f"{stem}-z.json", mime="application/json", key="explore_download_json",
                             icon=":material/data_object:", on_click="ignore", width="stretch",
                             help="z as JSON, with the model and the seed (or your drawing) it started from.")
    npy_col.download_button(".npy", explore_link.z_npy_bytes(z), file_name=f"{stem}-z.npy",
                            mime="application/octet-stream", key="explore_download_npy",
                            icon=":material/download:", on_click="ignore", width="stretch",
                            help="z as a NumPy file: np.load(path) gives it back (float32; no pickle).")


# ---- which model ------------------------------------------------------------------------------
def _on_source() -> None:
    """The radio and the picker say the same thing: picking a source moves the picker along."""
    _renew_dims_widget()
    if st.session_state["explore_source"] == SOURCES[1]:
        st.session_state["explore_model"] = catalog.SESSION
    elif st.session_state["explore_model"] == catalog.SESSION:
        st.session_state["explore_model"] = st.session_state.get("explore_last_shipped", "gan")


def _renew_dims_widget() -> None:
    st.session_state[DIMS_GENERATION_KEY] = st.session_state.get(DIMS_GENERATION_KEY, 0) + 1


def _dims_widget_key() -> str:
    return f"explore_dims_picker_{st.session_state.get(DIMS_GENERATION_KEY, 0)}"


def _on_dims() -> None:
    st.session_state["explore_dims"] = list(st.session_state[_dims_widget_key()])


def _on_model() -> None:
    _renew_dims_widget()
    choice = st.session_state["explore_model"]
    st.session_state["explore_source"] = SOURCES[1] if choice == catalog.SESSION else SOURCES[0]
    if choice != catalog.SESSION:
        st.session_state["explore_last_shipped"] = choice


def _model_label(name: str) -> str:
    return "This session's model" if name == catalog.SESSION else catalog.BY_NAME[name].label


def source_ui() -> state.LoadedModel | None:
    present, missing = catalog.available()
    # The documented GAN stays listed even without weights, so its absence is explained rather than hidden.
    names = ["gan"] + [s.name for s in present if s.name != "gan"] + [catalog.SESSION]
    if st.session_state["explore_model"] not in names:
        st.session_state["explore_model"] = "gan"
    if (st.session_state["explore_source"] == SOURCES[1]) != (st.session_state["explore_model"] == catalog.SESSION):
        _on_source()  # the radio was set on its own (a kept value, a test): it wins
    source_col, model_col = st.columns([2, 3], vertical_alignment="bottom")
    source = source_col.radio("Weights", SOURCES, key="explore_source", horizontal=True, on_change=_on_source,
                              help="Pretrained models ship with the app; 'This session's model' is a private copy "
                                   "of the one you trained on the Train page.")
    name = model_col.selectbox("Model", names, key="explore_model", format_func=_model_label, on_change=_on_model,
                               help="Every shipped model draws here; each kind adds its own tab.")
    if missing:
        st.caption(catalog.missing_note(missing))
    if source == SOURCES[0]:
        loaded, message = catalog.load(name)
        if loaded is None:
            st.warning(message)
        else:
            st.caption(f"**{loaded.label}**: {catalog.BY_NAME[name].description}")
        return loaded
    run = state.current_run()
    if run is None or state.training_step(run) == 0:
        st.info("Nothing has been trained in this session yet. Start a training on the **Train** page (a few hundred "
                "steps already draw blurry digits), then come back here.")
        return None
    refresh = st.button("Refresh from training", key="explore_refresh", icon=":material/refresh:",
                        help="Copy the newest weights from the training; until then the picture stays still.")
    try:
        loaded = state.session_model(refresh=refresh)
    except (ValueError, RuntimeError) as exc:
        LOG.warning("copying the session's model failed: %s", exc)
        st.error("Could not copy the trained model. Press Refresh from training to try again; if training has "
                 "stopped, press Resume on the Train page first.")
        return None
    st.caption(train_text.copy_caption(loaded.key, state.training_step(run)))
    return loaded


# ---- the latent vector z in session state -----------------------------------------------------
def prepare_latent_state(loaded: state.LoadedModel) -> None:
    """Keep z and the chosen dimensions consistent with the model on screen."""
    latent_dim = loaded.config.latent_dim
    z = st.session_state.get("explore_z")
    if z is None or z.shape != (latent_dim,):
        st.session_state["explore_z"] = latent.sample_z(1, latent_dim, int(st.session_state.get("explore_seed", 0)))[0]
        st.session_state["explore_base_z"] = st.session_state["explore_z"].copy()
    if _from_drawing() and draw_digit.drawing_for(loaded) is None:  # the drawing was found with other weights
        st.session_state[draw_digit.FROM_DRAWING_KEY] = False
        _set_z(latent.sample_z(1, latent_dim, int(st.session_state.get("explore_seed", 0)))[0], base=True)
    dims = st.session_state.get("explore_dims")
    if dims is None or any(d >= latent_dim for d in dims):
        st.session_state["explore_dims"] = list(range(min(DEFAULT_DIMS, latent_dim)))
        _renew_dims_widget()
    st.session_state["explore_latent_dim"] = latent_dim


def _z() -> np.ndarray:
    return st.session_state["explore_z"]


def _from_drawing() -> bool:
    """Whether the sliders' base z is the drawing's (after a projection, or a link with `drawn` and no seed)."""
    return bool(st.session_state.get(draw_digit.FROM_DRAWING_KEY))


def _z_name() -> str:
    """What z on screen is, in words: your drawing or a seed's z, and whether the sliders moved it."""
    start = draw_digit.DRAWING_NAME if _from_drawing() else f"seed {int(st.session_state['explore_seed'])}"
    return start if np.array_equal(_z(), st.session_state["explore_base_z"]) else f"{start}, moved"


def _set_z(z: np.ndarray, *, base: bool = False) -> None:
    """Set z; moved values are kept at the link's precision, so a copied link reopens this very digit."""
    z = np.asarray(z, np.float32)
    base_z = st.session_state.get("explore_base_z")
    if not base and base_z is not None and base_z.shape == z.shape:
        z = explore_link.canonical_z(z, base_z)
    st.session_state["explore_z"] = z
    if base:
        st.session_state["explore_base_z"] = st.session_state["explore_z"].copy()


def _on_seed() -> None:
    seed = int(st.session_state["explore_seed"])
    st.session_state[draw_digit.FROM_DRAWING_KEY] = False  # the drawing stays an operand of the other views
    _set_z(latent.sample_z(1, st.session_state["explore_latent_dim"], seed)[0], base=True)


def _on_new_z() -> None:
    st.session_state["explore_seed"] = int(np.random.default_rng().integers(0, 100_000))
    _on_seed()


def _on_to_drawing() -> None:
    drawing = st.session_state[draw_digit.DRAWING_KEY]
    draw_digit.set_drawing(drawing["z"], drawing["label"], drawing["model_key"])
    if drawing["label"] is not None:
        st.session_state["explore_label"] = drawing["label"]


def _on_reset() -> None:
    _set_z(st.session_state["explore_base_z"])


def _apply_slider_moves(loaded: state.LoadedModel) -> None:
    """Apply the sliders' moves from the browser, in order: a raw dimension sets z[dim]; a principal direction
    sets z's coordinate along it (which moves every value of z a little)."""
    latent_dim = loaded.config.latent_dim
    directions = loaded.directions.directions if loaded.directions is not None else None
    for move in latent_sliders.new_moves(SLIDERS_KEY):
        kind, _, index = move.id.partition("_")
        if not index.isdigit() or not np.isfinite(move.value):
            continue
        index, value = int(index), float(np.clip(move.value, -SLIDER_RANGE, SLIDER_RANGE))
        if kind == "z" and index < latent_dim:
            z = _z().copy()
            z[index] = value
            _set_z(z)
        elif kind == "pc" and directions is not None and index < len(directions):
            _set_z(latent.set_coordinate(_z(), directions[index], value))


def _slider_value(value: float) -> float:
    """z's value as a slider shows it: clipped to the range and on the slider's step grid."""
    return round(round(float(np.clip(value, -SLIDER_RANGE, SLIDER_RANGE)) / SLIDER_STEP) * SLIDER_STEP, 2)


def _slider_groups(loaded: state.LoadedModel, dims: list[int]) -> list[dict]:
    """The sliders mirror z (the truth): raw dimensions on the left, principal directions (coordinates of all
    of z, so any move changes them) on the right."""
    z = _z()
    groups = [{"title": "Raw dimensions of z", "caption": "",
               "sliders": [{"id": f"z_{dim}", "label": f"z[{dim}]", "value": _slider_value(z[dim])} for dim in dims]}]
    if loaded.directions is None:
        caption = ("With a 2-D latent the sliders on the left already hold the whole space; the Latent map tab "
                   "draws all of it." if loaded.config.latent_dim <= 2 else "Not computed for this model.")
        groups.append({"title": "Principal directions", "caption": caption, "sliders": []})
        return groups
    coordinates = latent.coordinates(z, loaded.directions.directions)
    shares = loaded.directions.explained_variance
    groups.append({
        "title": "Principal directions",
        "caption": "GANSpace: we generate thousands of digits, find the main ways they differ (PCA of the images), "
                   "and map each one back to a direction in z, so one slider moves one visible trait. Each one's "
                   "share of the variation is beside its number.",
        "sliders": [{"id": f"pc_{index}", "label": f"direction {index + 1} · {shares[index]:.0%}",
                     "value": _slider_value(coordinates[index])} for index in range(len(shares))]})
    return groups


def _label(loaded: state.LoadedModel) -> int | None:
    """The class a conditional GAN is asked to draw; None for every other model."""
    return int(st.session_state.get("explore_label", 0)) if loaded.config.model == "cgan" else None


def _generate(loaded: state.LoadedModel, z: np.ndarray) -> np.ndarray:
    return loaded.model.generate(z, labels=_label(loaded))


# ---- tab 1: sliders ---------------------------------------------------------------------------
@st.fragment
def sliders_ui(loaded: state.LoadedModel) -> None:
    """A fragment: the rendering choice, seed, buttons and dimensions picker; below it the digit and its sliders.

    A change here reruns this tab, not the other views. The digit and the sliders are a fragment of their own
    inside it (digit_and_sliders_ui), so a slider move reruns just those, not the seed, buttons and picker.
    """
    # Every sampler of the family runs in the browser (gan_core/browser_export.py names their layers).
    controls, picture = st.columns([3, 2], gap="large")
    with picture:
        mode = st.radio("Rendering", MODES, key="explore_mode", horizontal=True,
                        help="Server: each slider move asks the server for the digit (the reference). Instant: the "
                             "generator runs in your browser, so the digit follows the slider as you drag.")
    instant_generator = _instant_component() if mode == MODES[1] else None
    with controls:
        seed_col, new_col, reset_col = st.columns([3, 3, 2], vertical_alignment="bottom")
        seed_col.number_input("Seed of z", 0, 2**31 - 1, key="explore_seed", on_change=_on_seed,
                              help="The same seed always gives the same z, so you can come back to a digit.")
        new_col.button("New random z", key="explore_new_z", icon=":material/casino:", on_click=_on_new_z)
        reset_col.button("Reset", key="explore_reset", icon=":material/undo:", on_click=_on_reset,
                         help="Back to where z started (this seed's z, or your drawing's), undoing the slider moves.")
        _start_ui(loaded)
        picker = _dims_widget_key()
        # Told to the browser on every run, not only when it changed: a run interrupted by a rerun just as it
        # sent the picker never reached the browser, and the next run (the value unchanged) would send the picker
        # without it, so the browser showed it empty and sent that empty choice back on the next click.
        st.session_state[picker] = list(st.session_state["explore_dims"])
        dims = st.multiselect("Dimensions of z to show as sliders", list(range(loaded.config.latent_dim)),
                              key=picker, max_selections=MAX_SLIDERS, on_change=_on_dims,
                              help=f"z has {loaded.config.latent_dim} numbers; pick the ones you want to hold.")
    if instant_generator is not None and _instant_ui(instant_generator, loaded, dims, picture):
        with picture:
            share_ui(loaded, _digit_png(_generate(loaded, _z()[None])[0]))  # z as of the last slider release
        return
    digit_and_sliders_ui(loaded, dims)


@st.fragment
def digit_and_sliders_ui(loaded: state.LoadedModel, dims: list[int]) -> None:
    """A fragment inside sliders_ui: a slider move redraws the digit, its neighbours and the sliders, nothing else.

    The sliders, the digit and its neighbours are one component (ui/latent_sliders.py): a move re-renders one
    element in the browser. The server draws every picture, so this is the reference for instant mode.
    """
    _apply_slider_moves(loaded)
    z = _z()
    image = _generate(loaded, z[None])[0]
    png = _digit_png(image)
    nearby = _generate(loaded, latent.neighbours(z, NEIGHBOURS, NEIGHBOUR_SCALE, seed=1))
    neighbours_png = grid_png(nearby, columns=NEIGHBOURS // 2, scale=2)
    size = 28 * DIGIT_SCALE
    latent_dim = loaded.config.latent_dim
    latent_sliders.latent_sliders(
        SLIDERS_KEY, _slider_groups(loaded, dims), slider_range=SLIDER_RANGE, step=SLIDER_STEP,
        digit={"src": png_data_uri(png), "size": size, "alt": f"The digit the model draws at z ({_z_name()})"},
        caption=[{"text": "z: "}, {"text": _z_name(), "strong": True},
                 {"text": f". {_judgement(loaded, image)}  "},
                 {"text": f"|z| = {np.linalg.norm(z):.1f}",
                  "title": f"|z| is the length of z. Random z of {latent_dim} numbers has a length near "
                           f"√{latent_dim} ≈ {np.sqrt(latent_dim):.1f}, the size the generator saw in training; "
                           f"far longer or shorter z tends to give odd digits."}],
        neighbours={"src": png_data_uri(neighbours_png), "width": size,
                    "caption": f"Neighbours: z plus small noise (scale {NEIGHBOUR_SCALE}). Similar digits here mean "
                               f"a smooth space."})
    share_ui(loaded, png)


def _start_ui(loaded: state.LoadedModel) -> None:
    """Where z starts (your drawing or the seed), and the way back to the drawing once a seed took over."""
    drawing = draw_digit.drawing_for(loaded)
    if drawing is None:
        return
    words_col, button_col = st.columns([5, 3], vertical_alignment="center")
    if _from_drawing():
        traits = (" The principal directions move it by a trait: \"my 3, thicker\"."
                  if loaded.directions is not None else "")
        words_col.caption(f"z starts from **{draw_digit.DRAWING_NAME}** (its projection); Reset comes back to it, "
                          f"a seed leaves it.{traits}")
    else:
        words_col.caption(f"z starts from seed {int(st.session_state['explore_seed'])}; "
                          f"{draw_digit.DRAWING_NAME} is kept for the other views.")
    button_col.button("Back to your drawing", key="explore_to_drawing", icon=":material/draw:",
                      on_click=_on_to_drawing,  # never disabled: a slider move reruns only the digit's fragment
                      help="z becomes your drawing's projected z again.")


def _instant_component():
    """The in-browser generator component, or None (after saying so) where this build lacks it."""
    try:
        from ui.instant import instant_generator
    except ImportError:
        st.info("Instant mode is not available in this version of the app yet; showing Server rendering.")
        return None
    return instant_generator


def _instant_ui(instant_generator, loaded: state.LoadedModel, dims: list[int], picture) -> bool:
    """Draw the in-browser sliders and digit; False (after saying why) when the component fails."""
    picture.caption("Instant mode: the generator runs in your browser below, so the digit follows the sliders "
                    "while you drag. Seed, New random z and Reset still work from here.")
    try:
        z = instant_generator(loaded.model, _z(), dims, key="explore_instant",
                              slider_range=SLIDER_RANGE, size_px=28 * DIGIT_SCALE, label=_label(loaded))
    except Exception:  # a component failure must not take the page down
        LOG.exception("instant mode failed")
        st.error("Instant mode could not start in this browser. Switch Rendering to Server.")
        return False
    # Take the browser's z only when it changed there: an unchanged (stale) answer must not undo a new seed.
    previous = st.session_state.get("explore_instant_last")
    if z is not None and np.shape(z) == _z().shape:
        z = np.asarray(z, np.float32)
        if previous is None or previous.shape != z.shape or not np.array_equal(previous, z):
            _set_z(z)
        st.session_state["explore_instant_last"] = z
    return True


def _digit_png(image: np.ndarray) -> bytes:
    return to_png(image, scale=DIGIT_SCALE)


def _judgement(loaded: state.LoadedModel, image: np.ndarray) -> str:
    if not loaded.config.is_adversarial:
        return "The decoder's picture of z (an autoencoder has no discriminator to judge it)."
    score = float(loaded.model.probability(image[None], labels=_label(loaded))[0])
    if loaded.model.scores_are_probabilities:
        return f"D(x) = {score:.2f}: how real the discriminator finds this digit."
    return f"Critic score {score:.2f}: higher looks more real to the critic (a raw score, not a probability)."


# ---- a numbered grid of samples to pick from ------------------------------------------------
def sample_grid_ui(loaded: state.LoadedModel, key: str) -> np.ndarray:
    """A numbered 4x4 grid of samples; returns their latent vectors (16, latent_dim)."""
    seed = st.number_input("Seed of the sample grid", 0, 2**31 - 1, 7, key=key,
                           help="Change it for another 16 digits to pick from.")
    zs = latent.sample_z(GRID_COUNT, loaded.config.latent_dim, int(seed) + 10_000)
    images = _generate(loaded, zs)
    for row in range(4):
        for col, cell in enumerate(st.columns(4)):
            number = row * 4 + col
            cell.image(to_png(images[number], scale=3), caption=f"#{number + 1}", output_format="PNG")
    return zs


DRAWING_CHOICE = 0  # in the pickers below: your drawing; 1-16 are the grid's samples


def _numbers(drawing: dict | None = None) -> list[int]:
    return ([DRAWING_CHOICE] if drawing is not None else []) + list(range(1, GRID_COUNT + 1))


def _choice_name(number: int) -> str:
    return draw_digit.DRAWING_NAME if number == DRAWING_CHOICE else f"#{number}"


def _picked(zs: np.ndarray, number: int, drawing: dict | None) -> np.ndarray:
    return drawing["z"] if number == DRAWING_CHOICE else zs[number - 1]


def _picker_key(key: str, drawing: dict | None) -> str:
    """Pickers offering the drawing have keys of their own, so the drawing is picked the first time it appears."""
    return key if drawing is None else f"{key}_drawing"


def drawing_ui(loaded: state.LoadedModel, drawing: dict | None) -> None:
    """The drawing as an operand: as drawn (when drawn in this session) and as the model draws its z."""
    if drawing is None:
        st.caption("Draw or upload a digit above (Start from your own digit) and it joins these pickers as "
                   f"'{draw_digit.DRAWING_NAME}'.")
        return
    drawn = draw_digit.drawn_picture(loaded)
    images = ([drawn] if drawn is not None else []) + [_generate(loaded, drawing["z"][None])[0]]
    st.image(grid_png(np.stack(images), columns=len(images), scale=3), output_format="PNG", width=96 * len(images))
    st.caption(f"{draw_digit.DRAWING_NAME.capitalize()}: " +
               ("as drawn, and its projection" if drawn is not None else "its projection (from the link)"))


# ---- tab 2: interpolation -------------------------------------------------------------------
def interpolate_ui(loaded: state.LoadedModel) -> None:
    st.write("Walk in a straight line (linear) or along the sphere (spherical) from one z to another and draw "
             "every stop. Spherical keeps |z| at the size the generator saw in training, so the middle stays sharp.")
    drawing = draw_digit.drawing_for(loaded)
    picks, result = st.columns([2, 3], gap="large")
    with picks:
        drawing_ui(loaded, drawing)
        zs = sample_grid_ui(loaded, "explore_interp_grid_seed")
        start_col, end_col = st.columns(2)
        numbers = _numbers(drawing)
        start = start_col.selectbox("From", numbers, index=0, key=_picker_key("explore_interp_a", drawing),
                                    format_func=_choice_name)
        end = end_col.selectbox("To", numbers, index=numbers.index(6), key=_picker_key("explore_interp_b", drawing),
                                format_func=_choice_name)
    with result:
        method = st.radio("Path", ("Spherical (slerp)", "Linear (lerp)"), key="explore_interp_method", horizontal=True)
        steps = st.slider("Steps", 3, 16, 8, key="explore_interp_steps")
        path = latent.interpolate(_picked(zs, start, drawing), _picked(zs, end, drawing), steps,
                                  "slerp" if method.startswith("Sph") else "lerp")
        frames = _generate(loaded, path)
        st.image(grid_png(frames, columns=steps, scale=2), output_format="PNG",
                 caption=f"From {_choice_name(start)} to {_choice_name(end)} in {steps} steps")
        gif = to_gif(frames, scale=6, frame_ms=120)
        st.image(gif, caption="The same path, animated (forward and back)")
        ends = "-".join("drawing" if n == DRAWING_CHOICE else str(n) for n in (start, end))
        st.download_button("Download GIF", gif, file_name=f"interpolation-{ends}.gif", mime="image/gif",
                           key="explore_interp_gif", icon=":material/download:", on_click="ignore")


# ---- tab 3: arithmetic ----------------------------------------------------------------------
def arithmetic_ui(loaded: state.LoadedModel) -> None:
    st.write("Vectors can be added: A - B + C asks 'what is to C as A is to B?'. Pick three samples; with a small "
             "unconditional GAN the answer is often a blend rather than a clean analogy, which is itself a lesson. "
             f"With {draw_digit.DRAWING_NAME} as A, a thin digit as B and a thick one as C asks for your digit, "
             "thicker.")
    drawing = draw_digit.drawing_for(loaded)
    picks, result = st.columns([2, 3], gap="large")
    with picks:
        drawing_ui(loaded, drawing)
        zs = sample_grid_ui(loaded, "explore_arith_grid_seed")
    with result:
        a_col, b_col, c_col = st.columns(3)
        numbers = _numbers(drawing)
        a = a_col.selectbox("A", numbers, index=0, key=_picker_key("explore_arith_a", drawing),
                            format_func=_choice_name)
        b = b_col.selectbox("minus B", numbers, index=numbers.index(2), key=_picker_key("explore_arith_b", drawing),
                            format_func=_choice_name)
        c = c_col.selectbox("plus C", numbers, index=numbers.index(3), key=_picker_key("explore_arith_c", drawing),
                            format_func=_choice_name)
        operands = [_picked(zs, number, drawing) for number in (a, b, c)]
        images = _generate(loaded, np.stack([*operands, latent.arithmetic(*operands)]))
        names = (f"A ({_choice_name(a)})", f"B ({_choice_name(b)})", f"C ({_choice_name(c)})", "A - B + C")
        for cell, image, label in zip(st.columns(4), images, names):
            cell.image(to_png(image, scale=4), caption=label, output_format="PNG")


# ---- conditional GAN: between classes -------------------------------------------------------------
def classes_ui(loaded: state.LoadedModel) -> None:
    st.write("Keep z fixed and change only the label: z carries the style (slant, thickness), the label the "
             "class. Below, the label vector walks in a straight line from one digit's one-hot code to another's, "
             "so the middle frames show what the generator draws for a label it never saw: half a 3, half an 8.")
    z, drawing = _z(), draw_digit.drawing_for(loaded)
    st.image(grid_png(loaded.model.generate(np.repeat(z[None], 10, axis=0), labels=np.arange(10)), columns=10,
                      scale=3), output_format="PNG",
             caption=f"Every digit at the z of the Latent sliders view: {_z_name()}.")
    start_col, end_col, steps_col = st.columns(3)
    first = drawing["label"] if drawing is not None and drawing["label"] is not None else 3
    start = start_col.selectbox("From digit", list(range(10)), index=first,
                                key=_picker_key("explore_class_a", drawing),
                                help=f"Starts at the digit {draw_digit.DRAWING_NAME} was read as, once you have one.")
    end = end_col.selectbox("To digit", list(range(10)), index=8, key="explore_class_b")
    steps = steps_col.slider("Steps", 3, 16, 9, key="explore_class_steps")
    frames = loaded.model.generate_soft(np.repeat(z[None], steps, axis=0), maps.label_path(start, end, steps))
    st.image(grid_png(frames, columns=steps, scale=3), output_format="PNG",
             caption=f"From {start} to {end} at the same z ({_z_name()}), the label blended in {steps} steps.")


def _real_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random subset of the real digits and their labels (the dataset is sorted by label)."""
    dataset = state.load_dataset(REAL_DATASET)
    pick = np.random.default_rng(seed).permutation(len(dataset.images))[:count]
    labels = dataset.labels[pick] if dataset.labels is not None else np.zeros(len(pick), int)
    return dataset.images[pick], labels


# ---- 2-D VAE: the whole latent plane ------------------------------------------------------------
def latent_map_ui(loaded: state.LoadedModel) -> None:
    low, high = MANIFOLD_QUANTILES
    st.write(f"A 2-D latent fits on one picture. Left: the decoder's digit at each point of a {MANIFOLD_SIZE} x "
             f"{MANIFOLD_SIZE} grid, spaced by the prior's quantiles ({low:.0%} to {high:.0%} on each axis), so "
             f"every cell holds the same share of N(0, I). Right: where the encoder puts real digits, coloured by "
             f"their label. Same axes: z[0] left to right, z[1] bottom to top.")
    grid_col, scatter_col = st.columns(2, gap="large")
    images = loaded.model.generate(maps.latent_plane_grid(MANIFOLD_SIZE, low, high))
    grid_col.image(grid_png(images, columns=MANIFOLD_SIZE, scale=1), output_format="PNG", width="stretch",
                   caption="The manifold: decoded grid of the latent plane")
    images, labels = _real_digits(SCATTER_COUNT)
    codes = loaded.model.encode(images)
    drawing = draw_digit.drawing_for(loaded)
    with scatter_col:
        chart = _code_scatter(codes, labels, float(maps.normal_quantiles(2, low, high)[1]),
                              None if drawing is None else drawing["z"])
        st.altair_chart(chart, width="stretch")
        st.caption(f"{len(codes):,} real digits encoded (the mean of q(z|x)); the box is the grid on the left." +
                   (f" The black cross is {draw_digit.DRAWING_NAME}." if drawing is not None else ""))


def _code_scatter(codes: np.ndarray, labels: np.ndarray, half_width: float,
                  drawn: np.ndarray | None = None) -> alt.LayerChart:
    # Plain field names: Vega-Lite would read "z[0]" as an index into a field called z.
    points = pd.DataFrame({"z0": codes[:, 0], "z1": codes[:, 1], "digit": labels.astype(str)})
    x_axis, y_axis = dict(title="z[0]"), dict(title="z[1]")
    scatter = alt.Chart(points).mark_circle(size=14, opacity=0.6).encode(
        x=alt.X("z0:Q", **x_axis), y=alt.Y("z1:Q", **y_axis),
        color=alt.Color("digit:N", scale=alt.Scale(scheme="category10")), tooltip=["digit", "z0", "z1"])
    box = alt.Chart(pd.DataFrame({"x": [-half_width], "x2": [half_width], "y": [-half_width], "y2": [half_width]}))
    box = box.mark_rect(fillOpacity=0, stroke="#666", strokeDash=[4, 3]).encode(
        x=alt.X("x:Q", **x_axis), x2="x2", y=alt.Y("y:Q", **y_axis), y2="y2")
    layers = scatter + box
    if drawn is not None:
        mark = pd.DataFrame({"z0": [float(drawn[0])], "z1": [float(drawn[1])], "what": [draw_digit.DRAWING_NAME]})
        layers += alt.Chart(mark).mark_point(shape="cross", size=260, filled=True, color="black").encode(
            x=alt.X("z0:Q", **x_axis), y=alt.Y("z1:Q", **y_axis), tooltip=["what", "z0", "z1"])
    return layers.properties(height=420)


# ---- autoencoders: reconstructions, and sampling the latent space --------------------------------
def encode_decode_ui(loaded: state.LoadedModel) -> None:
    real = _real_digits(RECONSTRUCTION_COUNT, seed=int(st.session_state.get("explore_seed", 0)))[0]
    drawing = draw_digit.drawing_for(loaded)
    if drawing is not None:
        st.markdown(f"**{draw_digit.DRAWING_NAME.capitalize()}**")
        drawing_ui(loaded, drawing)
    st.markdown("**Reconstructions**")
    st.image(grid_png(np.concatenate([real, loaded.model.reconstruct(real)]), columns=len(real), scale=3),
             output_format="PNG", caption="Top: real digits. Bottom: each one encoded to z and decoded back.")
    st.markdown("**Sampling the latent space**")
    codes = loaded.model.encode(_real_digits(SCATTER_COUNT)[0])
    fitted = maps.fit_gaussian(codes)
    seed = int(st.session_state.get("explore_seed", 0))
    prior_col, fitted_col = st.columns(2, gap="large")
    prior_col.image(grid_png(loaded.model.generate(latent.sample_z(SAMPLE_COUNT, loaded.config.latent_dim, seed)),
                             columns=8, scale=2), output_format="PNG", caption="Decoded from z ~ N(0, I)")
    fitted_col.image(grid_png(loaded.model.generate(maps.sample_gaussian(fitted, SAMPLE_COUNT, seed)), columns=8,
                              scale=2), output_format="PNG",
                     caption=f"Decoded from a Gaussian fitted to the codes of {len(codes):,} real digits")
    spread = float(np.sqrt(np.mean(np.diag(fitted.covariance))))
    if loaded.config.model == "ae":
        st.write(f"A plain autoencoder is only trained to reconstruct, so nothing pulls its codes towards N(0, I): "
                 f"they sit in an oddly shaped region of their own (typical spread {spread:.2f} per dimension, "
                 f"against 1 for the prior), and most z drawn from N(0, I) land where the decoder never learned "
                 f"to draw, which gives smudges instead of digits.")
    else:
        st.write(f"The VAE's KL term pulls its codes towards N(0, I) (typical spread {spread:.2f} per dimension, "
                 f"against 1 for the prior), so both sides should look alike: that is what makes a VAE a "
                 f"generator and a plain autoencoder not.")


main()
