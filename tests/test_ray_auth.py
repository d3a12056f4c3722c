"""The README's workshop cluster refuses a client without its token: a local Ray head started as the guide
starts it (RAY_AUTH_MODE=token, the token on the head only), then clients with no token, a wrong token and the
right one, each in a fresh process with its own empty HOME (so no ~/.ray/auth_token is found by accident).

Everything is local (127.0.0.1, free ports, a private --temp-dir); the head runs in its own process group and
is ended by that group's id, never with `ray stop` (which would end every Ray on the machine).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="ray is a dev requirement: pip install -r requirements-dev.txt")

RAY = str(Path(sys.executable).with_name("ray"))
CLIENT = """
import sys, ray
try:
    ray.init(address=sys.argv[1], log_to_driver=False, include_dashboard=False)
    print("CONNECTED", ray.cluster_resources().get("CPU"))
except Exception as exc:
    print("REFUSED", type(exc).__name__, str(exc).splitlines()[0][:300])
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0")
    return env


@pytest.fixture(scope="module")
def token_head(tmp_path_factory):
    """A head with token authentication: (address, token)."""
    root = tmp_path_factory.mktemp("ray-auth")
    token = secrets.token_hex(32)
    port = _free_port()
    env = {**_clean_env(root / "head-home"), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    (root / "head-home").mkdir()
    log = open(root / "head.log", "wb")
    head = subprocess.Popen([RAY, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
                             "--num-cpus=1", "--include-dashboard=false", f"--temp-dir={root / 'tmp'}",
                             f"--ray-client-server-port={_free_port()}", "--disable-usage-stats"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if head.poll() is not None:
                pytest.fail(f"ray start exited {head.returncode}: {(root / 'head.log').read_text()[-2000:]}")
            if _client(address, root / "probe", token).startswith("CONNECTED"):
                break
            time.sleep(2)
        else:
            pytest.fail(f"the head did not come up: {(root / 'head.log').read_text()[-2000:]}")
        yield address, token, root
    finally:
        try:
            os.killpg(head.pid, signal.SIGTERM)
            head.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(head.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()


def _client(address: str, home: Path, token: str | None, mode: str | None = "token") -> str:
    home.mkdir(parents=True, exist_ok=True)
    env = _clean_env(home)
    if mode is not None:
        env["RAY_AUTH_MODE"] = mode
    if token is not None:
        env["RAY_AUTH_TOKEN"] = token
    result = subprocess.run([sys.executable, "-c", CLIENT, address], env=env, capture_output=True, text=True,
                            timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith(("CONNECTED", "REFUSED"))]
    return lines[-1] if lines else f"CRASHED {result.returncode}: {result.stderr[-500:]}"


def test_the_right_token_connects(token_head):
    address, token, root = token_head
    assert _client(address, root / "right", token).startswith("CONNECTED")


@pytest.mark.parametrize("case, token, mode", [
    ("no token, token mode", None, "token"),
    ("a wrong token", "0" * 64, "token"),
    ("no token, no auth mode set", None, None),
])
def test_a_client_without_the_token_is_refused(token_head, case, token, mode):
    address, _, root = token_head
    answer = _client(address, root / case.replace(" ", "-").replace(",", ""), token, mode)
    assert answer.startswith("REFUSED"), (case, answer)
    # Ray names the token when the client has none; a wrong one it answers only with a failed connection.
    assert "uthentication" in answer or "token" in answer or "Failed to connect" in answer, (case, answer)


def test_the_head_still_serves_its_own_token_after_the_refusals(token_head):
    """So each refusal above was the token's doing, not a head that had gone away."""
    address, token, root = token_head
    assert _client(address, root / "right-again", token).startswith("CONNECTED")
