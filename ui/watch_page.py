"""Live view: a presenter's run, read-only (reached through a `?watch=<token>` link; see ui/presenter.py).

Every viewer reads the same published view (gan_core.engine.SharedRun), so a room of viewers costs the
presenter's training one worker request a second. No control of the run is drawn here.
"""

from __future__ import annotations

import streamlit as st

from gan_core.config import LOGISTIC_LOSSES
from ui import live_views as views
from ui import presenter, train_extras

WATCH_REFRESH_S = 1.0  # the shared view is polled about once a second; redrawing faster shows nothing new
SLOW_REFRESH_S = 4.0  # the discriminator view, live quality and the timeline (the presenter's page does the same)


def main() -> None:
    shared = presenter.watched()
    st.title("Live view")
    if shared is None:
        presenter.unknown_link_ui()
        return
    if shared.ended:
        st.warning(shared.ended, icon=":material/stop_circle:")
        return
    config = shared.config
    kind = "GAN" if config.is_adversarial else config.model.upper()
    st.caption(f"You are watching someone's {kind} train, live and read-only: what you see refreshes by itself. "
               f"Open **Explore** (left) to play with its latest generator; nothing you do there touches theirs.")

    @st.fragment(run_every=WATCH_REFRESH_S)
    def live() -> None:
        view = shared.view()
        if shared.ended:
            st.rerun()  # the whole page says it ended, with no timer
        probabilities = config.loss in LOGISTIC_LOSSES
        worded = presenter.viewer_view(view)
        views.alerts_ui(worded, view.quality if config.is_adversarial else None, probabilities)
        views.status_ui(worded)
        if len(view.history.get("step", ())) == 0:
            st.info("The curves and samples appear after the presenter's first chunk of training.")
            return
        if config.is_adversarial:
            views.adversarial_charts_ui(view, config, probabilities)
        else:
            views.autoencoder_charts_ui(view, config)
        views.samples_ui(view, config)

    @st.fragment(run_every=SLOW_REFRESH_S)
    def slow() -> None:
        # As on the presenter's page: the D view and quality change far less often than the curves.
        view = shared.view()
        if shared.ended or not len(view.history.get("step", ())):
            return
        if config.is_adversarial:
            views.discriminator_view_ui(view, config.loss in LOGISTIC_LOSSES)
        views.quality_ui(shared, view)

    live()
    train_extras.timeline_ui(presenter.WatchedRun(shared), refresh_s=SLOW_REFRESH_S)
    slow()


main()
