"""gan_core: the documented Keras GAN, its trainer, checkpoints and command line. Never imports streamlit."""

import os

# TensorFlow's C++ start-up chatter (CPU feature notes, missing CUDA) is noise for our users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
