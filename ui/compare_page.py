"""Compare page: the same seeds through every shipped model side by side, and how good each one measures;
then this session's own runs (the last few Reset on the Train page) overlaid, so what a recipe change did is
one look: curves coloured by run, final samples side by side, recipes with the differing fields on top.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gan_core import data, latent, run_archive
from gan_core.images import grid_png
from ui import catalog, charts, state
from ui.train_text import SERIES_LABELS

LIVE_KEY = "compare_live_reports"  # this session's live measurements: model name -> report
BUTTONS_PER_ROW = 4


def main() -> None:
    st.title("Compare the models")
    st.write("Each row below is one model drawing from the same seed. Where two models have latent spaces of the "
             "same size they get the very same z (the GANs share one, the 16-D VAE and the autoencoder another); "
             "otherwise the same seed. The conditional GAN draws the digits 0-9 in turn.")
    explain_ui()
    st.caption("Your own trainings are compared at the bottom of this page, under **Your runs**.")
    shipped_ui()
    your_runs_ui()


def shipped_ui() -> None:
    present, missing = catalog.available()
    if missing:
        st.caption(catalog.missing_note(missing))
    if not present:
        st.warning("No shipped models are here to compare; see `pretrained/README.md` for how they are made.")
        return
    loaded = {}
    for shipped in present:
        model, message = catalog.load(shipped.name, directions=False)
        if model is None:
            st.warning(message)
        else:
            loaded[shipped.name] = model
    samples_ui(loaded)
    quality_ui(loaded)


def explain_ui() -> None:
    with st.expander("What each model is, and what to look for", expanded=True):
        st.markdown(
            "- **GAN**: a generator learns to fool a discriminator. Nothing asks it to cover every digit, so its "
            "samples are **sharp** but it may favour some classes (mode dropping).\n"
            "- **Conditional GAN**: the same game with the label given to both players; you choose the digit.\n"
            "- **WGAN-GP**: the discriminator becomes a critic estimating a distance between the real and generated "
            "digits, kept smooth by a gradient penalty: steadier training, often more variety.\n"
            "- **DCGAN**: convolutions instead of dense layers, so strokes are drawn locally and look cleaner.\n"
            "- **VAE**: an encoder and a decoder trained to reconstruct while keeping the codes close to N(0, I). "
            "It covers every digit, but averaging over what it is unsure of makes its samples **blurry**.\n"
            "- **Autoencoder**: reconstructs well, but its codes do not follow N(0, I), so sampling it gives "
            "smudges: the reason VAEs exist.\n\n"
            "In the numbers: **FID** (lower is better) next to the **floor**, the FID between two halves of the real "
            "digits, which is as low as any model can go on these sets; **classes covered** shows mode dropping; "
            "**precision** is how many samples look like real digits (sharpness), **recall** how much of the real "
            "variety the samples reach.")


# ---- the same seeds through every model ---------------------------------------------------------------
def samples_ui(loaded: dict[str, state.LoadedModel]) -> None:
    seed_col, count_col = st.columns(2)
    seed = int(seed_col.number_input("Seed", 0, 2**31 - 1, 0, key="compare_seed",
                                     help="The same seed gives the same z to every model with the same latent size."))
    count = count_col.slider("Samples per model", 4, 20, 10, key="compare_count")
    for name, model in loaded.items():
        z = latent.sample_z(count, model.config.latent_dim, seed)
        label_col, picture_col = st.columns([1, 4], vertical_alignment="center")
        label_col.markdown(f"**{catalog.BY_NAME[name].label}**")
        label_col.caption(f"{model.config.latent_dim}-D z. {catalog.BY_NAME[name].description}")
        picture_col.image(grid_png(model.model.generate(z), columns=count, scale=3), output_format="PNG")


# ---- quality numbers ------------------------------------------------------------------------------------
QUALITY_COLUMNS = (
    ("FID", lambda g, r: g["fid"]),
    ("FID floor (real vs real)", lambda g, r: r.get("fid_floor")),
    ("FID / floor", lambda g, r: r.get("fid_ratio")),
    ("KID", lambda g, r: g.get("kid")),
    ("Inception score", lambda g, r: g.get("inception_score")),
    ("classes covered", lambda g, r: g.get("classes_covered")),
    ("precision", lambda g, r: g.get("precision")),
    ("recall", lambda g, r: g.get("recall")),
    ("samples", lambda g, r: r.get("n", g.get("n_fake"))),
)


def quality_table(reports: dict[str, tuple[dict, str]]) -> pd.DataFrame:
    """One row per model: its report's numbers and where they come from."""
    rows = []
    for name, (report, source) in reports.items():
        row = {"model": catalog.BY_NAME[name].label if name in catalog.BY_NAME else name, "measured": source}
        generated = report.get("generated")
        if not report.get("available", True) or not isinstance(generated, dict):
            row["FID"] = None
        else:
            row.update({column: value(generated, report) for column, value in QUALITY_COLUMNS})
        rows.append(row)
    return pd.DataFrame(rows)


