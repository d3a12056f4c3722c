"""Two Streamlit replicas on one Ray cluster: a presenter's link made on one, opened on the other.

    .venv/bin/python benchmarks/ray_replicas.py

Starts a local Ray head (`ray start --head --num-cpus 2`), two `streamlit run app.py` with GAN_LAB_ENGINE=ray,
a presenter in Chromium on replica 1 (Start, Share live view) and a viewer in Chromium on replica 2 with the
same token; reports whether the viewer's Step advances and whether Reset on replica 1 reaches it; `ray stop`
at the end. Screenshots go to artifacts/.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import (ARTIFACTS, NUMBERS, AppServer, by_key, launch_browser, step_value,  # noqa: E402
                             wait_until)

RAY = str(Path(sys.executable).with_name("ray"))
ENV = {"GAN_LAB_ENGINE": "ray", "RAY_ADDRESS": "auto", "GAN_LAB_RAY_TRAINER_CPUS": "1",
       "GAN_LAB_RAY_INFERENCE_CPUS": "0.5", "GAN_LAB_MAX_TRAINERS": "2"}


def main() -> dict:
    from playwright.sync_api import sync_playwright

    subprocess.run([RAY, "start", "--head", "--num-cpus", "2", "--include-dashboard=false",
                    "--disable-usage-stats"], check=True, capture_output=True)
    report: dict = {}
    try:
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            with AppServer(env=ENV) as one, AppServer(env=ENV) as two:
                presenter = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                presenter.set_default_timeout(240_000)
                started = time.monotonic()
                presenter.goto(one.url)
                by_key(presenter, "train_start").get_by_role("button").click()
                report["presenter_trains"] = wait_until(lambda: step_value(presenter) > 0, 300)
                report["first_step_s"] = round(time.monotonic() - started, 1)
                presenter.get_by_text("Share live view").first.click()
                by_key(presenter, "presenter_share").get_by_role("button").click()
                link = presenter.locator('[data-testid="stCode"] code').first.inner_text().strip()
                viewer = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
                viewer.set_default_timeout(240_000)
                viewer.goto(link.replace(one.url, two.url))  # the other replica
                wait_until(lambda: viewer.locator(NUMBERS).count() > 0, 240)
                first = step_value(viewer)
                report["viewer_step_advances"] = wait_until(lambda: step_value(viewer) > first, 60)
                report["viewer_steps"] = [first, step_value(viewer)]
                ARTIFACTS.mkdir(exist_ok=True)
                viewer.screenshot(path=str(ARTIFACTS / "ray_viewer_on_replica_2.png"))
                by_key(presenter, "train_reset").get_by_role("button").click()
                report["viewer_told_of_reset"] = wait_until(
                    lambda: viewer.get_by_text("The presenter reset the run").count() > 0, 60)
                report["exceptions"] = (viewer.locator('[data-testid="stException"]').count()
                                        + presenter.locator('[data-testid="stException"]').count())
            browser.close()
    finally:
        subprocess.run([RAY, "stop"], capture_output=True)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
