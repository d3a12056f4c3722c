"""Presenter mode on the page side: the Train page's "Share live view", and the viewer's read-only pages.

Decisions (the engine's are in gan_core.engine.SharedRun):
- A link is the app's address with `?watch=<token>`; app.py sends such a visitor to the viewer pages only
  (`viewer_navigation`): "Live view" (ui/watch_page.py) and "Explore" (ui/watch_explore_page.py). The token
  is kept in the viewer's session, so moving between those two pages keeps the session a viewer's; a viewer
  never sees the Train page, its buttons or its sidebar recipe. (A new tab without the link is a normal visitor.)
- Viewers draw with the Train page's own drawing functions (ui/live_views.py), so what they see is what the
  presenter sees, charts for charts.
- A viewer's Explore page is the ordinary Explore page, drawn while `state.VIEWER.run` holds a read-only
  stand-in (`WatchedRun`) for the presenter's run: "This session's model" is then a private copy of the
  presenter's latest weights (one copy shared by viewers asking within a few seconds), dense models
  instant mode included. It has no start/pause/step: nothing a viewer does reaches the presenter's run.
- The Playground trains in the presenter's browser, so its link (`playground_share_ui`) belongs to the page
  session: the component publishes its state through the server (gan_core.engine.SharedPlayground), the link
  ends when the presenter stops sharing or their session ends, and a viewer gets one page, the Playground's
  Live view (ui/watch_playground_page.py), which draws the state with the component's own drawing code.
"""

from __future__ import annotations

import os
import types
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st

from dataclasses import dataclass

from gan_core.engine import LabEngine, SharedPlayground, SharedRun
from ui import state

WATCH_PARAM = "watch"
WATCH_KEY = "presenter_watch_token"
ROOT = Path(__file__).resolve().parents[1]
VIEWER_STATUS = {  # what a viewer reads where the presenter reads a hint about buttons
    "idle": "The presenter has not started training yet.",
    "starting": "The presenter's run is starting; the first curve points follow at once.",
    "running": "Training live in the presenter's process; this view refreshes by itself.",
    "paused": "The presenter paused the training.",
    "stopped": "The presenter's training process was stopped.",
    "worker_gone": "The presenter's training process ended; this view continues if they press Resume.",
    "finished": "The training finished.",
}


# ---- the presenter's side ---------------------------------------------------------------------
PUBLIC_URL_ENV = "GAN_LAB_PUBLIC_URL"  # the operator's address for the room, e.g. http://10.0.0.5:8501
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "")


def share_base(browser_url: str, server_address: str, server_port: int, configured: str = "") -> tuple[str, bool]:
    """The address viewers should open, and whether it only works on this very computer.

    In order: the operator's GAN_LAB_PUBLIC_URL; Streamlit's browser.serverAddress when it names a real host
    (the address the server says it is reachable at); else the address the presenter's browser used.
    """
    if configured.strip():
        base = configured.strip().rstrip("/")
    elif server_address and server_address not in LOCAL_HOSTS:
        base = f"http://{server_address}:{server_port}"
    else:
        parts = urlsplit(browser_url or "")
        base = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    host = urlsplit(base).hostname or ""
    return base, host in LOCAL_HOSTS


def _share_base() -> tuple[str, bool]:
    try:
        browser_url = st.context.url or ""
    except Exception:
        browser_url = ""
    return share_base(browser_url, str(st.get_option("browser.serverAddress") or ""),
                      int(st.get_option("browser.serverPort") or 8501), os.environ.get(PUBLIC_URL_ENV, ""))


def link_for(token: str) -> str:
    """The address the room can reach (see share_base) with `?watch=token`."""
    base, _ = _share_base()
    return f"{base}/?{WATCH_PARAM}={token}"


def _share(run) -> None:
    state.engine().share(run)


def _revoke(token: str) -> None:
    state.engine().revoke(token)


def _link_ui(token: str, what: str, ends_when: str, revoke_key: str) -> None:
    """A live link: the link itself (the code block's own button copies it), a warning where it names localhost,
    and Stop sharing."""
    st.write(f"Anyone with this link watches {what} live. It stops working when you press {ends_when}.")
    st.code(link_for(token), language=None)
    if _share_base()[1]:
        st.warning(f"This link names this computer (localhost), so other laptops cannot open it. Start the app "
                   f"with `{PUBLIC_URL_ENV}=http://<this computer's address>:<port>` (or set Streamlit's "
                   f"`browser.serverAddress`), then share again.", icon=":material/lan:")
    st.button("Stop sharing", key=revoke_key, icon=":material/link_off:", on_click=_revoke, args=(token,))


def is_live(shared) -> bool:
    """Whether a watched link (a SharedRun or SharedPlayground, None when unknown) still shows a live run."""
    return shared is not None and not shared.ended


def watch_notice(slot, shared, live_words: str) -> None:
    """A viewer's line above the view: unknown link, ended link (and why), or what they are watching."""
    if shared is None:
        with slot:
            unknown_link_ui()
    elif shared.ended:
        slot.warning(shared.ended, icon=":material/stop_circle:")
    else:
        slot.caption(live_words)


