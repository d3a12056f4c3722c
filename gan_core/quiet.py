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


INTRA_OP_ENV = "TF_NUM_INTRAOP_THREADS"  # read by TensorFlow's runtime when it starts


def prefer_one_intra_op_thread() -> None:
    """Training processes (the CLI's train and project, every engine worker, every Ray actor) run each TensorFlow op
    on one thread, set before TensorFlow starts; independent ops still run side by side (inter-op threads).

    The documented networks' ops are too small to pay for splitting each over the cores: on the 2-core machine one
    intra-op thread trains the dense GAN 1.4-1.7x faster at batch 32 and 1.25x at batch 128 (the DCGAN the same),
    with a fifth of the system time (benchmarks/README.md, "One thread per op"). Evaluation's large classifier
    batches are the exception (28.8 -> 37.9 s), so `evaluate`, `sample` and the classifier's training keep
    TensorFlow's default. An operator's own TF_NUM_INTRAOP_THREADS wins.
    """
    if "tensorflow" in sys.modules:  # too late: its runtime has read the environment (a test calling main())
        return
    os.environ.setdefault(INTRA_OP_ENV, "1")


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
