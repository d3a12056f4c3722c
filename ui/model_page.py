"""Model page: the two networks with their layer sizes and parameter counts, and the objective they play."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gan_core.models import build_model
from gan_core.networks import describe
from ui import state


@st.cache_resource(show_spinner=False)
def _untrained_model():
    # Shared and never trained: only its structure is drawn when no weights are at hand.
    return build_model(state.BASE_CONFIG)


def main() -> None:
    st.title("The model")
    st.write("Two small networks play a game. The generator G maps a noise vector z to a 28x28 image; the "
             "discriminator D looks at an image and outputs the probability that it is a real digit.")
    model, where = _model_to_draw()
    st.caption(where)
    generator_rows, discriminator_rows = describe(model.generator), describe(model.discriminator)
    st.graphviz_chart(diagram(model.config.latent_dim, generator_rows, discriminator_rows), width="stretch")
    left, right = st.columns(2)
    for column, title, rows in ((left, "Generator G", generator_rows), (right, "Discriminator D", discriminator_rows)):
        with column:
            st.subheader(title)
            st.dataframe(_table(rows), hide_index=True, width="stretch")
            st.caption(f"{sum(row['params'] for row in rows):,} trainable numbers in all.")
    st.subheader("The objective")
    st.latex(r"\min_G \max_D \; \mathbb{E}_{x \sim p_{data}}\left[\log D(x)\right]"
             r" + \mathbb{E}_{z \sim \mathcal{N}(0, I)}\left[\log\left(1 - D(G(z))\right)\right]")
    st.write("D climbs this objective by scoring real digits near 1 and generated ones near 0; G would descend it. "
             "In practice G instead maximises log D(G(z)) (the non-saturating loss we use), which has the same "
             "equilibrium but gives G strong gradients early on, when D easily rejects its blurry drafts.")


def _model_to_draw():
    loaded, _ = state.pretrained()
    if loaded is not None:
        return loaded.model, f"Showing the networks of the shipped model ({loaded.label})."
    run = state.current_run()
    if run is not None:
        return run.model, "Showing the networks of the model trained in this session."
    return _untrained_model(), "No weights are loaded; showing the default networks' structure."


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({"layer": [r["name"] for r in rows],
                         "output": [" x ".join(str(d) for d in r["output"]) for r in rows],
                         "activation": [r["activation"] or "-" for r in rows],
                         "parameters": [r["params"] for r in rows]})


def _chain(prefix: str, first: str, rows: list[dict]) -> list[str]:
    lines, previous = [], first
    for index, row in enumerate(rows):
        node = f"{prefix}{index}"
        shape = " x ".join(str(d) for d in row["output"])
        activation = f", {row['activation']}" if row["activation"] and row["activation"] != "linear" else ""
        params = f"\\n{row['params']:,} params" if row["params"] else ""
        lines.append(f'{node} [label="{row["name"]}\\n{shape}{activation}{params}"];')
        lines.append(f"{previous} -> {node};")
        previous = node
    return lines


def diagram(latent_dim: int, generator_rows: list[dict], discriminator_rows: list[dict]) -> str:
    """A Graphviz DOT picture: z -> G -> fake image -> D <- real image."""
    g_last = f"g{len(generator_rows) - 1}"
    d_last = f"d{len(discriminator_rows) - 1}"
    return "\n".join([
        "digraph gan {", "rankdir=LR;", 'node [shape=box, style="rounded,filled", fillcolor="#f4f6fb", '
        'fontname="Helvetica", fontsize=13];',
        f'z [label="noise z\\n{latent_dim} numbers", shape=ellipse, fillcolor="#fff4d6"];',
        'real [label="real digit\\n28 x 28", shape=ellipse, fillcolor="#e3f5e1"];',
        'subgraph cluster_g { label="Generator G"; color="#8aa4d6";', *_chain("g", "z", generator_rows), "}",
        'subgraph cluster_d { label="Discriminator D"; color="#d68a8a";', "d_in [label=\"image\\n28 x 28\"];",
        *_chain("d", "d_in", discriminator_rows), "}",
        f'{g_last} -> d_in [label="fake"];', 'real -> d_in [label="real"];',
        f'p [label="sigmoid -> D(x)\\nprobability the image is real", shape=ellipse, fillcolor="#fde2e2"];',
        f"{d_last} -> p;", "}"])


main()
