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

    class Shared(types.SimpleNamespace):  # a class of its own: the live feed holds a shared run weakly, by identity
        __hash__ = object.__hash__

        def poll(self):
            return self.view()

    shared = Shared(config=GANConfig(hidden_units=16, latent_dim=8), ended="", run_id="r" * 32, view=RunView,
                    quality_note="")
    monkeypatch.setattr(presenter, "watched", lambda: shared)
    at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=60)
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


def _timeline_app(explorable: bool) -> None:
    import types

    import numpy as np

    from gan_core.config import GANConfig
    from ui import train_extras

    view = types.SimpleNamespace(timeline_steps=[100, 200, 300], max_frames=300,
                                 timeline_frames=[np.zeros((64, 28, 28), np.uint8)] * 3,
                                 timeline_weight_steps=(100, 300),
                                 timeline_frame=lambda step: np.zeros((64, 28, 28), np.uint8))
    run = types.SimpleNamespace(view=view, run_id="r" * 32, config=GANConfig(hidden_units=16, latent_dim=8))
    train_extras.timeline_ui(run, refresh_s=None, explorable=explorable)


def test_a_viewers_timeline_offers_no_explore_button_that_would_fail():
    """Issue 14, item 8: a viewer cannot fetch past weights, so the timeline must not offer to."""
    owner = AppTest.from_function(_timeline_app, args=(True,), default_timeout=60)
    owner.run()
    assert not owner.exception, owner.exception
    assert any(b.key == "train_timeline_explore" for b in owner.button)  # the owner's page still offers it

    viewer = AppTest.from_function(_timeline_app, args=(False,), default_timeout=60)
    viewer.run()
    assert not viewer.exception, viewer.exception
    assert not any(b.key == "train_timeline_explore" for b in viewer.button)
    assert any("latest generator" in str(c.value) for c in viewer.caption)
