"""Explore, for a viewer of a live-view link: the ordinary Explore page, with the presenter's latest model as
"This session's model" (a private copy; see ui/presenter.py). Nothing here reaches the presenter's run.

The live-view token leaves this page's address (the session keeps it): Explore's "link to this point" copies
the address's other parameters, and a link a viewer passes on must not carry the presenter's token with it.
"""

from __future__ import annotations

import runpy

import streamlit as st

from ui import catalog, presenter, state

FIRST_VISIT_KEY = "presenter_explore_seen"


def main() -> None:
    if presenter.WATCH_PARAM in st.query_params:
        del st.query_params[presenter.WATCH_PARAM]
    shared = presenter.watched()
    if shared is None:
        st.title("Explore")
        presenter.unknown_link_ui()
        return
    if not st.session_state.get(FIRST_VISIT_KEY):  # open on the presenter's model, once; then the viewer chooses
        st.session_state[FIRST_VISIT_KEY] = True
        st.session_state["explore_source"] = "This session's model"
        st.session_state["explore_model"] = catalog.SESSION
    if shared.ended:
        st.warning(f"{shared.ended} The shipped models below still work.", icon=":material/stop_circle:")
    else:
        st.caption("'This session's model' is a copy of the presenter's latest generator, yours to explore.")
    state.VIEWER.run = presenter.WatchedRun(shared) if not shared.ended else None
    try:
        runpy.run_path(str(presenter.ROOT / "ui" / "explore_page.py"), run_name="__page__")
    finally:
        state.VIEWER.run = None


main()
