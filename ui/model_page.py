"""Model page: the chosen model's networks with their layer sizes and parameter counts, and its objective."""

from __future__ import annotations

import json
import logging

import pandas as pd
import streamlit as st

from gan_core.config import GANConfig
from ui import catalog, state, train_text

LOG = logging.getLogger(__name__)

TITLES = {"generator": "Generator G", "discriminator": "Discriminator D", "encoder": "Encoder E",
          "decoder": "Decoder"}
KEPT_WIDGETS = {"model_pick": "gan"}


def main() -> None:
    st.title("The model")
    state.keep_widgets(KEPT_WIDGETS)
    config, where = _model_to_draw()
    st.caption(where)
    st.write(INTRODUCTIONS[config.model])
    try:
        described = _describe(config.to_json())
    except state.EngineError as exc:
        LOG.warning("describing the networks failed: %s", exc)
        st.error("The networks cannot be described right now (the server is busy or restarting). Reload the page "
                 "to try again.")
        return
    rows = {stem: network_rows for stem, network_rows in described.items() if stem in TITLES}
    st.graphviz_chart(diagram(config, rows), width="stretch")
    for column, (stem, network_rows) in zip(st.columns(len(rows)), rows.items()):
        with column:
            st.subheader(TITLES[stem])
            st.dataframe(_table(network_rows), hide_index=True, width="stretch")
            st.caption(f"{sum(row['params'] for row in network_rows):,} trainable numbers in all.")
    if config.model == "vae":
        st.caption(f"The encoder's last layer gives {2 * config.latent_dim} numbers: the mean and the log-variance "
                   f"of q(z | x) for each of the {config.latent_dim} dimensions of z.")
    if "generator_ema" in described:
        st.caption("Pictures come from a weight average of G (EMA), a third copy with the generator's layers.")
    st.subheader("The objective")
    equations, explanation = objective(config)
    for equation in equations:
        st.latex(equation)
    st.write(explanation)


@st.cache_data(show_spinner="Reading the networks' layers...", max_entries=32)
def _describe(config_json: str) -> dict[str, list[dict]]:
    # Layer rows depend on the config only, never on the weights: one answer per recipe, for every visitor.
    return state.engine().describe(GANConfig.from_dict(json.loads(config_json)))


INTRODUCTIONS = {
    "gan": "Two small networks play a game. The generator G maps a noise vector z to a 28x28 image; the "
           "discriminator D looks at an image and scores how real it looks.",
    "cgan": "The GAN's game with the digit's label y given to both players: G draws the digit it is asked for, D "
            "judges whether the image is a real example of that digit.",
    "vae": "An encoder E maps an image to a Gaussian over z (a mean and a variance); the decoder maps a z drawn from "
           "it back to an image. The KL term keeps the codes close to N(0, I), so decoding z ~ N(0, I) draws digits.",
    "ae": "An encoder E squeezes an image into a code z; the decoder draws the image back from it. Trained only to "
          "reconstruct, so nothing shapes where the codes lie.",
}


def _model_to_draw() -> tuple[GANConfig, str]:
    present, _ = catalog.available()
    names = [s.name for s in present] + ([catalog.SESSION] if state.current_run() is not None else [])
    if not names:
        return state.BASE_CONFIG, "No weights are loaded; showing the default networks' structure."
    if st.session_state["model_pick"] not in names:
        st.session_state["model_pick"] = names[0]
    name = st.selectbox("Model", names, key="model_pick", help="Any shipped model, or the one trained in this session.",
                        format_func=lambda n: "This session's model" if n == catalog.SESSION
                        else catalog.BY_NAME[n].label)
    if name == catalog.SESSION:
        return state.current_run().config, "Showing the networks of the model trained in this session."
    loaded, message = catalog.load(name, directions=False)
    if loaded is None:
        st.warning(message)
        return state.BASE_CONFIG, "Showing the default networks' structure instead."
    return loaded.config, f"Showing the networks of the shipped model ({loaded.label})."


# ---- the objective each model optimises ----------------------------------------------------------------
GAN_MINIMAX = (r"\min_G \max_D \; \mathbb{E}_{x \sim p_{data}}\left[\log D(x{Y})\right]"
               r" + \mathbb{E}_{z \sim \mathcal{N}(0, I)}\left[\log\left(1 - D(G(z{Y}){Y})\right)\right]")


