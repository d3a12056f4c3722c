"""Live view: a presenter's run, read-only (reached through a `?watch=<token>` link; see ui/presenter.py).

Every viewer reads the same published view (gan_core.engine.SharedRun), so a room of viewers costs the
presenter's training one worker request a second; what moves reaches each viewer's browser through the shared
run's live feed (ui/live_feed.py), as on the presenter's own page. No control of the run is drawn here.
"""

from __future__ import annotations

import streamlit as st

from gan_core.config import LOGISTIC_LOSSES
from ui import live_feed
from ui import live_views as views
from ui import presenter, train_extras

# The live part's timer: the status text and the alerts' numbers. Between its reruns the shared run's live feed
# (ui/live_feed.py) moves the curves, the numbers, the grid, the discriminator view and live quality once a second
# in the browser, and a change of status or of the redraw key (the first points, an alert, the first quality score)
# reruns the part at once. A room of viewers then costs the server one small HTTP answer each a second, not a
# script rerun each (benchmarks/README.md, presenter mode under load).
WATCH_REFRESH_S = 30.0
TIMELINE_REFRESH_S = 30.0  # the timeline's range grows with the run (as on the presenter's page)


def main() -> None:
    """A fixed layout: title, notice, live part, timeline, whatever the shared run's state.

    The presenter may stop sharing (or Reset) at any moment, between one fragment tick and the next. A page
    that drew fewer elements once the run ended (and rerun itself from inside a fragment to get there) left
    a fragment tick already on its way addressing an element index the new page no longer had: the browser's
    "Bad delta path index" and a white page. So every run draws the same slots; an ended or unknown link
    empties the live ones from inside and says so in the notice, and no fragment calls st.rerun().
    """
    st.title("Live view")
    notice = st.empty()
    shared = presenter.watched()
    _notice(notice, shared)
    live_slot, timeline_slot = st.container(), st.container()
    # Taken now, as a plain bool: `shared` is the very object the presenter's revoke marks ended, so asking it
    # again inside a later fragment tick would answer "never was active" and draw no notice at all.
    active_when_drawn = presenter.is_live(shared)

    @st.fragment(run_every=WATCH_REFRESH_S if active_when_drawn else None)
    def live() -> None:
        current = presenter.watched()
        if not presenter.is_live(current):
            if active_when_drawn:  # it ended since the page was drawn: say so here, in this fragment's own slot
                _notice(st.empty(), current)
            return
        config = current.config
        view = current.view()
        probabilities = config.loss in LOGISTIC_LOSSES
        feed = live_feed.feed_url(current)  # one address per shared run, the same for every viewer
        worded = presenter.viewer_view(view)
        views.alerts_ui(worded, view.quality if config.is_adversarial else None, probabilities)
        views.status_ui(worded, feed, live_feed.redraw_key(current, view), watch=True)
        if len(view.history.get("step", ())) == 0:
            st.info("The curves and samples appear after the presenter's first few training steps.")
            return
        if config.is_adversarial:
            views.adversarial_charts_ui(view, config, probabilities, feed, token=id(current))
        else:
            views.autoencoder_charts_ui(view, config, feed, token=id(current))
        views.samples_ui(view, config, feed)
        if config.is_adversarial:
            views.discriminator_view_ui(view, probabilities, feed)
        views.quality_ui(current, view, feed)

    with live_slot:
        live()
    with timeline_slot:
        if presenter.is_live(shared):
            train_extras.timeline_ui(presenter.WatchedRun(shared), refresh_s=TIMELINE_REFRESH_S, explorable=False)


def _notice(slot, shared) -> None:
    words = ""
    if presenter.is_live(shared):
        kind = "GAN" if shared.config.is_adversarial else shared.config.model.upper()
        words = (f"You are watching someone's {kind} train, live and read-only: what you see refreshes by itself. "
                 f"Open **Explore** (left) to play with its latest generator; nothing you do there touches theirs.")
    presenter.watch_notice(slot, shared, words)


main()