def quality_ui(loaded: dict[str, state.LoadedModel]) -> None:
    st.subheader("How good, in numbers")
    committed, why_none = catalog.quality_reports()
    live = st.session_state.setdefault(LIVE_KEY, {})
    reports = {name: (committed[name], "committed") for name in committed}
    reports.update({name: (report, "live, this session") for name, report in live.items()})
    if reports:
        st.dataframe(quality_table(reports), hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.3f")
                                    for c in ("FID", "FID floor (real vs real)", "FID / floor", "KID",
                                              "Inception score", "precision", "recall")})
        st.caption("FID and its floor are measured on the digit classifier's features; FID / floor compares at the "
                   "floor's sample sizes, so 1.0 would be as close to real digits as real digits are to each other.")
    else:
        st.info(f"{why_none} Measure a model live below, or run the evaluate command for every model.")
    st.markdown(f"**Measure live** ({catalog.LIVE_SAMPLES:,} samples against the real digits; takes a while on a "
                f"CPU)")
    names = list(loaded)
    cells = [cell for start in range(0, len(names), BUTTONS_PER_ROW) for cell in st.columns(BUTTONS_PER_ROW)]
    for cell, name in zip(cells, names):
        if cell.button(catalog.BY_NAME[name].label, key=f"compare_eval_{name}", icon=":material/speed:",
                       width="stretch", help=f"Draw {catalog.LIVE_SAMPLES:,} samples and compute FID, KID, IS, "
                                             f"coverage, precision and recall."):
            with st.spinner(f"Measuring the {catalog.BY_NAME[name].label}..."):
                error = measure(name, loaded[name])
            if error:
                st.error(error)
            else:
                st.rerun()


def measure(name: str, model: state.LoadedModel) -> str:
    """Evaluate one model into this session's live reports (in the engine's inference worker); "" or why not."""
    try:
        report = state.engine().evaluate(model.model, catalog.LIVE_SAMPLES)
    except state.EngineError as exc:
        return f"The measurement failed: {exc}. The digit classifier ships in `pretrained/classifier`."
    st.session_state[LIVE_KEY][name] = report
    return ""



# ---- this session's runs --------------------------------------------------------------------------------
DIFFERS_COLOUR = "background-color: rgba(255, 193, 7, 0.28)"
SAMPLES_SHOWN = 16  # of each run's fixed-noise grid: the first 16, the same z positions in every run