def objective(config: GANConfig) -> tuple[list[str], str]:
    """The model's objective as LaTeX lines, and one paragraph on what it means."""
    if config.model == "ae":
        return ([r"\min_{E,\,\mathrm{Dec}} \; \mathbb{E}_{x}\Big[-\sum_{i=1}^{784} x_i \log \hat x_i + (1 - x_i)"
                 r"\log(1 - \hat x_i)\Big], \qquad \hat x = \mathrm{Dec}(E(x))"],
                "Reconstruction only: the pixel-wise cross-entropy between a digit and its reconstruction. No term "
                "says how codes should be spread, which is why sampling the latent space gives poor digits.")
    if config.model == "vae":
        weight = "" if config.kl_weight == 1 else rf"{config.kl_weight:g}\,"
        return ([r"\log p(x) \;\ge\; \mathrm{ELBO} = \mathbb{E}_{z \sim q(z \mid x)}\left[\log p(x \mid z)\right]"
                 r" - " + weight + r"\mathrm{KL}\left(q(z \mid x) \,\|\, \mathcal{N}(0, I)\right)",
                 r"q(z \mid x) = \mathcal{N}\left(\mu(x), \operatorname{diag} \sigma^2(x)\right), \qquad "
                 r"z = \mu(x) + \sigma(x) \odot \epsilon, \; \epsilon \sim \mathcal{N}(0, I)"],
                "The evidence lower bound, maximised: reconstruct the digit (first term) while keeping each "
                "digit's Gaussian close to the prior (the KL term). The sample z uses the reparameterisation trick "
                "so gradients reach the encoder. Averaging over the uncertain z is what blurs VAE samples.")
    conditional = config.model == "cgan"
    given = r" \mid y" if conditional else ""
    if config.loss == "wgan_gp":
        return ([r"\min_D \; \mathbb{E}_{z}\left[D(G(z" + given + r")" + given + r")\right] - \mathbb{E}_{x}"
                 r"\left[D(x" + given + r")\right] + \lambda\, \mathbb{E}_{\hat x}\left[\left(\left\| \nabla_{\hat x}"
                 r" D(\hat x" + given + r") \right\|_2 - 1\right)^2\right]",
                 r"\hat x = \epsilon\, x + (1 - \epsilon)\, G(z), \;\; \epsilon \sim U[0, 1], \qquad "
                 rf"\lambda = {config.gp_weight:g}, \qquad \min_G \; -\mathbb{{E}}_{{z}}\left[D(G(z))\right]"],
                "D is a critic, not a classifier: its score gap between real and generated digits estimates the "
                "Wasserstein distance, valid only while D is 1-Lipschitz. The gradient penalty enforces that at "
                "random points between real and fake images; G lowers the distance by raising the critic's score "
                "of its samples.")
    if config.loss == "least_squares":
        return ([r"\min_D \; \tfrac12 \mathbb{E}_x\left[(D(x) - 1)^2\right] + \tfrac12 \mathbb{E}_z\left[D(G(z))^2"
                 r"\right], \qquad \min_G \; \tfrac12 \mathbb{E}_z\left[(D(G(z)) - 1)^2\right]"],
                "Least-squares GAN: squared distances to the targets replace the log loss, so samples far on the "
                "right side of the boundary still get a gradient.")
    if config.loss == "hinge":
        return ([r"\min_D \; \mathbb{E}_x\left[\max(0, 1 - D(x))\right] + \mathbb{E}_z\left[\max(0, 1 + D(G(z)))"
                 r"\right], \qquad \min_G \; -\mathbb{E}_z\left[D(G(z))\right]"],
                "Hinge loss: D stops pushing once a score is past the margin, which keeps it from overshooting.")
    y = r" \mid y" if conditional else ""
    return ([GAN_MINIMAX.replace("{Y}", y)],
            "D climbs this objective by scoring real digits near 1 and generated ones near 0; G would descend it. "
            "In practice G instead maximises log D(G(z)) (the non-saturating loss), which has the same equilibrium "
            "but gives G strong gradients early on, when D easily rejects its blurry drafts."
            + (" Both players see the label y, so D also rejects a good 3 drawn when a 7 was asked for."
               if conditional else ""))


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({"layer": [train_text.layer_words(r["name"]) for r in rows],
                         "output": [" x ".join(str(d) for d in r["output"]) for r in rows],
                         "activation": [r["activation"] or "-" for r in rows],
                         "parameters": [r["params"] for r in rows]})


