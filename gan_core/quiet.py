"""Keep TensorFlow's start-up chatter (CPU feature notes, missing CUDA, absl warnings) off the user's console.

Call `silence_tensorflow()` before TensorFlow is imported. GAN_LAB_VERBOSE=1 turns it off, to see them all.
"""

from __future__ import annotations

import os


def silence_tensorflow() -> None:
    if os.environ.get("GAN_LAB_VERBOSE", "").strip() not in ("", "0"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")  # a CPU lab: no probing for GPUs that are not there
