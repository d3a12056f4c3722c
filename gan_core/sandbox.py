"""The box a stranger's file is parsed in: a short-lived child process with memory, CPU and time limits.

Decisions, and why:
- Every untrusted file (an upload on the Train page, a `folder:` / `zip:` dataset, a model bundle and the HDF5
  weights inside it, the digits `project --images` reads) is parsed by a job run here, never in the caller's process. Pillow's decoders, NumPy's
  .npy reader, zipfile and the HDF5 library all run on a stranger's bytes; a bug, a bomb or a slow path in any
  of them costs the child, and the caller gets a refusal naming the file.
- A fresh interpreter (subprocess: fork + exec), never a bare fork of the caller: the caller may be the
  Streamlit server (threads) or a process holding TensorFlow, neither of which survives a fork. The child sets
  its own limits (RLIMIT_AS, RLIMIT_CPU, no core file, no file writes) before it imports NumPy; the parent
  kills the child's process group at the wall-clock deadline. No preexec_fn: it can deadlock a threaded parent.
- Only plain data crosses back: a JSON header and NumPy arrays of numbers (uint8 images, int64 labels, float
  weights), read with allow_pickle=False and a cap on the bytes read. A child that crashes, runs out of memory
  or time, or answers garbage is a `SandboxRefusal`.
- No process-wide lock: each parse has its own child. At most MAX_PARALLEL_PARSERS run at once per process (a
  room of uploads must not start fifty 1.5 GB children); a caller waits for a slot at most PARSER_QUEUE_WAIT_S,
  and a slot is never held past a child's wall-clock limit.
- Jobs are named, not passed as code: the parent sends the child the 'module:function' JOBS lists for the
  job, and the child imports that one function.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_core.limits import MAX_PARALLEL_PARSERS, MIB, PAGE_PARSER_LIMITS, PARSER_QUEUE_WAIT_S, ParserLimits

JOBS = {"uploads": "gan_core.uploads:sandbox_job", "bundle": "gan_core.bundle:sandbox_job",
        "digits": "gan_core.projection:digits_job"}
MAGIC = b"GANLAB-SANDBOX-1"
ARRAY_KINDS = "biuf"  # bool, signed, unsigned, float: nothing else crosses back
MAX_HEADER_BYTES = 16 * MIB  # the JSON part of a frame (notes of up to 100,000 refused files fit)
STDERR_TAIL = 4000
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
# The limits are set before anything but the standard library is imported: NumPy's import is inside the box.
CHILD_CODE = """\
import resource, signal, sys
memory, cpu = int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
sys.path.insert(0, sys.argv[1])
from gan_core.sandbox import child_main
child_main()
"""
CHILD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
             "PYTHONDONTWRITEBYTECODE": "1", "HDF5_PLUGIN_PATH": os.devnull,  # no filter plugins from disk
             "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}

_SLOTS = threading.BoundedSemaphore(MAX_PARALLEL_PARSERS)


class SandboxRefusal(Exception):
    """The file could not be parsed inside its limits; the message names the file and says why.

    `report` says what the child cost before it stopped (None when no child ran)."""

    report: "ParseReport | None" = None


@dataclass(frozen=True)
class ParseReport:
    """What one parse cost: wall-clock seconds and the child's peak resident memory."""

    seconds: float
    peak_rss_mb: float


@dataclass(frozen=True)
class JobResult:
    meta: dict
    arrays: dict[str, np.ndarray]
    report: ParseReport


# ---------------------------------------------------------------- frames: JSON header + plain arrays

def pack(header: dict, arrays: dict[str, np.ndarray] | None = None) -> bytes:
    arrays = arrays or {}
    body = json.dumps({**header, "arrays": list(arrays)}).encode()
    out = io.BytesIO()
    out.write(MAGIC + struct.pack("<Q", len(body)) + body)
    for array in arrays.values():
        np.lib.format.write_array(out, np.ascontiguousarray(array), allow_pickle=False)
    return out.getvalue()