def share_ui(run) -> None:
    """Train page, after Start: make or revoke the run's live-view link."""
    token = state.engine().share_token(run)
    with st.expander("Share live view", icon=":material/share:", expanded=token is not None):
        if token is None:
            st.write("A link anyone can open to watch this run live (curves, samples, quality, alerts) with no "
                     "controls; they can also explore its latest generator. Your training costs the same with one "
                     "viewer or a room full.")
            st.button("Share live view", key="presenter_share", icon=":material/share:", on_click=_share,
                      args=(run,))
            return
        _link_ui(token, "this run", "**Stop sharing** or **Reset**, or close this tab", "presenter_revoke")


# ---- the Playground's presenter ----------------------------------------------------------------
@dataclass(frozen=True)
class _PlaygroundHold:
    engine: LabEngine
    owner: str


def _end_playground_share(hold: _PlaygroundHold) -> None:
    # On a server thread when the presenter's session goes away: their browser publishes nothing any more.
    token = hold.engine.playground_token(hold.owner)
    if token is not None:
        hold.engine.revoke(token, "The presenter closed their Playground; this live view has ended.")


@st.cache_resource(scope="session", on_release=_end_playground_share, show_spinner=False)
def _hold_playground(_engine: LabEngine, owner: str) -> _PlaygroundHold:
    return _PlaygroundHold(_engine, owner)


def playground_owner() -> str:
    """This page session, as the owner of its Playground's link (the Playground trains in this session's tab)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return f"playground:{ctx.session_id if ctx is not None else 'no-session'}"


PLAYGROUND_TOKEN_KEY = "presenter_playground_token"


def _share_playground() -> None:
    owner = playground_owner()
    engine = state.engine()
    _hold_playground(engine, owner)
    st.session_state[PLAYGROUND_TOKEN_KEY] = engine.share_playground(owner)


def playground_token() -> str | None:
    """This tab's live Playground link, if it shares one (asks the engine only then: a Playground visit that
    never shares starts no engine)."""
    token = st.session_state.get(PLAYGROUND_TOKEN_KEY)
    if token and state.engine().playground_token(playground_owner()) == token:
        return token
    st.session_state.pop(PLAYGROUND_TOKEN_KEY, None)
    return None


def playground_share_ui() -> str | None:
    """The Playground's "Share live view": make or revoke this tab's link; returns the live token, if any."""
    token = playground_token()
    with st.expander("Share live view", icon=":material/share:", expanded=token is not None):
        if token is None:
            st.write("A link anyone can open to watch this playground live (the plane, every layer, the curves and "
                     "scores) with no controls. The training stays in this browser tab; viewers' browsers draw it.")
            st.button("Share live view", key="playground_share", icon=":material/share:", on_click=_share_playground)
            return None
        _link_ui(token, "this playground", "**Stop sharing** or close this tab", "playground_revoke")
    return token


# ---- the viewer's side ------------------------------------------------------------------------
def viewer_navigation():
    """The viewer pages when this session came through a live-view link, else None (app.py routes)."""
    token = st.query_params.get(WATCH_PARAM)
    if token:
        st.session_state[WATCH_KEY] = str(token)
    if not st.session_state.get(WATCH_KEY):
        return None
    if getattr(watched(), "kind", "") == "playground":
        return st.navigation([st.Page(str(ROOT / "ui" / "watch_playground_page.py"), title="Live view",
                                      icon=":material/live_tv:", url_path="watch", default=True)])
    return st.navigation([
        st.Page(str(ROOT / "ui" / "watch_page.py"), title="Live view", icon=":material/live_tv:",
                url_path="watch", default=True),
        st.Page(str(ROOT / "ui" / "watch_explore_page.py"), title="Explore", icon=":material/explore:",
                url_path="explore"),
    ])


def watched() -> "SharedRun | SharedPlayground | None":
    """The shared run this viewer session watches, or None for an unknown (mistyped, forgotten) link."""
    token = st.session_state.get(WATCH_KEY, "")
    return state.engine().watch(token) if token else None


def unknown_link_ui() -> None:
    st.error("This live-view link does not lead to a run on this server: it may be mistyped, or the server was "
             "restarted. Ask the presenter for a new link.", icon=":material/link_off:")


def viewer_view(view):
    """The shared view with a viewer's wording where the presenter's mentions buttons (a copy: shared is frozen)."""
    if view.message or view.status not in VIEWER_STATUS:
        return view
    copy = types.SimpleNamespace()  # only attributes are read; never mutate the shared object
    copy.__dict__.update(view.__dict__)
    copy.message = VIEWER_STATUS[view.status]
    copy.latest = view.latest
    return copy


class WatchedRun:
    """A read-only stand-in for the presenter's run on a viewer's Explore page (see the module docstring)."""

    def __init__(self, shared: SharedRun):
        self.shared = shared
        self.run_id = f"shared-{shared.run_id}"  # the handle's key is session:shared-<run id>:<step>
        self.config = shared.config

    @property
    def view(self):
        return self.shared.view()

    @property
    def live(self) -> bool:
        return not self.shared.ended and self.view.status not in ("worker_gone", "stopped", "error")

    def poll(self):
        return self.shared.view()

    def model_copy(self):
        return self.shared.model_copy()

    def timeline_model(self, step: int):
        from gan_core.engine import EngineError

        raise EngineError("past moments are the presenter's to explore; here the latest model is yours to explore")
