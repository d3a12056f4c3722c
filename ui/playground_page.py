"""The Playground page: a 2-D GAN trained in the browser, every layer of GAN Lab's view, and the recipe comparison.

Decisions, and why:
- The models train in the browser (ui/components/playground), so the view redraws every animation frame and
  the server does nothing per frame: a room of students each gets a run at no cost here. Keras's ToyGAN in
  gan_core/toy_models.py is the reference the browser's code is tested against; this page imports neither.
- Widgets here set the recipe; the component applies learning rates, loss, penalties, d_steps and batch size
  to the running model live, and starts new networks for a new preset, network or seed.
- Recipe widgets are keyed by the recipe they start from, so choosing a recipe shows its values.
- Presenter mode (ui/presenter.py): while this tab shares a link, the component publishes its state a few times
  a second; the view lives in a fragment so each publication reruns only the fragment, which hands a state it has
  not handed yet (a new `seq`) to the share (checked there, gan_core.toy_share). A refused state is said under
  the view; training goes on.
"""

from __future__ import annotations

import streamlit as st

from gan_core.config import GAN_LOSSES
from gan_core.toy import ACTIVATIONS, TOY_DATASETS, VIEW_EXTENT, ToyConfig, recipe_for
from gan_core.toy_share import StateRefused
from ui import playground_text as text
from ui import presenter, state
from ui.components.playground import drawn_points, playground, published_state

PRESETS = {"ring8": "Ring of 8 Gaussians", "grid25": "Grid of 25 Gaussians", "moons": "Two moons",
           "spiral": "Spiral", "line": "Line", "drawn": "Draw your own"}
assert set(PRESETS) == set(TOY_DATASETS) | {"drawn"}
RECIPES = {"default": "Default recipe (R1 + averaged G)", "textbook": "Textbook recipe"}
VIEWS = ("One run", "Compare recipes side by side")
COMPONENT_KEY = "playground_view"
DRAWN_KEY = "playground_drawn"
SHARE_PROBLEM_KEY = "playground_share_problem"
PUBLISHED_SEQ_KEY = "playground_published_seq"


def main() -> None:
    st.title("Playground: a GAN in two dimensions")
    st.caption(text.INTRO)
    dataset, view = preset_ui()
    if view == VIEWS[1]:
        config = network_ui("default", dataset, compare=True)
        runs = [{"label": "Textbook recipe", "config": _textbook_like(config).to_dict()},
                {"label": "Default recipe", "config": config.to_dict()}]
    else:
        recipe = st.session_state.get("playground_recipe", "default")
        config = network_ui(recipe, dataset, compare=False)
        runs = [{"label": "", "config": config.to_dict()}]
    sharing = presenter.playground_share_ui() is not None
    view_column, words_column = st.columns([3, 1.25] if view == VIEWS[0] else [4, 1])
    with view_column:
        view_ui(runs, dataset, sharing)
    with words_column:
        explanations_ui(dataset, view)


@st.fragment
def view_ui(runs: list[dict], dataset: str, sharing: bool) -> None:
    """The component (and what it sends back): a fragment, so a presenter's publications rerun only this."""
    drawn = _remember_drawn()
    playground(runs, drawn, VIEW_EXTENT.get(dataset, 3.0), key=COMPONENT_KEY, publish=sharing)
    if sharing:
        _hand_on_published()
    if dataset == "drawn":
        st.caption(f"{len(drawn)} points drawn." if drawn else "Nothing drawn yet: click and drag on the plane.")
    problem = st.session_state.get(SHARE_PROBLEM_KEY) if sharing else None
    if problem:
        st.warning(f"Viewers do not see the latest state: {problem}.", icon=":material/share:")


def _hand_on_published() -> None:
    """The component's latest published state, if not handed on yet, goes to the share, which checks it."""
    token, value = presenter.playground_token(), published_state(COMPONENT_KEY)
    shared = state.engine().watch(token) if token else None
    if shared is None or not isinstance(value, dict) or getattr(shared, "kind", "") != "playground":
        return
    if value.get("seq") == st.session_state.get(PUBLISHED_SEQ_KEY):
        return  # a rerun for another reason: this one was handed on already
    st.session_state[PUBLISHED_SEQ_KEY] = value.get("seq")
    try:
        shared.publish(value)
    except StateRefused as exc:
        st.session_state[SHARE_PROBLEM_KEY] = str(exc)
    else:
        st.session_state.pop(SHARE_PROBLEM_KEY, None)


def preset_ui() -> tuple[str, str]:
    preset, view = st.columns([2, 2])
    dataset = preset.selectbox("Data", list(PRESETS), format_func=PRESETS.get, key="playground_dataset",
                               help="The ring and the grid are the mode-collapse benchmarks of the literature.")
    chosen_view = view.radio("View", VIEWS, horizontal=True, key="playground_view_mode",
                             help="Side by side: the textbook recipe and the default one, same seed, one Start.")
    return dataset, chosen_view


