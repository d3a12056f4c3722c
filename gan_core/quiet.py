"""Keep TensorFlow's start-up chatter (CPU feature notes, missing CUDA, absl warnings) off the user's console.

Call `silence_tensorflow()` before TensorFlow is imported. GAN_LAB_VERBOSE=1 turns it off, to see them all.

Why fd 2 is redirected: TensorFlow 2.21 writes "Could not find cuda drivers" and "failed call to cuInit" from
C++ before absl logging is initialised, so TF_CPP_MIN_LOG_LEVEL no longer hides them, and a user reads them as
errors. They are written while TensorFlow loads and while it first looks for devices, so both happen here with
the process's stderr pointed at a temporary file, which is replayed if the import fails and dropped otherwise.
This module imports nothing heavy at its top: the page process imports gan_core and must never load TensorFlow.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile

VERBOSE_ENV = "GAN_LAB_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip() not in ("", "0")


def silence_tensorflow() -> None:
    """Load TensorFlow quietly (once per process) and keep its Python loggers to errors."""
    if verbose():
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")  # a CPU lab: no probing for GPUs that are not there
    if "tensorflow" not in sys.modules:
        _import_tensorflow_with_stderr_captured()
    for name in ("tensorflow", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


def _import_tensorflow_with_stderr_captured() -> None:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the device probe writes the cuInit note
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))  # a failed import keeps its reasons
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
