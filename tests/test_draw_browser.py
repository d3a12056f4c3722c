"""In Chromium: draw a digit with the mouse on the Explore page, project it, and explore from it, for every model.

What AppTest cannot see (tests/test_pages_family.py patches the canvas's picture in): the canvas taking mouse
strokes, its picture reaching the server, the button waking up, the projection's progress and result drawn, and
the views and the address bar starting from the projected z. One server for the module; one page per model.
"""

from __future__ import annotations

import re

import pytest


from browser_support import browser, server  # noqa: F401  (pytest fixtures)
from browser_support import playwright_sync_api
from browser_support import by_key, screenshot, wait_until, wait_for_app_idle

playwright_sync_api()  # skips (fails under CI) without Playwright

PAGE_TIMEOUT_MS = 120_000  # the first visit imports TensorFlow in the inference worker (slower under load)
PROJECT_TIMEOUT_MS = 240_000  # a GAN's projection: 200 Adam steps x 3 starts in the worker, chunk by chunk
# A "7": the top bar, then the diagonal down to the bottom, in canvas fractions.
SEVEN = [(0.3, 0.25), (0.7, 0.25), (0.62, 0.45), (0.5, 0.78)]
# Every model of the family (the 2-D VAE is the same code path as the 16-D one).
MODELS = ["gan", "dcgan", "wgan_gp", "cgan", "vae", "ae"]


@pytest.fixture
def page(browser, server, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    screenshot(opened, f"end_{request.node.name}")
    context.close()
    assert not errors, errors


def _draw(page, points) -> None:
    canvas = page.get_by_test_id("draw-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def _main_digit_caption(page) -> str:
    """The words under the sliders' digit (inside the sliders component, ui/latent_sliders.py)."""
    return page.get_by_test_id("latent-caption").inner_text()


@pytest.mark.parametrize("model", MODELS)
def test_draw_a_digit_project_it_and_explore_from_it(page, server, model):
    page.goto(f"{server.url}/explore?model={model}")
    page.get_by_text("Start from your own digit").click()  # the expander
    page.get_by_test_id("draw-canvas").wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_for_app_idle(page)
    project = page.get_by_role("button", name="Find it in the latent space").first
    assert project.is_disabled()  # nothing drawn yet

    _draw(page, SEVEN)
    assert page.get_by_test_id("draw-digit").get_attribute("data-strokes") == "1"
    page.locator(".st-key-explore_draw_project button:enabled").first.wait_for()  # the picture reached the server
    wait_for_app_idle(page)
    project.click()

    distance = page.get_by_text("mean pixel difference")
    distance.wait_for(timeout=PROJECT_TIMEOUT_MS)
    wait_for_app_idle(page, timeout_ms=PROJECT_TIMEOUT_MS)
    value = float(re.search(r"mean pixel difference ([0-9.]+)", distance.inner_text()).group(1))
    assert 0.0 <= value < 0.5, f"{model}: the projection is far from the drawing ({value})"
    assert page.get_by_text("Its projection").count() >= 1  # the projected digit beside the drawn one
    screenshot(page, f"draw_{model}_projected")

    # The sliders, the address bar and the other views start from the projected z, named "your drawing".
    assert wait_until(lambda: "your drawing" in _main_digit_caption(page), timeout=30), _main_digit_caption(page)
    assert "drawn=" in page.url and "seed=" not in page.url, page.url
    by_key(page, "explore_view").locator("button").filter(has_text="Interpolate").click()
    wait_for_app_idle(page)
    _assert_interpolation_starts_from_the_drawing(page)
    screenshot(page, f"draw_{model}_interpolate")

    link = page.url  # the address bar now holds the drawing, the view and (for the cGAN) the digit
    assert "view=interpolate" in link, link
    page.goto(link)  # a fresh session from the link alone: the same state
    page.get_by_text("From your drawing to #6 in 8 steps").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_for_app_idle(page)
    _assert_interpolation_starts_from_the_drawing(page)
    assert page.locator('[data-testid="stException"]').count() == 0


def _assert_interpolation_starts_from_the_drawing(page) -> None:
    picker = by_key(page, "explore_interp_a_drawing")
    shown = picker.inner_text() + " ".join(picker.locator("input").evaluate_all("inputs => inputs.map(i => i.value)"))
    assert "your drawing" in shown, shown
    walk = page.locator('[data-testid="stImageContainer"]').filter(has_text="From your drawing to #6 in 8 steps")
    walk.locator("img").wait_for()
    assert walk.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
