"""Explore page: hold a latent vector z in your hands, interpolate between digits, do latent arithmetic."""

from __future__ import annotations

import numpy as np
import streamlit as st

from gan_core import latent
from gan_core.images import grid_png, to_gif, to_png
from ui import state

SOURCES = ("Pretrained", "This session's model")
MODES = ("Server", "Instant (in-browser)")
SLIDER_RANGE = 3.0
SLIDER_STEP = 0.05
DEFAULT_DIMS = 6
NEIGHBOURS = 8
NEIGHBOUR_SCALE = 0.3
GRID_COUNT = 16
DIGIT_SCALE = 10  # 28 px -> 280 px, nearest neighbour
# Widgets whose value survives a visit to another page, with their first values.
KEPT_WIDGETS = {"explore_source": SOURCES[0], "explore_mode": MODES[0], "explore_seed": 0,
                "explore_dims": list(range(DEFAULT_DIMS))}


def main() -> None:
    st.title("Explore the latent space")
    st.write("Every digit the generator draws comes from a vector z of random numbers. Change z and watch the "
             "digit change: nearby vectors give similar digits, which is what makes the space worth exploring.")
    state.keep_widgets(KEPT_WIDGETS)
    loaded = source_ui()
    if loaded is not None:
        prepare_latent_state(loaded)
        sliders_tab, interpolate_tab, arithmetic_tab = st.tabs(["Latent sliders", "Interpolate", "Arithmetic"])
        with sliders_tab:
            sliders_ui(loaded)
        with interpolate_tab:
            interpolate_ui(loaded)
        with arithmetic_tab:
            arithmetic_ui(loaded)


# ---- which model ------------------------------------------------------------------------------
def source_ui() -> state.LoadedModel | None:
    source = st.radio("Model", SOURCES, key="explore_source", horizontal=True,
                      help="The pretrained GAN ships with the app; 'This session's model' is a private copy of the "
                           "one you trained on the Train page.")
    if source == SOURCES[0]:
        loaded, message = state.pretrained()
        if loaded is None:
            st.warning(message)
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
        st.error(f"Could not copy the trained model ({exc}). Press Refresh from training to try again.")
        return None
    st.caption(f"Using a private copy taken at step {loaded.key.rsplit(':', 1)[-1]}; training is at step "
               f"{state.training_step(run):,}. Press **Refresh from training** for newer weights.")
    return loaded


# ---- the latent vector z in session state -----------------------------------------------------
def prepare_latent_state(loaded: state.LoadedModel) -> None:
    """Keep z, the chosen dimensions and the directions consistent with the model on screen."""
    latent_dim = loaded.config.latent_dim
    z = st.session_state.get("explore_z")
    if z is None or z.shape != (latent_dim,):
        st.session_state["explore_z"] = latent.sample_z(1, latent_dim, int(st.session_state.get("explore_seed", 0)))[0]
        st.session_state["explore_base_z"] = st.session_state["explore_z"].copy()
    dims = st.session_state.get("explore_dims")
    if dims is None or any(d >= latent_dim for d in dims):
        st.session_state["explore_dims"] = list(range(min(DEFAULT_DIMS, latent_dim)))
    st.session_state["explore_latent_dim"] = latent_dim
    st.session_state["explore_directions"] = loaded.directions


def _z() -> np.ndarray:
    return st.session_state["explore_z"]


def _set_z(z: np.ndarray, *, base: bool = False) -> None:
    st.session_state["explore_z"] = np.asarray(z, np.float32)
    if base:
        st.session_state["explore_base_z"] = st.session_state["explore_z"].copy()


def _on_seed() -> None:
    seed = int(st.session_state["explore_seed"])
    _set_z(latent.sample_z(1, st.session_state["explore_latent_dim"], seed)[0], base=True)


def _on_new_z() -> None:
    st.session_state["explore_seed"] = int(np.random.default_rng().integers(0, 100_000))
    _on_seed()


def _on_reset() -> None:
    _set_z(st.session_state["explore_base_z"])


def _on_dim_slider(dim: int) -> None:
    z = _z().copy()
    z[dim] = float(st.session_state[f"explore_z_{dim}"])
    _set_z(z)


def _on_pc_slider(index: int) -> None:
    directions = st.session_state["explore_directions"].directions
    _set_z(latent.set_coordinate(_z(), directions[index], float(st.session_state[f"explore_pc_{index}"])))


