"""The Train page's live views drawn from a fixed RunView, no worker: the cGAN's grid has a column per digit, the
grid is drawn once, every step number names the weights it means, refusals are counted as the summary counts
them, and the metrics stay short enough for a 1024 px projector."""

from __future__ import annotations

import io
import types
import zipfile

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from gan_core.config import GANConfig
from gan_core.messages import RunView

TIMEOUT_S = 60
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)


def _view(step: int = 30) -> RunView:
    view = RunView()
    rng = np.random.default_rng(0)
    view.status, view.step, view.elapsed_s, view.steps_per_second = "paused", step, 123.4, 170.0
    view.samples, view.samples_step = rng.random((64, 28, 28), dtype=np.float32), step
    view.timeline_steps = [10, 20, 30]
    view.timeline_frames = [rng.integers(0, 255, (64, 28, 28), dtype=np.uint8) for _ in range(3)]
    view.timeline_weight_steps = (10,)
    return view


def _fake_run(config: GANConfig, view: RunView, bundle: bytes = b"") -> types.SimpleNamespace:
    return types.SimpleNamespace(config=config, view=view, run_id="r" * 32, bundle_with_step=lambda: (bundle, 37))


def _draw_samples():
    import streamlit as st

    from ui.live_views import samples_ui

    run = st.session_state["fake_run"]
    samples_ui(run.view, run.config, "/gan-lab/feed/token")  # AppTest runs the source alone: no globals


def _panel_grid_png(at: AppTest) -> bytes:
    """The PNG of the grid the live panel was drawn with (ui/live_panel.py)."""
    import base64
    import json

    grid = next(json.loads(e.proto.json) for e in at.get("bidi_component") if '"part": "grid"' in e.proto.json)
    return base64.b64decode(grid["grid"]["png"].split(",", 1)[1])


def _png_width(data: bytes) -> int:
    return Image.open(io.BytesIO(data)).size[0]


def test_the_conditional_gans_grid_has_one_column_per_digit():
    """Its fixed labels cycle 0..9: ten columns put each digit in its own column (the others stay 8 by 8)."""
    widths = {}
    for model in ("cgan", "gan"):
        at = AppTest.from_function(_draw_samples, default_timeout=TIMEOUT_S)
        at.session_state["fake_run"] = _fake_run(TINY.replace(model=model), _view())
        at.run()
        assert not at.exception, at.exception
        widths[model] = _png_width(_panel_grid_png(at))
    assert widths == {"cgan": (10 * 30 + 2) * 2, "gan": (8 * 30 + 2) * 2}  # 28 px digits, 2 px borders, scale 2


def _draw_timeline():
    import streamlit as st

    from ui.train_extras import timeline_ui

    timeline_ui(st.session_state["fake_run"], None)


def _timeline_app() -> AppTest:
    at = AppTest.from_function(_draw_timeline, default_timeout=TIMEOUT_S)
    at.session_state["fake_run"] = _fake_run(TINY, _view())
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_timeline_does_not_draw_the_newest_grid_a_second_time():
    at = _timeline_app()
    assert not at.get("image")  # at the newest step the live grid above is that picture
    assert any("sample grid above" in str(c.value) for c in at.caption)
    at.select_slider(key="train_timeline_step").set_value(20).run()
    captions = [image.caption for element in at.get("image") for image in element.proto.imgs]
    assert captions == ["Timeline at step 20: the same 64 noise vectors"]


def test_explore_this_moment_names_the_step_of_the_weights_it_opens():
    at = _timeline_app()
    at.select_slider(key="train_timeline_step").set_value(20).run()
    label = at.button(key="train_timeline_explore").label
    assert label == "Explore step 10", label  # the picture shows step 20: the nearest kept weights are step 10's
    assert any("step 10 is the nearest to 20" in str(c.value) for c in at.caption)
    at.session_state["fake_run"].view.timeline_weight_steps = (10, 20)
    at.run()
    assert at.button(key="train_timeline_explore").label == "Explore step 20"
    assert not any("is the nearest to" in str(c.value) for c in at.caption)


