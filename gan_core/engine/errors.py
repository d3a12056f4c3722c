"""The engine's errors, meant for the user, and how a worker's failure is worded for a page."""

from __future__ import annotations

from gan_core.transport import WorkerError


class CapacityError(RuntimeError):
    """Every trainer slot (of the server, or of this session) is taken; the message says what to do."""


class EngineError(RuntimeError):
    """A request to a worker failed; the message is meant for the user."""


# Kinds whose message is already written for a user (it names the input and the fix).
_PLAIN_KINDS = ("DatasetError", "ValueError", "CheckpointError", "SnapshotMissing")


def describe_failure(exc: Exception) -> str:
    if isinstance(exc, WorkerError):
        return str(exc) if exc.kind in _PLAIN_KINDS else f"{exc.kind}: {exc}"
    return str(exc)
