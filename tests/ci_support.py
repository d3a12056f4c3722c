"""One rule for a test that cannot run here: skip on a developer's machine, fail in CI (CI=true).

`.ci/run` exports CI=true, so a missing browser, node or Ray there is a red run, never a silent skip that
hides an untested feature.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def skip_or_fail(message: str):
    """Skip with `message`; under CI=true fail with it instead."""
    if in_ci():
        pytest.fail(f"{message} (CI=true, so this fails instead of skipping)")
    pytest.skip(message)
