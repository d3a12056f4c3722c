"""Live quality for every model of the family: each trains past its first evaluation without an error,
and a failing evaluation reaches the page as one plain sentence (the details go to the server log)."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from gan_core.classifier import DigitJudge
from gan_core.config import GANConfig
from gan_core.data import Dataset, load_dataset
from gan_core.lab import create_run

TINY = dict(hidden_units=8, latent_dim=4, batch_size=16, steps_per_call=5)
FAMILY = {
    "gan": GANConfig(**TINY),
    "cgan": GANConfig(model="cgan", **TINY),
    "dcgan": GANConfig(architecture="conv", **TINY),
    "ae": GANConfig(model="ae", **TINY),
    "vae": GANConfig(model="vae", **TINY),
    "wgan_gp": GANConfig(loss="wgan_gp", d_steps=2, **TINY),
}
# What must never reach a page: exception names, tracebacks, array or tensor reprs.
RAW_ERROR = re.compile(r"Error\b|Exception\b|Traceback|array\(|tf\.Tensor|<[a-z_.]+ object at")


@pytest.fixture(scope="module")
def real():
    return load_dataset("mnist-sample")


@pytest.fixture(scope="module")
def judge():
    return DigitJudge.load("pretrained/classifier")


@pytest.mark.parametrize("name", list(FAMILY))
def test_every_model_trains_past_its_first_live_quality_evaluation(name, real, judge):
    run = create_run(FAMILY[name], Dataset("real", real.images[:400], real.labels[:400]), chunk_steps=10)
    live = run.attach_live_quality(judge, real.images[:600], every_steps=10, n=100)
    run.trainer.run(30)
    live.wait_idle()
    run.stop()
    assert live.error == ""
    assert len(live.history()["step"]) >= 1


def test_a_failing_evaluation_is_one_sentence_and_the_details_go_to_the_log(real, judge, caplog):
    run = create_run(FAMILY["gan"], Dataset("real", real.images[:400]), chunk_steps=10)
    live = run.attach_live_quality(judge, real.images[:600], every_steps=10, n=100)
    live.z = np.zeros((100, 3), np.float32)  # the wrong width: the sampler refuses it
    with caplog.at_level(logging.ERROR, logger="gan_core.monitor"):
        run.trainer.run(20)
        live.wait_idle()
    run.stop()
    assert live.error.startswith("Live quality could not score the samples of step ")
    assert not RAW_ERROR.search(live.error), live.error
    assert "Traceback" in caplog.text or any(record.exc_info for record in caplog.records)
