"""An engine worker process: `python -m gan_core.worker --fd N --role trainer|inference --parent PID`.

It owns TensorFlow and its models and answers requests read from the socket it inherited (see
gan_core.transport). It dies with the app: it exits as soon as the socket closes, and a watchdog thread
ends it within a second of its parent process ending.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from multiprocessing.connection import Connection

def _die_with_parent(parent_pid: int) -> None:
    """Exit when the app does, even if it was killed without closing our socket first.

    Not PR_SET_PDEATHSIG: Linux ties that to the parent *thread* that started us, and the engine starts
    workers from short-lived threads. A closed socket ends `serve`; this watchdog covers the rest.
    """
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    if os.getppid() != parent_pid:  # the parent is already gone
        os._exit(0)
    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def _service(role: str):
    if role == "trainer":
        from gan_core.run_service import RunService

        return RunService()
    if role == "inference":
        from gan_core.inference_service import InferenceService

        return InferenceService()
    raise SystemExit(f"unknown worker role {role!r}; expected trainer or inference")


def serve(connection: Connection, service) -> None:
    """Answer requests until the socket closes or the engine says goodbye."""
    while True:
        try:
            request_id, method, args, kwargs = connection.recv()
        except (EOFError, OSError):
            break
        if method == "__exit__":
            break
        try:
            handler = getattr(service, f"rpc_{method}", None)
            if handler is None:
                raise AttributeError(f"the worker has no request {method!r}")
            reply = (request_id, True, handler(*args, **kwargs))
        except Exception as exc:  # the caller gets the type and message; the worker keeps serving
            reply = (request_id, False, (type(exc).__name__, str(exc) or type(exc).__name__))
        try:
            connection.send(reply)
        except (EOFError, OSError):
            break
        except Exception as exc:  # an answer that cannot be pickled
            connection.send((request_id, False, (type(exc).__name__, f"answer could not be sent: {exc}")))


# Optional packages Keras imports at start-up when they are installed (mlxtend pulls them in) and the workers never
# use: pandas (Keras's array slicing), matplotlib (its image gallery), scikit-learn (its estimator wrappers, which
# also import scipy.stats). Skipping them takes ~2 s off every worker's start, which a visitor pressing Start on a
# cold server waits for.
UNUSED_IMPORTS = ("pandas", "matplotlib", "sklearn", "scipy")  # Keras imports each when installed (mlxtend brings them)


def skip_unused_imports() -> None:
    """Make `import pandas`, `matplotlib`, `sklearn`, `scipy` fail fast here (Keras then goes without them; no
    worker uses them): `import keras` 4.5 -> 3.5 s on the idle machine, most of it scikit-learn and scipy.stats."""
    for name in UNUSED_IMPORTS:
        if name not in sys.modules:
            sys.modules[name] = None  # an import of it raises ImportError, which Keras's optional imports catch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gan_core.worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--role", required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    skip_unused_imports()
    from gan_core.quiet import prefer_one_intra_op_thread, silence_tensorflow

    prefer_one_intra_op_thread()
    silence_tensorflow()
    service = _service(args.role)
    serve(Connection(args.fd), service)
    try:
        service.close()
    finally:
        sys.stdout.flush()
        os._exit(0)  # daemon threads (trainer, live quality) end with the process, without a join


if __name__ == "__main__":
    main()