def _slider_value(value: float) -> float:
    """z's value as a slider shows it: clipped to the range and on the slider's step grid."""
    return round(round(float(np.clip(value, -SLIDER_RANGE, SLIDER_RANGE)) / SLIDER_STEP) * SLIDER_STEP, 2)


def _sync_sliders(dims: list[int], loaded: state.LoadedModel) -> None:
    """Sliders mirror z (the truth), so set their values before they are drawn."""
    z = _z()
    for dim in dims:
        st.session_state[f"explore_z_{dim}"] = _slider_value(z[dim])
    if loaded.directions is not None:
        for index, value in enumerate(latent.coordinates(z, loaded.directions.directions)):
            st.session_state[f"explore_pc_{index}"] = _slider_value(value)


# ---- tab 1: sliders ---------------------------------------------------------------------------
@st.fragment
def sliders_ui(loaded: state.LoadedModel) -> None:
    """A fragment: a slider move reruns only this tab (one digit, its neighbours), not the other tabs."""
    mode = st.radio("Rendering", MODES, key="explore_mode", horizontal=True,
                    help="Server: each slider move asks the server for the digit (the reference). Instant: the "
                         "generator runs in your browser, so the digit follows the slider as you drag.")
    instant_generator = _instant_component() if mode == MODES[1] else None
    controls, picture = st.columns([3, 2], gap="large")
    with controls:
        seed_col, new_col, reset_col = st.columns([3, 3, 2], vertical_alignment="bottom")
        seed_col.number_input("Seed of z", 0, 2**31 - 1, key="explore_seed", on_change=_on_seed,
                              help="The same seed always gives the same z, so you can come back to a digit.")
        new_col.button("New random z", key="explore_new_z", icon=":material/casino:", on_click=_on_new_z)
        reset_col.button("Reset", key="explore_reset", icon=":material/undo:", on_click=_on_reset,
                         help="Back to this seed's z, undoing the slider moves.")
        dims = st.multiselect("Dimensions of z to show as sliders", list(range(loaded.config.latent_dim)),
                              key="explore_dims", max_selections=12,
                              help=f"z has {loaded.config.latent_dim} numbers; pick the ones you want to hold.")
    if instant_generator is not None and _instant_ui(instant_generator, loaded, dims, picture):
        return
    _sync_sliders(dims, loaded)
    with controls:
        left, right = st.columns(2)
        with left:
            st.markdown("**Raw dimensions of z**")
            for dim in dims:
                st.slider(f"z[{dim}]", -SLIDER_RANGE, SLIDER_RANGE, step=SLIDER_STEP, key=f"explore_z_{dim}",
                          on_change=_on_dim_slider, args=(dim,))
        with right:
            st.markdown("**Principal directions**")
            st.caption("GANSpace: we generate thousands of digits, find the main ways they differ (PCA of the "
                       "images), and map each one back to a direction in z, so one slider moves one visible trait.")
            if loaded.directions is not None:
                shares = loaded.directions.explained_variance
                for index in range(len(shares)):
                    st.slider(f"direction {index + 1} ({shares[index]:.0%} of the variation)", -SLIDER_RANGE,
                              SLIDER_RANGE, step=SLIDER_STEP, key=f"explore_pc_{index}", on_change=_on_pc_slider,
                              args=(index,))
    with picture:
        digit_ui(loaded)


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
                              slider_range=SLIDER_RANGE, size_px=28 * DIGIT_SCALE)
    except Exception as exc:  # a component failure must not take the page down
        st.error(f"Instant mode failed ({type(exc).__name__}: {exc}). Switch Rendering to Server.")
        return False
    # Take the browser's z only when it changed there: an unchanged (stale) answer must not undo a new seed.
    previous = st.session_state.get("explore_instant_last")
    if z is not None and np.shape(z) == _z().shape:
        z = np.asarray(z, np.float32)
        if previous is None or previous.shape != z.shape or not np.array_equal(previous, z):
            _set_z(z)
        st.session_state["explore_instant_last"] = z
    return True


