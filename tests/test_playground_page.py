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
    app = AppTest.from_file(str(ROOT / "main.py"), default_timeout=60)
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
        expected = recipe_for(preset)
        assert sent["runs"][0]["config"]["hidden_units"] == expected.hidden_units
        assert sent["runs"][0]["config"]["g_learning_rate"] == expected.g_learning_rate  # each preset's own recipe
        assert sent["runs"][0]["config"]["lr_half_life"] == expected.lr_half_life  # the grid's decay reaches it


def test_options_reach_the_running_model(at):
    at.selectbox(key="pg_default_loss").set_value("hinge").run()
    at.number_input(key="pg_default_ring8_r1").set_value(0.5).run()
    at.number_input(key="pg_default_dsteps").set_value(3).run()
    config = _sent(at)["runs"][0]["config"]
    assert (config["loss"], config["r1_gamma"], config["d_steps"]) == ("hinge", 0.5, 3)
    at.number_input(key="pg_default_ring8_halflife").set_value(1500).run()
    at.number_input(key="pg_default_ring8_decaystart").set_value(4000).run()
    config = _sent(at)["runs"][0]["config"]
    assert (config["lr_half_life"], config["lr_decay_start"]) == (1500, 4000)
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
              f"at = AppTest.from_file({str(ROOT / 'main.py')!r}, default_timeout=60); at.run()\n"
              f"at.switch_page({PAGE!r}).run(); assert not at.exception, at.exception\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


# ---- presenter mode ---------------------------------------------------------------------------------------------
def _published(seq: int, step: int, config=None) -> dict:
    """A state as the presenter's browser publishes it (ui/components/playground; gan_core/toy_share.py)."""
    import numpy as np

    from gan_core.toy import ToyConfig
    from gan_core.toy_share import encode_weights, network_sizes, parameter_count

    config = config or ToyConfig()
    sizes = network_sizes(config)
    weights = {name: encode_weights(np.full(parameter_count(sizes[name]), 0.01 * step)) for name in sizes}
    return {"seq": seq, "extent": 3.0, "running": True, "slow_motion": False, "sentence": "", "drawn": [],
            "layers": {"heatmap": True, "arrows": False},
            "runs": [{"label": "", "config": config.to_dict(), "step": step, **weights,
                      "history": {"step": [step], "d_loss": [1.3], "g_loss": [0.7], "d_real": [0.5], "d_fake": [None]},
                      "scores": {"covered": 3, "total": 8, "hq": 0.5, "js": None, "kl": None}}]}


def _watched_state(viewer) -> dict | None:
    return _sent(viewer).get("watch")


@pytest.fixture
def light_engine(monkeypatch):
    """An engine with no worker processes (the Playground's share needs only its registry)."""
    from gan_core.engine import EngineOptions, LabEngine
    from ui import state

    engine = LabEngine(EngineOptions(warm_spare=False, judge_dir=None), start=False)
    monkeypatch.setattr(state, "engine", lambda: engine)
    yield engine
    engine.shutdown()


def test_sharing_the_playground_lets_a_viewer_watch_the_step_advance(at, light_engine):
    import time

    from ui import presenter

    assert _sent(at)["publish"] is False
    at.button(key="playground_share").click().run()
    assert not at.exception, at.exception
    [link] = [c.value for c in at.code if "?watch=" in c.value]
    token = link.split("?watch=")[1]
    assert len(token) >= 32 and _sent(at)["publish"] is True  # the component now publishes its state

    viewer = AppTest.from_file(str(ROOT / "main.py"), default_timeout=60)
    viewer.query_params[presenter.WATCH_PARAM] = token
    viewer.run()
    assert not viewer.exception, viewer.exception
    assert [t.value for t in viewer.title] == ["Live view: Playground"]
    assert any("appears here" in str(i.value) for i in viewer.info)  # nothing published yet
    assert not any(b.key in ("playground_share", "pg_default_loss") for b in viewer.button)  # no controls

    at.session_state["playground_view"] = {"published": _published(1, 40)}  # as the browser's component does
    at.run()
    viewer.run()
    assert not viewer.exception, viewer.exception
    first = _watched_state(viewer)
    assert first["runs"][0]["step"] == 40 and first["runs"][0]["scores"]["covered"] == 3

    time.sleep(0.2)  # the share keeps at most one state per PLAYGROUND_MIN_PUBLISH_S
    at.session_state["playground_view"] = {"published": _published(2, 95)}
    at.run()
    viewer.run()
    assert _watched_state(viewer)["runs"][0]["step"] == 95  # the viewer follows the presenter's run

    time.sleep(0.2)
    bad = _published(3, 120)
    bad["runs"][0]["G"] = bad["runs"][0]["G"][:-8]  # weights that do not fit the config: refused, said, not kept
    at.session_state["playground_view"] = {"published": bad}
    at.run()
    assert any("Viewers do not see the latest state" in str(w.value) and "run 1: G" in str(w.value)
               for w in at.warning)
    viewer.run()
    assert _watched_state(viewer)["runs"][0]["step"] == 95

    at.button(key="playground_revoke").click().run()  # stop sharing: the viewer is told, sees nothing more
    viewer.run()
    assert not viewer.exception, viewer.exception
    assert any("stopped sharing" in str(w.value) for w in viewer.warning)
    assert not [e for e in viewer.get("bidi_component") if COMPONENT in e.proto.component_name]
    assert _sent(at)["publish"] is False