def _draw_downloads():
    import streamlit as st

    from ui.train_extras import downloads_ui

    downloads_ui(st.session_state["fake_run"])


def test_the_bundle_is_named_and_captioned_by_the_step_its_weights_hold():
    """The worker's weights run ahead of the page's view (a bundle of step 37 while the page shows 30): the bundle
    says its own step, not the view's."""
    data = b"PK\x05\x06" + bytes(18)  # the bytes are the worker's business; their step is what is checked
    view = _view(step=30)
    view.history = {"step": np.array([10.0, 20.0, 30.0]), "d_loss": np.array([1.0, 1.1, 1.2])}
    at = AppTest.from_function(_draw_downloads, default_timeout=TIMEOUT_S)
    at.session_state["fake_run"] = _fake_run(TINY, view, data)
    at.run()
    at.button(key="train_prepare_downloads").click().run()
    assert not at.exception, at.exception
    keys = {b.key for b in at.get("download_button")}
    prepared = at.session_state["train_downloads"]
    assert prepared["steps"]["zip"] == 37 and prepared["steps"]["png"] == 30
    assert any("weights of step 37" in str(c.value) for c in at.caption), [c.value for c in at.caption]
    assert keys >= {"train_download_zip", "train_download_png"}


def _draw_upload():
    import streamlit as st

    from ui.train_extras import upload_preview_ui

    upload_preview_ui(None)


def test_the_refusal_count_heads_a_list_of_exactly_that_many_files():
    from gan_core import uploads

    from PIL import ImageDraw

    picture = Image.new("L", (60, 80), 255)
    ImageDraw.Draw(picture).line([(15, 15), (40, 25), (25, 60)], fill=0, width=7)
    good = io.BytesIO()
    picture.save(good, format="PNG")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(70):  # half in a digit's folder, half not: the set is unlabelled, with a note saying so
            archive.writestr(f"7/{i}.png" if i % 2 else f"digits/{i}.png", good.getvalue())
        archive.writestr("notes.txt", b"hello")
        archive.writestr("broken.png", b"\x89PNG\r\n\x1a\nnope")
        archive.writestr("**bold**.exe", b"MZ\x90\x00")
    result = uploads.convert_uploads([("mine.zip", buffer.getvalue())])
    refused = len(result.refused)
    shown_apart = [n for n in result.notes if not n.refused and not n.used]
    at = AppTest.from_function(_draw_upload, default_timeout=TIMEOUT_S)
    at.session_state["train_dataset"] = "upload"
    at.session_state["train_upload"] = {"key": "k", "result": result, "names": ["mine.zip"]}
    at.run()
    assert not at.exception, at.exception
    assert f"{refused} files refused" in result.summary or f"{refused} file refused" in result.summary
    headings = [str(m.value) for m in at.markdown if "each file and why" in str(m.value)]
    assert headings[0].startswith(f"**Refused ({refused})**"), headings
    assert result.count == 70 and refused == 3 and len(shown_apart) == 1  # the "3 refused", "Not used (4)"
    assert headings[1].startswith(f"**Also not used ({len(shown_apart)})**"), headings


def test_elapsed_time_is_short_enough_for_a_projector():
    from ui.train_text import elapsed_text

    assert [elapsed_text(s) for s in (0.4, 15.3, 99.4, 123, 3599, 3725)] == ["0 s", "15 s", "99 s", "2m 03s",
                                                                            "59m 59s", "1h 02m"]


def _draw_presentation():
    import streamlit as st

    from ui.live_views import presentation_ui, status_ui

    run = st.session_state["fake_run"]
    status_ui(run.view, "/gan-lab/feed/token")
    presentation_ui(run.view, run.config, True, "/gan-lab/feed/token")


