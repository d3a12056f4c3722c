"""A run belongs to the browser, not to the websocket: the registry that lets a reload find its run again.

Decisions, and why:
- A browser is known by a secret it keeps in a cookie (ui/state.py writes it: 32 random bytes, as
  unguessable as a share token). The registry stores only the secret's SHA-256, so a dump of it names no
  browser, and a stranger who does not hold the cookie cannot reach another browser's run.
- Each browser has one entry: its current run (a RunClient, or any object with `close(reason)`) and its
  archived runs (the Compare page's "Your runs"). Every Streamlit session of that browser (a reload, a
  second tab, a reconnect after a dropped connection) joins the entry and shares that run.
- When the last session of a browser leaves, a grace timer starts (10 minutes in the app). A session that
  joins before it fires cancels it and carries on with the run as it is. When it fires, the run is closed
  as a lone session's was before (a last snapshot, then the worker ends): a later visit sees it stopped
  at the step it reached, and Resume starts it again.
- Bounded: at most `max_browsers` entries; the oldest entry with no session is dropped (its run closed) to
  make room. Only the run's public `close(reason)` is used.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

GRACE_S = 600.0
MAX_BROWSERS = 500
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
ENDED_REASON = "the browser session ended"  # as a lone session's run was closed before


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def valid_secret(value: object) -> bool:
    return isinstance(value, str) and SECRET_PATTERN.fullmatch(value) is not None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class BrowserEntry:
    """What one browser keeps across its sessions."""

    run: Any = None
    archive: list = field(default_factory=list)
    archive_count: int = 0
    sessions: set = field(default_factory=set)
    last_seen: float = 0.0
    timer: threading.Timer | None = None


class BrowserRegistry:
    """{hashed browser secret -> BrowserEntry}, with a grace timer for browsers that went away."""

    def __init__(self, grace_s: float = GRACE_S, max_browsers: int = MAX_BROWSERS):
        self.grace_s = float(grace_s)
        self.max_browsers = int(max_browsers)
        self._entries: dict[str, BrowserEntry] = {}
        self._lock = threading.Lock()

    def join(self, secret: str, session_id: str) -> BrowserEntry:
        """A session of this browser is here: its entry (made if new), with any grace timer cancelled."""
        if not valid_secret(secret):
            raise ValueError("a browser secret is 43 URL-safe characters")
        to_close = []
        with self._lock:
            key = secret_hash(secret)
            entry = self._entries.get(key)
            if entry is None:
                to_close = self._make_room()
                entry = self._entries[key] = BrowserEntry()
            if entry.timer is not None:
                entry.timer.cancel()
                entry.timer = None
            entry.sessions.add(session_id)
            entry.last_seen = time.monotonic()
        for run in to_close:
            _close_quietly(run)
        return entry

    def leave(self, secret: str, session_id: str) -> None:
        """A session ended; when it was the browser's last, its run is closed after the grace period."""
        with self._lock:
            entry = self._entries.get(secret_hash(secret))
            if entry is None:
                return
            entry.sessions.discard(session_id)
            entry.last_seen = time.monotonic()
            if entry.sessions or entry.run is None or entry.timer is not None:
                return
            timer = threading.Timer(self.grace_s, self._expire, args=(entry,))
            timer.daemon = True
            timer.name = "browser-grace"
            entry.timer = timer
        timer.start()

    def sessions(self, secret: str) -> int:
        with self._lock:
            entry = self._entries.get(secret_hash(secret))
            return 0 if entry is None else len(entry.sessions)

    def close_all(self) -> None:
        """The server is going away: cancel every timer (the engine's shutdown ends the workers)."""
        with self._lock:
            for entry in self._entries.values():
                if entry.timer is not None:
                    entry.timer.cancel()
                    entry.timer = None
            self._entries.clear()

    def _expire(self, entry: BrowserEntry) -> None:
        with self._lock:
            if entry.timer is None or entry.sessions:  # cancelled, or a session came back meanwhile
                return
            entry.timer = None
            run = entry.run
        if run is not None:
            _close_quietly(run)

    def _make_room(self) -> list:
        """Drop the oldest entries with no session while over the cap; returns their runs to close."""
        runs = []
        while len(self._entries) >= self.max_browsers:
            idle = [(entry.last_seen, key) for key, entry in self._entries.items() if not entry.sessions]
            if not idle:
                break
            _, key = min(idle)
            entry = self._entries.pop(key)
            if entry.timer is not None:
                entry.timer.cancel()
            if entry.run is not None:
                runs.append(entry.run)
        return runs


def _close_quietly(run) -> None:
    try:
        run.close(ENDED_REASON)
    except Exception:  # closing is best effort: the engine's own shutdown ends the worker in any case
        pass
