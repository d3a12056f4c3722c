"""The viewer's Live view keeps one element tree while the presenter stops sharing (no "Bad delta path index")."""

from __future__ import annotations

import types
from pathlib import Path

from streamlit.testing.v1 import AppTest

from gan_core.config import GANConfig
from gan_core.messages import RunView

ROOT = Path(__file__).resolve().parents[1]


def _top_level(at) -> int:
    """How many top-level slots the main area has: the indices a fragment's delta addresses.

    What a slot holds may change (the notice goes from a caption to a warning); how many there are may not.
    """
    return len(at.main.children)


def test_the_live_view_draws_the_same_slots_before_and_after_sharing_stops(monkeypatch):
    from ui import presenter

    shared = types.SimpleNamespace(config=GANConfig(hidden_units=16, latent_dim=8), ended="", run_id="r" * 32,
                                   view=RunView, quality_note="")
    monkeypatch.setattr(presenter, "watched", lambda: shared)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params[presenter.WATCH_PARAM] = "t" * 32
    at.run()
    assert not at.exception, at.exception
    live = _top_level(at)
    assert any("first few training steps" in str(info.value) for info in at.info)

    shared.ended = "The presenter stopped sharing this live view."
    at.run()
    assert not at.exception, at.exception
    assert _top_level(at) == live
    assert any("stopped sharing" in str(warning.value) for warning in at.warning)

    monkeypatch.setattr(presenter, "watched", lambda: None)  # an unknown link: still the same slots
    at.run()
    assert _top_level(at) == live and any("does not lead to a run" in str(e.value) for e in at.error)