def test_with_a_feed_the_numbers_and_the_grid_are_the_live_panel_that_the_feed_moves():
    """The Train page's layout: the same numbers and grid, drawn by ui/live_panel.py, which follows the run's feed."""
    import base64
    import json

    from gan_core.images import grid_png

    view = _view()
    view.status, view.busy = "running", True
    view.history = {"step": np.array([10.0, 20.0]), "d_loss": np.array([1.3, 1.2]), "g_loss": np.array([0.7, 0.8])}
    at = AppTest.from_function(_draw_presentation, default_timeout=TIMEOUT_S)
    at.session_state["fake_run"] = _fake_run(TINY.replace(model="cgan"), view)
    at.run()
    assert not at.exception, at.exception
    assert not at.metric and not at.get("image")  # no Streamlit metric or picture: the panel draws both
    panels = {data["part"]: data for data in (json.loads(e.proto.json) for e in at.get("bidi_component")
                                              if "gan_lab_live_panel" in e.proto.component_name)}
    numbers, grid = panels["numbers"], panels["grid"]
    assert [(n["label"], n["value"]) for n in numbers["numbers"]] == [("Step", "30"), ("Elapsed", "2m 03s"),
                                                                     ("Steps/s", "170")]
    assert (numbers["status"], numbers["busy"], numbers["feed"]) == ("running", True, "/gan-lab/feed/token")
    assert grid["grid"]["step"] == 30 and grid["feed"] == "/gan-lab/feed/token"
    png = base64.b64decode(grid["grid"]["png"].split(",", 1)[1])
    assert png == grid_png(view.samples, columns=10, scale=2)  # the cGAN's ten columns, as the feed sends them
    assert grid["caption"] == "The same 64 noise vectors at step {step}"  # the panel fills in each grid's step
    grid_col, curve_col = at.columns[2:4]  # after the status row's two
    assert len(grid_col.get("bidi_component")) == 1 and "live_losses" in str(curve_col.get("bidi_component")[0].proto)

    view.samples = None  # before the run's first grid: the panel is there for the feed to fill, not left out
    at.run()
    grid = next(json.loads(e.proto.json) for e in at.get("bidi_component") if '"part": "grid"' in e.proto.json)
    assert grid["grid"] is None and grid["feed"] == "/gan-lab/feed/token" and not at.get("image")


def test_the_presentation_layout_puts_the_grid_beside_the_loss_curve_and_folds_the_words():
    """At 1024x768 both are above the fold only when they share the first row under the status."""
    from ui.train_text import GRAD_NORM_TEXT

    view = _view()
    view.history = {"step": np.array([10.0, 20.0]), "d_loss": np.array([1.3, 1.2]), "g_loss": np.array([0.7, 0.8]),
                    "d_real": np.array([0.6, 0.6]), "d_fake": np.array([0.4, 0.4]),
                    "d_grad_norm": np.array([1.0, 0.9]), "g_grad_norm": np.array([1.2, 0.5])}
    at = AppTest.from_function(_draw_presentation, default_timeout=TIMEOUT_S)
    at.session_state["fake_run"] = _fake_run(TINY.replace(model="cgan"), view)
    at.run()
    assert not at.exception, at.exception
    grid_col, curve_col = at.columns[2:4]  # after the status row's two (the numbers' panel and the status)
    assert '"part": "grid"' in grid_col.get("bidi_component")[0].proto.json
    assert "live_losses" in str(curve_col.get("bidi_component")[0].proto)
    below = [str(column.get("bidi_component")[0].proto) for column in at.columns[4:6]]  # the next two, side by side
    assert "live_scores" in below[0] and "live_grad_norms" in below[1], below
    assert {e.label for e in at.expander} >= {"About the samples", "About the losses", "About the gradient norms"}
    everywhere = [m for m in at.main.get("markdown") if GRAD_NORM_TEXT[:40] in str(m.value)]
    folded = [m for e in at.expander for m in e.get("markdown") if GRAD_NORM_TEXT[:40] in str(m.value)]
    assert len(everywhere) == len(folded) == 1  # the explanation is there, folded
