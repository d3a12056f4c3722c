"""Live view of a presenter's Playground, read-only (a `?watch=<token>` link to a Playground; see ui/presenter.py).

The presenter's browser trains and publishes its state to the server a few times a second; this page hands the
latest (checked) state to the same component, which draws it every animation frame and trains nothing. Like
the Train page's Live view (ui/watch_page.py), it draws the same slots whatever happens to the link: an ended
or unknown link empties the live slot from inside the fragment and says why there.
"""

from __future__ import annotations

import streamlit as st

from ui import playground_text as text
from ui import presenter
from ui.components.playground import playground_watch

WATCH_REFRESH_S = 0.5  # the presenter publishes ~3 states a second; the component redraws every frame between


def main() -> None:
    st.title("Live view: Playground")
    notice = st.empty()
    shared = presenter.watched()
    _notice(notice, shared)
    active_when_drawn = presenter.is_live(shared)  # a plain bool: a revoke changes `shared` itself (see watch_page.py)
    view_column, words_column = st.columns([3, 1.25])

    @st.fragment(run_every=WATCH_REFRESH_S if active_when_drawn else None)
    def live() -> None:
        current = presenter.watched()
        if not presenter.is_live(current):
            if active_when_drawn:
                _notice(st.empty(), current)
            return
        latest = current.latest()
        if latest is None:
            st.info("The presenter's playground appears here as soon as their page sends it (within a second "
                    "while their tab is open).")
            return
        playground_watch(latest, key="playground_watch")

    with view_column:
        live()
    with words_column:
        st.markdown("**The layers**")
        for name, words in text.LAYERS.items():
            st.markdown(f"- **{name}.** {words}")
        st.markdown(text.CURVES)


def _notice(slot, shared) -> None:
    presenter.watch_notice(slot, shared, "You are watching someone's 2-D GAN train in their browser, live and "
                                         "read-only: this view follows their run by itself, with the layers they show.")


main()
