"""`streamlit run app.py` starts the lab engine with the server, before any page is opened.

app.py is an `st.App` whose lifespan (ui/server_start.py) makes the engine at start-up, so its warm spare trainer
is already importing TensorFlow while the first visitor's browser is still loading the page. Without it the
engine (and its spare) would be made only by the first page a browser runs. No browser is opened here.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from browser_support import AppServer


def _worker_roles(server: AppServer) -> list[str]:
    roles = []
    for pid in server.process_tree():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"gan_core.worker" in argv and b"--role" in argv:
            roles.append(argv[argv.index(b"--role") + 1].decode())
    return roles


def test_the_server_starts_its_spare_trainer_before_any_page_opens():
    server = AppServer().start()
    try:
        deadline = time.monotonic() + 60
        while "trainer" not in _worker_roles(server) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert "trainer" in _worker_roles(server), f"no trainer worker 60 s after start:\n{server.log_tail()}"
        # The App also serves the Train page's live feed (ui/live_feed.py): an unknown run token is a plain 404.
        try:
            urllib.request.urlopen(f"{server.url}/gan-lab/feed/not-a-token?after=0", timeout=10)
            raise AssertionError("the feed answered an unknown token")
        except urllib.error.HTTPError as error:
            assert error.code == 404 and json.loads(error.read()) == {"error": "no such run"}
        assert "Traceback" not in server.log_tail(20_000)
    finally:
        server.stop()