def unpack(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """The inverse of pack; raises ValueError on anything that is not exactly a frame of plain arrays."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        raise ValueError("not a sandbox frame")
    (size,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    if size > MAX_HEADER_BYTES or start + size > len(data):
        raise ValueError("frame header out of bounds")
    header = json.loads(data[start:start + size])
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), list):
        raise ValueError("frame header is not an object")
    stream = io.BytesIO(data)
    stream.seek(start + size)
    arrays = {}
    for name in header.pop("arrays"):
        array = np.lib.format.read_array(stream, allow_pickle=False)
        if not isinstance(name, str) or array.dtype.kind not in ARRAY_KINDS:
            raise ValueError("frame array of an unexpected kind")
        arrays[name] = array
    if stream.tell() != len(data):
        raise ValueError("trailing bytes after the frame")
    return header, arrays


# ---------------------------------------------------------------- the parent

def run_job(job: str, request: dict, blobs: list[bytes] | tuple = (), *, what: str,
            limits: ParserLimits = PAGE_PARSER_LIMITS) -> JobResult:
    """Run `job` on `request` (JSON) and `blobs` (bytes) in a fresh limited child; raises SandboxRefusal.

    `what` names the input in every refusal (a file name, 'zip:digits.zip').
    """
    if job not in JOBS:
        raise ValueError(f"unknown sandbox job {job!r}")
    if not _SLOTS.acquire(timeout=PARSER_QUEUE_WAIT_S):
        raise SandboxRefusal(f"{what}: not read: the server is busy reading other files; try again in a minute.")
    try:
        return _run(job, request, list(blobs), what, limits)
    finally:
        _SLOTS.release()


def _run(job: str, request: dict, blobs: list[bytes], what: str, limits: ParserLimits) -> JobResult:
    header = json.dumps({"job": JOBS[job], "request": request, "blob_sizes": [len(blob) for blob in blobs]}).encode()
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_CODE, PACKAGE_ROOT, str(limits.memory_bytes), str(limits.cpu_seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **CHILD_ENV},
        start_new_session=True, close_fds=True)
    pipes = _Pipes(child, [MAGIC + struct.pack("<Q", len(header)) + header, *blobs], limits.max_output_bytes)
    status, usage, timed_out = _wait(child, started + limits.wall_seconds)
    pipes.close()
    cpu_used = usage.ru_utime + usage.ru_stime
    reason = _failure(status, timed_out, pipes.overflow, limits, bytes(pipes.error_tail), cpu_used)
    answer, arrays = {}, {}
    if reason is None:
        try:
            answer, arrays = unpack(bytes(pipes.output))
        except (ValueError, OSError, EOFError) as exc:  # json, numpy and struct errors are all ValueErrors
            reason = f"the reader's answer could not be read ({exc})"
    # The child's own figure when it answered; else wait4's, which may include pages shared at the fork.
    peak_kb = answer.get("peak_rss_kb") if isinstance(answer.get("peak_rss_kb"), int) else usage.ru_maxrss
    report = ParseReport(time.monotonic() - started, peak_kb / 1024)
    if reason is None and answer.get("ok"):
        return JobResult(answer.get("meta", {}), arrays, report)
    refusal = SandboxRefusal(f"{what}: not read: {reason}." if reason else f"{what}: {answer.get('refusal')}")
    refusal.report = report
    raise refusal


class _Pipes:
    """The child's three pipes, each served by a thread: the request written in, the answer read out (killing
    the child past `max_output` bytes), the last few KB of stderr kept for the reason of a failure."""

    def __init__(self, child: subprocess.Popen, request: list[bytes], max_output: int):
        self.child, self.request, self.max_output = child, request, max_output
        self.output, self.error_tail, self.overflow = bytearray(), bytearray(), False
        self.threads = [threading.Thread(target=target, daemon=True, name=f"sandbox-{target.__name__}")
                        for target in (self.feed, self.drain_stdout, self.drain_stderr)]
        for thread in self.threads:
            thread.start()

    def feed(self) -> None:
        try:
            for part in self.request:
                self.child.stdin.write(part)
        except (BrokenPipeError, OSError, ValueError):  # the child died or stopped reading: its exit says why
            pass
        finally:
            try:
                self.child.stdin.close()
            except OSError:
                pass

    def drain_stdout(self) -> None:
        while chunk := self.child.stdout.read(MIB):
            self.output.extend(chunk)
            if len(self.output) > self.max_output:
                self.overflow = True
                _kill(self.child)
                return

    def drain_stderr(self) -> None:
        while chunk := self.child.stderr.read(65536):
            self.error_tail.extend(chunk)
            del self.error_tail[:-STDERR_TAIL]

    def close(self) -> None:
        for thread in self.threads:
            thread.join(timeout=5)
        for stream in (self.child.stdout, self.child.stderr):
            stream.close()


def _wait(child: subprocess.Popen, deadline: float):
    """(wait status, rusage, timed out): os.wait4 so the child's own peak memory is known."""
    pause = 0.002
    timed_out = False
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)  # Popen must not reap it again
            return status, usage, timed_out
        if time.monotonic() >= deadline and not timed_out:
            timed_out = True
            _kill(child)
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _kill(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _failure(status: int, timed_out: bool, overflow: bool, limits: ParserLimits, stderr: bytes,
             cpu_used: float) -> str | None:
    if timed_out:
        return f"reading it took longer than {limits.wall_seconds:.0f} s, the limit for one file"
    if overflow:
        return f"it turned into more than {limits.max_output_bytes // MIB} MB of data"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu_used >= limits.cpu_seconds):
            return f"reading it needed more than {limits.cpu_seconds} s of processor time"
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        return f"the reader crashed on it ({name})"
    code = os.WEXITSTATUS(status)
    if code != 0:
        text = stderr.decode("utf-8", "replace")
        if "MemoryError" in text or "Cannot allocate memory" in text or "std::bad_alloc" in text:
            return f"reading it needed more than {limits.memory_bytes // MIB} MB of memory"
        return f"the reader stopped with exit code {code}"
    return None