def _textbook_like(config: ToyConfig) -> ToyConfig:
    """The textbook recipe on the same networks, data and seed."""
    keep = {name: getattr(config, name) for name in ("latent_dim", "hidden_units", "depth", "activation", "seed",
                                                       "dataset")}
    return ToyConfig.textbook(**keep)


def network_ui(recipe: str, dataset: str, compare: bool) -> ToyConfig:
    """The recipe's widgets; returns the config they describe (dataset "drawn" trains on the drawn points)."""
    base = recipe_for("ring8" if dataset == "drawn" else dataset, textbook=recipe == "textbook")
    with st.expander("Recipe and networks", expanded=False):
        if not compare:
            st.radio("Start from", list(RECIPES), format_func=RECIPES.get, horizontal=True, key="playground_recipe")
        else:
            st.caption("Comparing: the left run always uses the textbook recipe; these values set the right run.")
        left, middle, right = st.columns(3)
        k = f"pg_{recipe}_"
        net = f"pg_{recipe}_{dataset}_"  # networks, learning rates and R1 start from each preset's own
        loss = left.selectbox("Loss", GAN_LOSSES, index=GAN_LOSSES.index(base.loss), key=k + "loss")
        r1 = left.number_input("R1 weight (γ)", 0.0, 100.0, base.r1_gamma, step=0.01, format="%.3f", key=net + "r1",
                               help="Zero-centred penalty on D's gradient at real points; 0 turns it off.")
        ema = left.number_input("G averaging (decay)", 0.0, 0.999, base.ema_decay, step=0.01, format="%.3f",
                                key=k + "ema", help="Scores use a moving average of G's weights; 0 turns it off.")
        g_lr = middle.number_input("G learning rate", 1e-5, 0.1, base.g_learning_rate, step=1e-4, format="%.4f",
                                   key=net + "glr")
        d_lr = middle.number_input("D learning rate", 1e-5, 0.1, base.d_learning_rate, step=1e-4, format="%.4f",
                                   key=net + "dlr")
        half_life = middle.number_input(
            "Halve the rates every (steps)", 0, 1_000_000, base.lr_half_life, step=500, key=net + "halflife",
            help="A learning-rate decay: after the step below, both rates halve every this many steps, so a run "
                 "that has found every mode settles instead of drifting away from some. 0 keeps the rates constant.")
        decay_start = middle.number_input("...starting after step", 0, 10_000_000, base.lr_decay_start, step=1000,
                                          key=net + "decaystart", disabled=half_life == 0)
        batch = middle.select_slider("Batch size", [16, 32, 64, 128, 256, 512], value=base.batch_size, key=net + "batch")
        d_steps = middle.number_input("D steps per G step", 1, 10, base.d_steps, key=k + "dsteps")
        hidden = right.select_slider("Hidden units", [8, 16, 32, 64, 128], value=base.hidden_units, key=net + "hidden")
        depth = right.number_input("Hidden layers", 1, 4, base.depth, key=net + "depth")
        activation = right.selectbox("Activation", ACTIVATIONS, index=ACTIVATIONS.index(base.activation),
                                     key=k + "activation")
        latent = right.number_input("Latent size", 1, 8, base.latent_dim, key=k + "latent",
                                    help="2 makes the manifold view exact; more dims show a 2-D slice.")
        seed = right.number_input("Seed", 0, 100_000, base.seed, key="playground_seed")
    return base.replace(loss=loss, r1_gamma=float(r1), ema_decay=float(ema), g_learning_rate=float(g_lr),
                        d_learning_rate=float(d_lr), lr_half_life=int(half_life), lr_decay_start=int(decay_start),
                        batch_size=int(batch), d_steps=int(d_steps),
                        hidden_units=int(hidden), depth=int(depth), activation=activation, latent_dim=int(latent),
                        seed=int(seed), dataset=dataset)


def _remember_drawn() -> list[list[float]]:
    """The drawn points: the component's latest, kept in the session so a remount (a view change) keeps them."""
    points = drawn_points(COMPONENT_KEY)
    if points:
        st.session_state[DRAWN_KEY] = points
    return st.session_state.get(DRAWN_KEY, [])


def explanations_ui(dataset: str, view: str) -> None:
    if view == VIEWS[1]:
        st.markdown(text.COMPARISON)
    if dataset == "drawn":
        st.markdown(text.DRAWN)
    st.markdown("**The layers** (switch each on or off above the plane)")
    for name, words in text.LAYERS.items():
        st.markdown(f"- **{name}.** {words}")
    st.markdown(text.SLOW_MOTION)
    st.markdown(text.CURVES)


main()