def your_runs_ui() -> None:
    st.header("Your runs", divider="gray")
    runs = state.archived_runs()
    if len(runs) < 2:
        kept = f" Kept so far: {runs[0].name} ({runs[0].step:,} steps)." if runs else ""
        st.info(f"Compare your own trainings here. On the **Train** page: train a model, press **Reset**, change "
                f"the recipe (say, R1 off), train again and press **Reset** again. The last "
                f"{run_archive.KEEP_RUNS} runs you Reset in this session are kept here, with their curves, final "
                f"samples and recipes.{kept}")
        return
    st.write(f"The last {len(runs)} runs you Reset in this session (at most {run_archive.KEEP_RUNS}; the oldest "
             f"goes first). Each colour is one run.")
    recipes_ui(runs)
    run_curves_ui(runs)
    run_samples_ui(runs)
    st.button("Forget these runs", key="compare_forget_runs", icon=":material/delete:", on_click=_forget_runs)


def _forget_runs() -> None:
    st.session_state.pop(state.ARCHIVE_KEY, None)


def _cell(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(field: str, value):
    """A recipe value as a page may show it: a dataset by its name, never a server path."""
    return data.display_name(value) if field == "dataset" and isinstance(value, str) else value


def recipe_frame(runs: list[run_archive.ArchivedRun]) -> tuple[pd.DataFrame, list[str]]:
    """Recipe fields as rows, runs as columns, the fields that differ first; and those fields."""
    rows, differing = run_archive.recipe_rows(runs)
    fields = differing + [name for name in rows[0] if name != "run" and name not in differing]
    frame = pd.DataFrame({row["run"]: [_cell(_shown(name, row.get(name))) for name in fields] for row in rows},
                         index=fields)
    frame.index.name = "field"
    return frame, differing


def recipes_ui(runs: list[run_archive.ArchivedRun]) -> None:
    frame, differing = recipe_frame(runs)
    if differing:
        st.markdown("**Recipes.** Differ in: " + ", ".join(f"`{name}`" for name in differing) + " (highlighted, on "
                    "top); the other fields are the same in every run.")
    else:
        st.markdown("**Recipes.** The same recipe in every run: any difference below is chance (the seed is "
                    "part of the recipe, so this is the same run trained again).")
    styled = frame.style.apply(lambda row: [DIFFERS_COLOUR if row.name in differing else ""] * len(row), axis=1)
    st.dataframe(styled, width="stretch", height=min(36 + 35 * len(frame), 420))


def run_curves_ui(runs: list[run_archive.ArchivedRun]) -> None:
    histories = {run.name: run.history for run in runs}
    losses = run_archive.series_present(runs, run_archive.LOSS_SERIES)
    qualities = run_archive.series_present(runs, run_archive.QUALITY_SERIES, quality=True)
    st.markdown("**Curves**, one chart per metric:")
    charts_to_draw = [(SERIES_LABELS.get(name, name), charts.runs_frame(histories, name)) for name in losses]
    charts_to_draw += [(f"{SERIES_LABELS.get(name, name)} (live quality)",
                        charts.runs_frame({run.name: run.quality for run in runs}, name)) for name in qualities]
    cells = [cell for start in range(0, len(charts_to_draw), 2) for cell in st.columns(2)]
    for cell, (title, frame) in zip(cells, charts_to_draw):
        cell.markdown(f"*{title}*")
        charts.run_overlay_chart(cell, frame, title)
    if not qualities:
        st.caption("No live quality (FID) in these runs yet: it is measured every few thousand steps while a run "
                   "trains (the interval is in the Train page's sidebar).")


def run_samples_ui(runs: list[run_archive.ArchivedRun]) -> None:
    st.markdown(f"**Final samples** (the first {SAMPLES_SHOWN} of each run's fixed-noise grid, as it was when you "
                f"pressed Reset):")
    for cell, run in zip(st.columns(len(runs)), runs):
        if run.samples is None:
            cell.caption(f"{run.name}: no samples yet")
        else:
            shown = run.samples[:SAMPLES_SHOWN].astype("float32") / 255.0
            cell.image(grid_png(shown, scale=3), output_format="PNG",
                       caption=f"{run.name}: {run.config.get('model', '?')}, step {max(run.samples_step, 0):,} "
                               f"of {run.step:,}")


main()
