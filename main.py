"""GAN Lab: the pages. Page config and navigation only; each page lives in ui/ (`streamlit run app.py` serves
this script; app.py starts the engine with the server)."""

import streamlit as st

st.set_page_config(page_title="GAN Lab", page_icon=":material/draw:", layout="wide")

# A live-view link (`?watch=<token>`, presenter mode) gets the read-only viewer pages and nothing else.
from ui.presenter import viewer_navigation  # noqa: E402

viewer = viewer_navigation()
if viewer is not None:
    viewer.run()
    st.stop()

# Everyone else: this browser's run (a reload or a second tab finds it again; see ui/state.py).
from ui import state  # noqa: E402

state.attach_browser()

pages = st.navigation([
    st.Page("ui/train_page.py", title="Train", icon=":material/model_training:", default=True),
    st.Page("ui/explore_page.py", title="Explore", icon=":material/explore:", url_path="explore"),
    st.Page("ui/model_page.py", title="Model", icon=":material/account_tree:", url_path="model"),
    st.Page("ui/compare_page.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("ui/playground_page.py", title="Playground", icon=":material/scatter_plot:", url_path="playground"),
])
pages.run()
