"""AppTest of the Playground page: presets, recipe options and the two-run comparison reach the component;
drawn points come back; the page process never loads TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGE = "ui/playground_page.py"
COMPONENT = "gan_lab_playground"


@pytest.fixture
def at():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    return app


def _sent(app) -> dict:
    [element] = [e for e in app.get("bidi_component") if COMPONENT in e.proto.component_name]
    return json.loads(element.proto.json)


def test_the_ring_is_the_default_with_the_default_recipe(at):
    from gan_core.toy import ToyConfig

    sent = _sent(at)
    [run] = sent["runs"]
    assert run["config"] == ToyConfig(dataset="ring8").to_dict()
    assert sent["extent"] == 3.0 and sent["drawn"] == []


def test_each_preset_reaches_the_component(at):
    from gan_core.toy import recipe_for

    for preset, extent in (("grid25", 5.5), ("moons", 2.5), ("spiral", 2.5), ("line", 2.5)):
        at.selectbox(key="playground_dataset").set_value(preset).run()
        assert not at.exception, at.exception
        sent = _sent(at)
        assert sent["runs"][0]["config"]["dataset"] == preset and sent["extent"] == extent
        assert sent["runs"][0]["config"]["hidden_units"] == recipe_for(preset).hidden_units


def test_options_reach_the_running_model(at):
    at.selectbox(key="pg_default_loss").set_value("hinge").run()
    at.number_input(key="pg_default_r1").set_value(0.5).run()
    at.number_input(key="pg_default_dsteps").set_value(3).run()
    config = _sent(at)["runs"][0]["config"]
    assert (config["loss"], config["r1_gamma"], config["d_steps"]) == ("hinge", 0.5, 3)
    at.radio(key="playground_recipe").set_value("textbook").run()
    config = _sent(at)["runs"][0]["config"]
    assert (config["r1_gamma"], config["ema_decay"], config["g_learning_rate"]) == (0.0, 0.0, 2e-4)


def test_the_comparison_runs_textbook_and_default_with_one_seed(at):
    at.number_input(key="playground_seed").set_value(7).run()
    at.radio(key="playground_view_mode").set_value("Compare recipes side by side").run()
    assert not at.exception, at.exception
    left, right = _sent(at)["runs"]
    assert left["label"] == "Textbook recipe" and right["label"] == "Default recipe"
    assert left["config"]["seed"] == right["config"]["seed"] == 7
    assert left["config"]["r1_gamma"] == 0.0 and right["config"]["r1_gamma"] > 0
    assert left["config"]["hidden_units"] == right["config"]["hidden_units"]
    assert any("The lesson" in m.value for m in at.markdown)


def test_drawn_points_come_back_and_are_kept(at):
    at.selectbox(key="playground_dataset").set_value("drawn").run()
    assert "Nothing drawn yet" in " ".join(c.value for c in at.caption)
    assert _sent(at)["runs"][0]["config"]["dataset"] == "drawn"
    at.session_state["playground_view"] = {"drawn": [[0.1, 0.2], [0.3, -0.4]]}  # as the browser's mouse-up does
    at.run()
    assert _sent(at)["drawn"] == [[0.1, 0.2], [0.3, -0.4]]
    assert "2 points drawn." in " ".join(c.value for c in at.caption)


def test_the_page_process_never_loads_tensorflow():
    script = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
              "from streamlit.testing.v1 import AppTest\n"
              f"at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=60); at.run()\n"
              f"at.switch_page({PAGE!r}).run(); assert not at.exception, at.exception\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
