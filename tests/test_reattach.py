"""A run belongs to the browser: a reload or a second tab reattaches to it; another browser does not."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gan_core import reattach
from gan_core.checkpoints import save_weights_folder
from gan_core.config import GANConfig
from gan_core.models import build_model
from process_support import wait_for

ROOT = Path(__file__).resolve().parents[1]
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
SECRET_A = "A" * 43
SECRET_B = "B" * 43


class FakeRun:
    def __init__(self):
        self.closed = threading.Event()
        self.reason = ""

    def close(self, reason: str = "reset") -> None:
        self.reason = reason
        self.closed.set()


# ---- the registry ----------------------------------------------------------------------------
def test_a_session_that_comes_back_within_the_grace_period_keeps_the_run():
    registry = reattach.BrowserRegistry(grace_s=0.3)
    entry = registry.join(SECRET_A, "tab-1")
    entry.run = run = FakeRun()
    registry.leave(SECRET_A, "tab-1")
    assert registry.join(SECRET_A, "tab-2").run is run  # the reload
    assert not run.closed.wait(0.6)  # the timer was cancelled


def test_a_browser_away_past_the_grace_period_has_its_run_closed():
    registry = reattach.BrowserRegistry(grace_s=0.1)
    registry.join(SECRET_A, "tab-1").run = run = FakeRun()
    registry.join(SECRET_A, "tab-2")
    registry.leave(SECRET_A, "tab-1")
    assert not run.closed.wait(0.3)  # another tab of the browser is still there
    registry.leave(SECRET_A, "tab-2")
    assert run.closed.wait(5) and run.reason == reattach.ENDED_REASON


def test_another_browser_or_a_malformed_secret_gets_nothing():
    registry = reattach.BrowserRegistry()
    registry.join(SECRET_A, "tab-1").run = FakeRun()
    assert registry.join(SECRET_B, "tab-9").run is None
    with pytest.raises(ValueError):
        registry.join("guess", "tab-9")
    assert reattach.valid_secret(reattach.new_secret()) and reattach.secret_hash(SECRET_A) != SECRET_A


def test_the_registry_is_bounded_and_drops_the_oldest_idle_browser():
    registry = reattach.BrowserRegistry(max_browsers=2)
    registry.join(SECRET_A, "a").run = old = FakeRun()
    registry.leave(SECRET_A, "a")
    registry.join(SECRET_B, "b")
    registry.join("C" * 43, "c")
    assert old.closed.is_set() and registry.join(SECRET_A, "a2").run is None


@pytest.mark.parametrize("text, grace", [("", 600.0), ("8", 8.0), ("2.5", 2.5), ("0", 600.0), ("-3", 600.0),
                                         ("ten", 600.0), ("nan", 600.0)])
def test_an_operator_sets_the_browser_grace_and_a_bad_value_keeps_the_default(monkeypatch, text, grace):
    from gan_core.engine import options

    monkeypatch.setenv("GAN_LAB_BROWSER_GRACE_S", text)
    assert options.default_browser_grace_s(600.0) == grace


# ---- the app -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained") / "gan"
    return save_weights_folder(folder, build_model(TINY), TINY, {"step": 500})


@pytest.fixture
def app(monkeypatch, tiny_weights):
    import streamlit as st

    from ui import state

    st.cache_resource.clear()
    monkeypatch.setattr(state, "BASE_CONFIG", TINY)
    monkeypatch.setattr(state, "CHUNK_STEPS", 10)
    monkeypatch.setattr(state, "PRETRAINED_DIR", tiny_weights)
    monkeypatch.setattr(state, "BROWSER_GRACE_S", 30.0)
    monkeypatch.delenv("GAN_LAB_DATA_ROOT", raising=False)
    cookie = {"secret": SECRET_A}
    monkeypatch.setattr(state, "cookie_secret", lambda: cookie["secret"])

    def session() -> AppTest:
        at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=120)
        at.run()
        assert not at.exception, at.exception
        return at

    yield session, cookie
    st.cache_resource.clear()  # ends the engine and its workers


def _end_session(at) -> None:
    """What Streamlit does when a browser's websocket goes away: release the session's cache entries."""
    from streamlit.runtime.caching.cache_resource_api import clear_session_cache

    from ui import state

    clear_session_cache(at.session_state[state.SESSION_ID_KEY])


def test_a_reload_reattaches_to_the_run_and_another_browser_does_not(app):
    from ui import state

    session, cookie = app
    first = session()
    first.button(key="train_start").click().run()
    run = first.session_state[state.RUN_KEY]
    assert run.wait_for_step(10, timeout=180)
    first.button(key="train_pause").click().run()
    _end_session(first)  # F5: this websocket's session ends ...

    reloaded = session()  # ... and the same browser (same cookie) opens a new one
    assert reloaded.session_state[state.RUN_KEY] is run and run.live
    assert reloaded.button(key="train_pause").disabled and not reloaded.button(key="train_resume").disabled
    assert "Nothing is training yet" not in " ".join(str(e.value) for e in reloaded.markdown)

    cookie["secret"] = SECRET_B
    stranger = session()
    assert state.RUN_KEY not in stranger.session_state
    assert not stranger.button(key="train_start").disabled

    cookie["secret"] = SECRET_A
    second_tab = session()
    second_tab.button(key="train_reset").click().run()  # Reset archives the run for this browser
    _end_session(second_tab)
    later = session()  # "Your runs" outlives a reload
    assert state.RUN_KEY not in later.session_state
    later.switch_page("ui/compare_page.py").run()
    assert not later.exception
    assert any("Kept so far: Run 1" in str(e.value) for e in later.info)