# ---- the diagram ----------------------------------------------------------------------------------------
def _chain(prefix: str, first: str, rows: list[dict]) -> list[str]:
    lines, previous = [], first
    for index, row in enumerate(rows):
        node = f"{prefix}{index}"
        shape = " x ".join(str(d) for d in row["output"])
        activation = f", {row['activation']}" if row["activation"] and row["activation"] != "linear" else ""
        params = f"\\n{row['params']:,} params" if row["params"] else ""
        lines.append(f'{node} [label="{train_text.layer_words(row["name"])}\\n{shape}{activation}{params}"];')
        lines.append(f"{previous} -> {node};")
        previous = node
    return lines


HEADER = ['node [shape=box, style="rounded,filled", fillcolor="#f4f6fb", fontname="Helvetica", fontsize=13];']


def _direction(*networks: list[dict]) -> str:
    """Left to right for short networks; top to bottom for deep ones (a DCGAN's 12 layers side by side shrink to
    an unreadable strip at the page's width)."""
    return "TB" if max(len(rows) for rows in networks) > 6 else "LR"


def diagram(config: GANConfig, rows: dict[str, list[dict]]) -> str:
    """A Graphviz DOT picture of the model's data flow."""
    if config.model in ("ae", "vae"):
        return _autoencoder_diagram(config, rows["encoder"], rows["decoder"])
    return _gan_diagram(config, rows["generator"], rows["discriminator"])


def _gan_diagram(config: GANConfig, generator_rows: list[dict], discriminator_rows: list[dict]) -> str:
    """z -> G -> fake image -> D <- real image (and the label into both when conditional)."""
    g_last, d_last = f"g{len(generator_rows) - 1}", f"d{len(discriminator_rows) - 1}"
    score = ("sigmoid -> D(x)\\nprobability the image is real" if config.loss in ("non_saturating", "minimax")
             else "D(x)\\nraw critic score")
    label = ['y [label="label y\\none-hot, 10", shape=ellipse, fillcolor="#e8e1f5"];', "y -> g0;", "y -> d0;"]
    return "\n".join([
        "digraph gan {", f"rankdir={_direction(generator_rows, discriminator_rows)};", *HEADER,
        f'z [label="noise z\\n{config.latent_dim} numbers", shape=ellipse, fillcolor="#fff4d6"];',
        'real [label="real digit\\n28 x 28", shape=ellipse, fillcolor="#e3f5e1"];',
        'subgraph cluster_g { label="Generator G"; color="#8aa4d6";', *_chain("g", "z", generator_rows), "}",
        'subgraph cluster_d { label="Discriminator D"; color="#d68a8a";', "d_in [label=\"image\\n28 x 28\"];",
        *_chain("d", "d_in", discriminator_rows), "}",
        *(label if config.model == "cgan" else []),
        f'{g_last} -> d_in [label="fake"];', 'real -> d_in [label="real"];',
        f'p [label="{score}", shape=ellipse, fillcolor="#fde2e2"];', f"{d_last} -> p;", "}"])


def _autoencoder_diagram(config: GANConfig, encoder_rows: list[dict], decoder_rows: list[dict]) -> str:
    """image -> E -> code z -> decoder -> reconstruction (a VAE samples z from the encoder's Gaussian)."""
    code = (f"z = mu + sigma * eps\\n{config.latent_dim} numbers" if config.model == "vae"
            else f"code z\\n{config.latent_dim} numbers")
    return "\n".join([
        "digraph ae {", f"rankdir={_direction(encoder_rows, decoder_rows)};", *HEADER,
        'x [label="real digit\\n28 x 28", shape=ellipse, fillcolor="#e3f5e1"];',
        'subgraph cluster_e { label="Encoder E"; color="#8aa4d6";', *_chain("e", "x", encoder_rows), "}",
        f'z [label="{code}", shape=ellipse, fillcolor="#fff4d6"];', f"e{len(encoder_rows) - 1} -> z;",
        'subgraph cluster_dec { label="Decoder"; color="#d68a8a";', *_chain("r", "z", decoder_rows), "}",
        'out [label="reconstruction\\n28 x 28", shape=ellipse, fillcolor="#fde2e2"];',
        f"r{len(decoder_rows) - 1} -> out;", "}"])


main()
