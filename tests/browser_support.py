"""Helpers for driving the real app in a real browser: find Chromium, run `streamlit run app.py`, read the page.

Used by tests/test_browser.py and benchmarks/ui_speed.py. Nothing here imports TensorFlow: the app runs in its
own process, started with this interpreter, exactly as `make run` starts it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
INSTALL_HINT = ("No Chromium for the browser tests. Install one of: Debian's `apt-get install chromium`, or "
                "Playwright's own browser with `.venv/bin/python -m playwright install chromium`.")
SERVER_START_TIMEOUT_S = 90.0
# The Explore page's server-drawn digit (ui/latent_sliders.py): an <img> inside the sliders component's shadow
# root, which document.querySelector does not enter. Returns the element, or null before the page draws it.
LATENT_DIGIT_JS = """() => {
  const seek = (root) => {
    const hit = root.querySelector('[data-testid="latent-digit"]');
    if (hit) return hit;
    for (const el of root.querySelectorAll('*')) {
      const found = el.shadowRoot && seek(el.shadowRoot);
      if (found) return found;
    }
    return null;
  };
  return seek(document);
}"""


# ---- the browser ------------------------------------------------------------------------------
def playwright_sync_api():
    """Playwright's sync API for a browser test module; under CI its absence fails the module, elsewhere skips it.

    Call at module level: `sync_api = playwright_sync_api()`."""
    try:
        from playwright import sync_api
    except ImportError:  # pragma: no cover - requirements-dev.txt installs it
        import pytest
        from ci_support import in_ci
        if in_ci():
            raise
        pytest.skip("playwright is not installed: `.venv/bin/python -m pip install -r requirements-dev.txt`",
                    allow_module_level=True)
    return sync_api


def chromium_path() -> str | None:
    """Debian's chromium, else any `chromium` on PATH; None when neither is there."""
    if DEBIAN_CHROMIUM.exists() and os.access(DEBIAN_CHROMIUM, os.X_OK):
        return str(DEBIAN_CHROMIUM)
    return shutil.which("chromium")


def launch_browser(playwright):
    """A headless Chromium: the system one, else Playwright's own; None when neither can start.

    Playwright's own browser exists only after `python -m playwright install chromium`, so it is detected by
    trying to launch it.
    """
    from playwright.sync_api import Error as PlaywrightError

    executable = chromium_path()
    if executable is not None:
        return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    try:
        return playwright.chromium.launch(args=CHROMIUM_ARGS)
    except PlaywrightError:
        return None


# ---- the app server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class AppServer:
    """`streamlit run app.py` on a free port, in its own process group so stop() ends every child."""

    port: int = field(default_factory=free_port)
    env: dict | None = None
    script: str = "app.py"  # relative to the repository root, or absolute
    process: subprocess.Popen | None = None
    started_at: float = 0.0  # time.perf_counter() just before the process was spawned
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = SERVER_START_TIMEOUT_S) -> "AppServer":
        command = [sys.executable, "-m", "streamlit", "run", self.script, "--server.headless", "true",
                   "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(self.env or {})}
        log = tempfile.NamedTemporaryFile("wb", prefix="streamlit-", suffix=".log", delete=False)
        self.log_path = Path(log.name)
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"streamlit was not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def process_tree(self) -> list[int]:
        """The server's pid and every descendant's (the engine's workers), read from /proc."""
        if self.process is None:
            return []
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if fields[0] != "Z":
                    children.setdefault(int(fields[1]), []).append(int(entry.name))
        tree, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    def rss_mb(self) -> float:
        """Resident memory of the server and all its workers together, in MB."""
        total = 0
        for pid in self.process_tree():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---- reading the page -------------------------------------------------------------------------
def by_key(page, key: str):
    """The element container Streamlit marks with the widget's key (class `st-key-<key>`)."""
    return page.locator(f".st-key-{key}")


def pick_option(page, key: str, label: str, tries: int = 3) -> None:
    """Choose `label` in the selectbox with this key. Its list opens from the combobox (a click on the widget's
    container can land on the label, which opens nothing), and a click that lands while the page reruns can see the
    list closed before the option is drawn: then the list is opened again."""
    option = page.get_by_role("option", name=label, exact=True)
    for attempt in range(tries):
        wait_for_app_idle(page)
        by_key(page, key).get_by_role("combobox").click()
        try:
            option.wait_for(timeout=15_000)
        except Exception:  # playwright's TimeoutError
            if attempt + 1 == tries:
                raise
            page.keyboard.press("Escape")
            continue
        option.click()
        return


# Any number a run's page shows (Step, Elapsed, Steps/s): the live panel of the Train page or a viewer's page.
NUMBERS = '[data-testid="live-metric"]'


def metric_value(page, label: str) -> str:
    """The text of the number labelled `label` in the live panel (ui/live_panel.py), which its feed keeps current
    between reruns."""
    value = page.locator(f'[data-testid="live-metric"][data-label="{label}"] .live-metric-value')
    return value.first.inner_text().strip()


def step_value(page) -> int:
    return int(metric_value(page, "Step").replace(",", ""))


def worker_pids(server: AppServer) -> list[int]:
    """The engine's worker processes under `server` (everything in its process tree but itself)."""
    return [pid for pid in server.process_tree() if pid != server.process.pid]


def busiest_worker(server: AppServer) -> int:
    """The worker that used the most CPU over the last second: the one training."""
    def cpu() -> dict[int, int]:
        out = {}
        for pid in worker_pids(server):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                out[pid] = int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return out

    before = cpu()
    time.sleep(1.0)
    after = cpu()
    return max(after, key=lambda pid: after[pid] - before.get(pid, 0))


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def wait_for_app_idle(page, timeout_ms: float = 60_000) -> None:
    """Wait until the script has finished a run: the 'Running...' status widget is gone."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ---- pytest fixtures the browser test modules share (import them by name into the module) -------------------
def _fixtures():
    import pytest

    from ci_support import skip_or_fail

    @pytest.fixture(scope="module")
    def browser():
        """One headless Chromium per test module; no browser: skip here, fail in CI."""
        from playwright import sync_api

        with sync_api.sync_playwright() as playwright:
            launched = launch_browser(playwright)
            if launched is None:
                skip_or_fail(INSTALL_HINT)
            yield launched
            launched.close()

    @pytest.fixture(scope="module")
    def server():
        """`streamlit run app.py` for one test module."""
        app = AppServer().start()
        yield app
        app.stop()

    return browser, server


browser, server = _fixtures()
