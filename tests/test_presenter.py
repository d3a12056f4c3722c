"""Presenter mode: one shared view per run whatever the number of viewers, revocation, ends; the cap under
concurrent starts; and the link's round trip in a real browser (two contexts: presenter and viewer)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ci_support import skip_or_fail

from gan_core.config import GANConfig
from gan_core.engine import SHARE_POLL_S, CapacityError, EngineError, EngineOptions, LabEngine
from process_support import wait_for as _wait

TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)


@pytest.fixture(scope="module")
def engine():
    engine = LabEngine(EngineOptions(max_trainers=2, warm_spare=False, chunk_steps=10, quality_every=0,
                                     judge_dir=None, recovery_every_s=0.0))
    yield engine
    engine.shutdown()


def test_many_viewers_read_one_view_polled_once_a_second_and_reset_ends_it(engine):
    run = engine.create_run(TINY)
    run.start()
    token = engine.share(run)
    assert len(token) >= 32 and engine.share(run) == token == engine.share_token(run)
    shared = engine.watch(token)
    assert engine.watch(token) is shared and engine.watch("not-a-token") is None
    assert _wait(lambda: shared.view().step >= 20, timeout=120)
    before, started = shared.requests, time.monotonic()
    views = set()
    while time.monotonic() - started < 3.0:  # 50 viewers reading as fast as they can
        for _ in range(50):
            views.add(id(shared.view()))
        time.sleep(0.01)
    polls = shared.requests - before
    assert 1 <= polls <= 5, polls  # about one worker request a second, not one per viewer read
    assert len(views) <= polls + 1  # every viewer got the same published object between polls
    view = shared.view()
    assert view.status == "running" and len(view.history["step"]) and view.samples is not None
    run.pause()  # then a viewer is at most one poll behind the presenter, never more
    assert _wait(lambda: not run.poll().busy, timeout=60)
    paused_at = run.poll().step
    assert _wait(lambda: shared.view().step == paused_at, timeout=3 * SHARE_POLL_S + 2), (shared.view().step, paused_at)
    assert list(shared.view().history["step"]) == list(run.poll().history["step"])  # the same curves, whole
    run.start()
    copy = shared.model_copy()
    assert shared.model_copy() is copy  # viewers within a few seconds share one copy of the weights
    assert copy.generate(__import__("numpy").zeros((2, TINY.latent_dim), "float32")).shape == (2, 28, 28)
    run.discard()
    assert shared.ended.startswith("The presenter reset the run")
    assert shared.view().status == "ended" and not shared.view().history
    with pytest.raises(EngineError):
        shared.model_copy()


def test_revoking_ends_the_link_and_a_new_share_gets_a_new_token(engine):
    run = engine.create_run(TINY)
    token = engine.share(run)
    shared = engine.watch(token)
    engine.revoke(token)
    assert "stopped sharing" in shared.ended and engine.watch(token).view().status == "ended"
    assert shared._run is None  # an ended link keeps its message, not the run
    again = engine.share(run)
    assert again != token and not engine.watch(again).ended
    run.close("the browser session ended")  # the presenter leaves
    assert "the browser session ended" in engine.watch(again).ended
    run.discard()


def test_the_local_default_never_imports_ray():
    import subprocess
    import sys

    code = ("import sys, os; os.environ.pop('GAN_LAB_ENGINE', None); from gan_core.engine import EngineOptions; "
            "from gan_core.transport import LocalWorker; import ui.presenter; "
            "assert EngineOptions().make_worker is LocalWorker; print('ray' in sys.modules, 'tensorflow' in sys.modules)")
    env = {key: value for key, value in os.environ.items() if key != "GAN_LAB_ENGINE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=str(Path(__file__).resolve().parents[1]), check=True).stdout.split()
    assert out == ["False", "False"]


def test_the_cap_holds_under_concurrent_starts():
    engine = LabEngine(EngineOptions(max_trainers=2, warm_spare=False, chunk_steps=10, quality_every=0,
                                     judge_dir=None))
    made, refused, barrier = [], [], threading.Barrier(6)

    def start():
        barrier.wait()
        try:
            made.append(engine.create_run(TINY))
        except CapacityError as exc:
            refused.append(str(exc))

    try:
        threads = [threading.Thread(target=start) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(made) == 2 and len(refused) == 4
        assert all("All 2 training slots" in message and "press Start again" in message for message in refused)
    finally:
        for run in made:
            run.discard()
        engine.shutdown()


# ---- the Playground's share: a state the presenter's browser publishes, checked, latest kept ---------
def _playground_state(step: int, config=None, seq: int = 1) -> dict:
    import numpy as np

    from gan_core.toy import ToyConfig
    from gan_core.toy_share import encode_weights, network_sizes, parameter_count

    config = config or ToyConfig()
    sizes = network_sizes(config)
    return {"seq": seq, "extent": 3.0, "running": True, "sentence": "", "layers": {"heatmap": True}, "drawn": [],
            "runs": [{"label": "", "config": config.to_dict(), "step": step,
                      **{name: encode_weights(np.zeros(parameter_count(sizes[name]))) for name in sizes},
                      "history": {"step": [step], "d_loss": [1.0], "g_loss": [1.0], "d_real": [0.5], "d_fake": [0.5]},
                      "scores": {"covered": 8, "total": 8, "hq": 0.9}}]}


def test_a_playground_share_keeps_the_latest_checked_state_a_few_times_a_second_and_ends():
    from gan_core.engine.sharing import Shares
    from gan_core.limits import PLAYGROUND_MIN_PUBLISH_S

    shares = Shares(backend=None, make_model=None)
    token = shares.share_playground("playground:session-a")
    assert len(token) >= 32 and shares.share_playground("playground:session-a") == token
    assert shares.share_playground("playground:session-b") != token  # one link per presenter session
    shared = shares.watch(token)
    assert shared.kind == "playground" and shared.latest() is None
    assert shared.publish(_playground_state(10), now=100.0)
    assert not shared.publish(_playground_state(11), now=100.0 + PLAYGROUND_MIN_PUBLISH_S / 2)  # too soon: dropped
    assert shared.latest()["runs"][0]["step"] == 10
    assert shared.publish(_playground_state(12), now=100.0 + PLAYGROUND_MIN_PUBLISH_S)
    assert shared.latest()["runs"][0]["step"] == 12 and shared.published == 2
    shares.revoke(token)
    assert "stopped sharing" in shared.ended and shared.latest() is None
    assert not shared.publish(_playground_state(13), now=200.0)
    assert shares.playground_token("playground:session-a") is None


@pytest.mark.parametrize("spoil, words", [
    (lambda s: s["runs"][0].update(G=s["runs"][0]["G"][:-4]), "run 1: G: must be base64 of exactly 1,218"),
    (lambda s: s["runs"][0].update(D="!" * len(s["runs"][0]["D"])), "run 1: D: not base64"),
    (lambda s: s["runs"][0]["config"].update(hidden_units=512, depth=6), "more than presenter mode shares"),
    (lambda s: s["runs"][0]["config"].update(loss="cheat"), "run 1: config: loss must be one of"),
    (lambda s: s["runs"].extend([s["runs"][0]] * 2), "1 to 2 runs"),
    (lambda s: s["runs"][0]["history"].update(step=list(range(1000))), "at most 512 numbers"),
    (lambda s: s["runs"][0]["history"].update(step=[1, 2]), "one length"),
    (lambda s: s.update(sentence="x" * 5000), "sentence: must be text of at most 600"),
    (lambda s: s.update(extra=["x" * 1024] * 3000), "larger than 2 MiB"),
    (lambda s: s.update(deep=[[[[[[["x"]]]]]]]), "nested deeper"),
    (lambda s: s.update(drawn=[[0.0, float("nan")]]), "drawn points must be finite"),
])
def test_a_published_playground_state_is_refused_with_what_is_wrong(spoil, words):
    import base64

    import numpy as np

    from gan_core.toy_share import StateRefused, check_state

    good = _playground_state(5)
    checked = check_state(good)
    assert checked["runs"][0]["G"] == good["runs"][0]["G"] and "extra" not in checked
    spoil(good)
    with pytest.raises(StateRefused, match=None) as refused:
        check_state(good)
    assert words in str(refused.value), str(refused.value)
    nan = _playground_state(5)
    count = len(base64.b64decode(nan["runs"][0]["G"])) // 4
    nan["runs"][0]["G"] = base64.b64encode(np.full(count, np.nan, "<f4").tobytes()).decode()
    with pytest.raises(StateRefused, match="finite"):
        check_state(nan)


# ---- the link in a real browser ---------------------------------------------------------------------
def _press(page, key: str, until_enabled: str, tries: int = 3) -> None:
    """Click the button `key` until the button `until_enabled` is enabled: on a loaded machine a click that lands
    while the page redraws may be lost, and the viewer's wait must start from the presenter's own change."""
    from browser_support import by_key, wait_until

    button = by_key(page, key).get_by_role("button")
    done = lambda: by_key(page, until_enabled).get_by_role("button").is_enabled()  # noqa: E731
    for _ in range(tries):
        if button.is_enabled():  # not yet taken (a slow page may still be drawing an earlier click: no second one)
            button.click()
        if wait_until(done, timeout=10):
            return
    raise AssertionError(f"the presenter's {key} click never took ({tries} clicks, 10 s apart)")


def test_a_presenter_link_in_a_browser_shows_the_run_live_without_controls_and_revoking_ends_it():
    sync_api = pytest.importorskip("playwright.sync_api")
    from browser_support import AppServer, INSTALL_HINT, by_key, launch_browser, screenshot, step_value, wait_until

    with sync_api.sync_playwright() as playwright:
        browser = launch_browser(playwright)
        if browser is None:
            skip_or_fail(INSTALL_HINT)
        with AppServer() as server:
            presenter = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            presenter.set_default_timeout(120_000)
            presenter.goto(server.url)
            by_key(presenter, "train_start").get_by_role("button").click()
            assert wait_until(lambda: step_value(presenter) > 0, timeout=180)
            presenter.get_by_text("Share live view").first.click()  # the expander
            by_key(presenter, "presenter_share").get_by_role("button").click()
            code = presenter.locator('[data-testid="stCode"] code').first
            code.wait_for()
            link = code.inner_text().strip()
            assert "?watch=" in link and len(link.split("watch=")[1]) >= 32 and link.startswith(server.url)

            viewer = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            viewer.set_default_timeout(120_000)
            viewer.goto(link)
            viewer.get_by_text("Live view").first.wait_for()
            assert wait_until(lambda: viewer.locator('[data-testid="live-metric"]').count() > 0, timeout=60)
            first = step_value(viewer)
            assert wait_until(lambda: step_value(viewer) > first, timeout=60)  # it advances by itself
            # Through the shared run's live feed, between the viewer page's reruns (every 30 s): the curves gain
            # points from the feed, and the grid is swapped in place.
            loss = viewer.locator('[data-testid="stream-chart"]').first
            assert wait_until(lambda: int(loss.get_attribute("data-feed-appends") or 0) >= 3, timeout=30), (
                "the viewer's loss curve did not follow the feed")
            grid = viewer.locator('[data-testid="live-grid"]').first
            grid_step = int(grid.get_attribute("data-step"))
            assert wait_until(lambda: int(grid.get_attribute("data-step")) > grid_step, timeout=30)
            for key in ("train_start", "train_pause", "train_resume", "train_step", "train_reset", "presenter_share"):
                assert by_key(viewer, key).count() == 0, key
            assert viewer.get_by_text("Recipe").count() == 0  # no sidebar recipe
            screenshot(viewer, "presenter_viewer_live")
            assert grid.locator("img").evaluate("img => img.complete && img.naturalWidth") > 0
            # A pause and a resume reach the viewer within seconds, not at its next timed rerun: its numbers panel
            # goes on reading the feed of a paused run (only the presenter can resume it).
            _press(presenter, "train_pause", until_enabled="train_resume")
            viewer.get_by_text("The presenter paused the training.").wait_for(timeout=15_000)
            _press(presenter, "train_resume", until_enabled="train_pause")
            viewer.get_by_text("Training live in the presenter's process").wait_for(timeout=15_000)
            resumed = step_value(viewer)
            assert wait_until(lambda: step_value(viewer) > resumed, timeout=15)
            assert viewer.locator('[data-testid="stException"]').count() == 0

            viewer.get_by_role("link", name="Explore").click()
            viewer.get_by_text("copy of the presenter's latest generator").wait_for()
            assert wait_until(lambda: viewer.get_by_text("Using a private copy of the weights at step").count() > 0, 60)
            digit = viewer.get_by_test_id("latent-digit")  # the sliders' digit, drawn by the server
            assert wait_until(lambda: digit.count() == 1 and (digit.get_attribute("src") or "").startswith(
                "data:image/png"), 60)
            assert viewer.locator('[data-testid="stException"]').count() == 0
            screenshot(viewer, "presenter_viewer_explore")

            viewer.get_by_role("link", name="Live view").click()
            viewer.get_by_text("Step").first.wait_for()
            for _ in range(3):  # a click that lands while the presenter's page redraws may be lost: click again
                by_key(presenter, "presenter_revoke").get_by_role("button").click()
                if wait_until(lambda: by_key(presenter, "presenter_revoke").count() == 0, timeout=10):
                    break
            else:
                screenshot(presenter, "presenter_revoke_lost")
                raise AssertionError("the presenter's Revoke button stayed after three clicks, 10 s apart")
            try:
                # Within seconds, not at the viewer page's next timed rerun (30 s): the feed's status changed.
                viewer.get_by_text("The presenter stopped sharing this live view").wait_for(timeout=15_000)
            finally:
                screenshot(viewer, "presenter_viewer_revoked")
                screenshot(presenter, "presenter_after_revoke")
        browser.close()