def digit_ui(loaded: state.LoadedModel) -> None:
    z = _z()
    image = loaded.model.generate(z[None])[0]
    st.image(to_png(image, scale=DIGIT_SCALE), width=28 * DIGIT_SCALE, output_format="PNG")
    realness = float(loaded.model.probability(image[None])[0])
    st.caption(f"D(x) = {realness:.2f}: how real the discriminator finds this digit.  |z| = {np.linalg.norm(z):.1f}")
    nearby = loaded.model.generate(latent.neighbours(z, NEIGHBOURS, NEIGHBOUR_SCALE, seed=1))
    st.image(grid_png(nearby, columns=NEIGHBOURS // 2, scale=2), output_format="PNG",
             caption=f"Neighbours: z plus small noise (scale {NEIGHBOUR_SCALE}). Similar digits here mean a smooth space.")


# ---- a numbered grid of samples to pick from ------------------------------------------------
def sample_grid_ui(loaded: state.LoadedModel, key: str) -> np.ndarray:
    """A numbered 4x4 grid of samples; returns their latent vectors (16, latent_dim)."""
    seed = st.number_input("Seed of the sample grid", 0, 2**31 - 1, 7, key=key,
                           help="Change it for another 16 digits to pick from.")
    zs = latent.sample_z(GRID_COUNT, loaded.config.latent_dim, int(seed) + 10_000)
    images = loaded.model.generate(zs)
    for row in range(4):
        for col, cell in enumerate(st.columns(4)):
            number = row * 4 + col
            cell.image(to_png(images[number], scale=3), caption=f"#{number + 1}", output_format="PNG")
    return zs


def _numbers() -> list[int]:
    return list(range(1, GRID_COUNT + 1))


# ---- tab 2: interpolation -------------------------------------------------------------------
def interpolate_ui(loaded: state.LoadedModel) -> None:
    st.write("Walk in a straight line (linear) or along the sphere (spherical) from one z to another and draw "
             "every stop. Spherical keeps |z| at the size the generator saw in training, so the middle stays sharp.")
    picks, result = st.columns([2, 3], gap="large")
    with picks:
        zs = sample_grid_ui(loaded, "explore_interp_grid_seed")
        start_col, end_col = st.columns(2)
        start = start_col.selectbox("From sample", _numbers(), index=0, key="explore_interp_a")
        end = end_col.selectbox("To sample", _numbers(), index=5, key="explore_interp_b")
    with result:
        method = st.radio("Path", ("Spherical (slerp)", "Linear (lerp)"), key="explore_interp_method", horizontal=True)
        steps = st.slider("Steps", 3, 16, 8, key="explore_interp_steps")
        path = latent.interpolate(zs[start - 1], zs[end - 1], steps, "slerp" if method.startswith("Sph") else "lerp")
        frames = loaded.model.generate(path)
        st.image(grid_png(frames, columns=steps, scale=2), output_format="PNG", caption=f"#{start} to #{end} in {steps} steps")
        gif = to_gif(frames, scale=6, frame_ms=120)
        st.image(gif, caption="The same path, animated (forward and back)")
        st.download_button("Download GIF", gif, file_name=f"interpolation-{start}-{end}.gif", mime="image/gif",
                           key="explore_interp_gif", icon=":material/download:")


# ---- tab 3: arithmetic ----------------------------------------------------------------------
def arithmetic_ui(loaded: state.LoadedModel) -> None:
    st.write("Vectors can be added: A - B + C asks 'what is to C as A is to B?'. Pick three samples; with a small "
             "unconditional GAN the answer is often a blend rather than a clean analogy, which is itself a lesson.")
    picks, result = st.columns([2, 3], gap="large")
    with picks:
        zs = sample_grid_ui(loaded, "explore_arith_grid_seed")
    with result:
        a_col, b_col, c_col = st.columns(3)
        a = a_col.selectbox("A", _numbers(), index=0, key="explore_arith_a")
        b = b_col.selectbox("minus B", _numbers(), index=1, key="explore_arith_b")
        c = c_col.selectbox("plus C", _numbers(), index=2, key="explore_arith_c")
        answer = latent.arithmetic(zs[a - 1], zs[b - 1], zs[c - 1])
        images = loaded.model.generate(np.stack([zs[a - 1], zs[b - 1], zs[c - 1], answer]))
        for cell, image, label in zip(st.columns(4), images, (f"A (#{a})", f"B (#{b})", f"C (#{c})", "A - B + C")):
            cell.image(to_png(image, scale=4), caption=label, output_format="PNG")


main()
