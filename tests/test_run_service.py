"""The trainer worker's service in this process: a warm spare prepares live quality only while it sits idle."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gan_core import run_service
from gan_core.config import GANConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = GANConfig(hidden_units=16, latent_dim=8, batch_size=16, steps_per_call=5, seed=3)
OPTIONS = {"judge_dir": str(ROOT / "pretrained" / "classifier"), "quality_every": 100, "quality_n": 200,
           "chunk_steps": 10}


def _prepared_spare(monkeypatch) -> run_service.RunService:
    monkeypatch.setattr(run_service, "SPARE_IDLE_BEFORE_QUALITY_S", 1.0)
    service = run_service.RunService()
    service.rpc_prepare(TINY.to_dict(), OPTIONS)
    deadline = time.monotonic() + 180
    while not service.rpc_ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.rpc_ready() and not isinstance(service._prepared[2], Exception), service._prepared
    return service


def _wait_ready(live, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not live.ready and time.monotonic() < deadline:
        time.sleep(0.05)
    return live.ready


def test_an_idle_spare_prepares_live_quality_before_any_start(monkeypatch):
    service = _prepared_spare(monkeypatch)
    live = service._prepared[2][0].live_quality
    assert live is not None
    assert _wait_ready(live, 120)
    service.close()


def test_a_start_on_a_spare_still_warming_is_not_slowed_by_live_quality(monkeypatch):
    service = _prepared_spare(monkeypatch)
    live = service._prepared[2][0].live_quality
    service.rpc_create(TINY.to_dict(), OPTIONS)  # Start, before the spare's idle second is over
    assert not _wait_ready(live, 4.0)  # no reference work beside the first chunks: it waits for the first scoring
    service.rpc_step(10)  # 10 chunks of 10 steps: the first scoring (step 100) prepares it
    assert _wait_ready(live, 120)
    service.close()