# ---------------------------------------------------------------- the child

def child_main() -> None:
    """Read one request from stdin, run its job, write one frame to stdout. Runs inside the limits."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a library that prints must not corrupt the frame
    arrays: dict[str, np.ndarray] = {}
    try:
        request, blobs = _read_request(sys.stdin.buffer)
        module_name, function_name = request["job"].split(":")  # the parent named it from JOBS
        job = getattr(importlib.import_module(module_name), function_name)
        meta, arrays = job(request["request"], blobs)
        header = {"ok": True, "meta": meta}
    except MemoryError:
        header = {"ok": False, "refusal": "not read: it needs more memory than a file may take here"}
    except SandboxRefusal as refusal:
        header = {"ok": False, "refusal": str(refusal)}
    except Exception as exc:  # a parser bug is still a refusal, with its kind for the operator
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        header = {"ok": False, "refusal": f"could not be read ({type(exc).__name__}: {text})"}
    header["peak_rss_kb"] = _own_peak_kb()
    out.write(pack(header, arrays))
    out.flush()


def _own_peak_kb() -> int | None:
    """This process's peak resident memory since exec (VmHWM); wait4's figure also counts the parent's pages
    a fork shared before the exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read_request(stream) -> tuple[dict, list[bytes]]:
    prefix = stream.read(len(MAGIC) + 8)
    if not prefix.startswith(MAGIC) or len(prefix) != len(MAGIC) + 8:
        raise SandboxRefusal("not a sandbox request")
    (size,) = struct.unpack_from("<Q", prefix, len(MAGIC))
    header = json.loads(stream.read(size))
    blobs = []
    for blob_size in header["blob_sizes"]:
        blob = stream.read(blob_size)
        if len(blob) != blob_size:
            raise SandboxRefusal("the request ended early")
        blobs.append(blob)
    return header, blobs
