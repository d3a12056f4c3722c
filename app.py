"""GAN Lab's server: `streamlit run app.py` serves the pages of main.py and starts the engine with the server.

The lifespan below begins warming the engine (the spare trainer: TensorFlow imported, the default recipe built
and traced) the moment the server starts, so a visitor who presses Start as soon as the page appears waits only
for what is still not ready, not for the whole start-up. Its one route is the Train page's live feed
(ui/live_feed.py): the charts read new points themselves instead of rerunning the page. Pages and navigation live
in main.py.
"""

import streamlit as st

from ui import live_feed
from ui.server_start import lifespan

app = st.App("main.py", lifespan=lifespan, routes=live_feed.routes())
