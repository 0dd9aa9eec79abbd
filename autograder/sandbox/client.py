"""The judge's side of the sandbox: start the zygote, get workers, call operations.

Wall-clock limits are enforced here, from outside the worker: when an operation runs past
its limit the judge kills the worker's whole process group and reports a timeout. What a
worker sends back is decoded as data only (see :mod:`autograder.sandbox.protocol`).
"""

from __future__ import annotations

import atexit
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograder import profiling
from autograder.sandbox import DEFAULT_PRELOAD, protocol
from autograder.sandbox.limits import Limits

_SIGNAL_MEANINGS = {
    signal.SIGXCPU: "it used up its CPU time limit",
    signal.SIGKILL: "it was killed (the memory or time limit, or the grader)",
    signal.SIGSEGV: "it crashed with a segmentation fault",
    signal.SIGABRT: "it aborted",
}


# What a worker says when it ran into one of its resource limits. A worker in that state
# (its memory held by module-level objects, a half-built allocator) must not serve the next
# check: the judge retires it. The text comes from the worker, so a student can only make
# the judge restart their own worker more often.
_EXHAUSTION_TYPES = {"MemoryError", "OutOfMemoryError"}
_EXHAUSTION_MESSAGES = ("can't allocate memory", "could not create a primitive", "out of memory",
                        "std::bad_alloc", "Too many open files", "Resource temporarily unavailable")


def exhausted_resources(error: dict[str, Any]) -> bool:
    """Whether an error reply says the worker hit a resource limit."""
    message = str(error.get("message", ""))
    return (str(error.get("type")) in _EXHAUSTION_TYPES
            or any(text in message for text in _EXHAUSTION_MESSAGES))


def clean_frames(frames: Any) -> list[dict[str, Any]]:
    """A worker's traceback frames as the judge may use them: at most 5, each with a string
    file, function and code and an integer line (a worker writes whatever it likes)."""
    if not isinstance(frames, list):
        return []
    cleaned = []
    for frame in frames[-5:]:
        if isinstance(frame, dict):
            line = frame.get("line")
            cleaned.append({"file": str(frame.get("file", ""))[:200],
                            "line": line if type(line) is int else 0,
                            "function": str(frame.get("function", ""))[:200],
                            "code": str(frame.get("code", ""))[:200]})
    return cleaned


def clean_error(error: dict[str, Any]) -> dict[str, Any]:
    """A worker's error reply as data the judge may use: ``type``, ``message``, ``frames``
    and ``fault`` of the shapes :func:`autograder.operations.registry.describe_exception`
    gives, whatever the worker sent."""
    return {"type": str(error.get("type", "Exception"))[:100],
            "message": str(error.get("message", ""))[:2000],
            "frames": clean_frames(error.get("frames", [])),
            "fault": error.get("fault") is True}


class SandboxError(Exception):
    """Base of everything that can go wrong with student code in a worker."""


class StudentError(SandboxError):
    """The student's code raised an exception (or a probe found a fault in it)."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        super().__init__(f"{info.get('type')}: {info.get('message')}")

    @property
    def type(self) -> str:
        return str(self.info.get("type", "Exception"))

    @property
    def message(self) -> str:
        return str(self.info.get("message", ""))

    @property
    def frames(self) -> list[dict[str, Any]]:
        return list(self.info.get("frames", []))


class WorkerTimeout(SandboxError):
    """An operation ran past its wall-clock limit; the worker was killed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"took longer than the {seconds:g} s limit")


class WorkerDied(SandboxError):
    """The worker ended without answering: ``sys.exit``/``os._exit``, a crash, a limit."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        if "exit_code" in status:
            why = (f"the process exited with code {status['exit_code']} "
                   "(does your code call sys.exit, os._exit or exit?)")
        elif "signal" in status:
            why = _SIGNAL_MEANINGS.get(status["signal"], f"it was killed by signal {status['signal']}")
        else:
            why = "the process ended unexpectedly"
        super().__init__(why)

    @property
    def cpu_limit(self) -> bool:
        return self.status.get("signal") == signal.SIGXCPU


class Zygote:
    """Owns the zygote process of this judge run; shared by judges forked from it."""

    def __init__(self, preload: Sequence[str] = DEFAULT_PRELOAD) -> None:
        """``preload``: installed modules it imports before forking (an assignment's
        ``preload``, checked there to be installed packages, never project code)."""
        self.preload = tuple(preload)
        self.folder = tempfile.mkdtemp(prefix="autograder-zygote-")  # its working folder
        # An abstract socket name (no file); the zygote serves only this process and the
        # judges it forks, never a process of its own making.
        self.socket_name = f"autograder-zygote-{secrets.token_hex(16)}"
        self.owner = os.getpid()
        package_parent = str(Path(__file__).resolve().parents[2])
        code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
                "from autograder.sandbox.zygote import main; main()")
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME")}
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1",
                   CUDA_VISIBLE_DEVICES=os.environ.get("CUDA_VISIBLE_DEVICES", ""))
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-c", code, package_parent, self.socket_name, str(self.owner),
             ",".join(self.preload)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=self.folder, env=env,
            start_new_session=True,
        )
        self._ready = False
        # A judge's background thread may spawn while its main thread does: one of them
        # reads the zygote's single "ready" line, the other waits for it here.
        self._ready_lock = threading.Lock()

    def wait_ready(self, timeout: float = 120) -> None:
        with self._ready_lock:
            if self._ready:
                return
            ready, _, _ = select.select([self.process.stdout], [], [], timeout)
            line = self.process.stdout.readline() if ready else b""
            if line.strip() != b"ready":
                raise RuntimeError("the sandbox could not start (the zygote process did not come up)")
            self._ready = True

    def _request(self, message: dict[str, Any]) -> socket.socket:
        """Connect and send ``message``. It is encoded first (the first encode imports torch,
        seconds on a busy machine): the zygote serves one connection at a time and gives
        each only a few seconds to send its request, so nothing slow may come between."""
        payload = protocol.encode(message)
        self.wait_ready()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect("\0" + self.socket_name)
        protocol.send_payload(sock, payload)
        return sock

    def spawn(self, scratch: Path, limits: Limits, readable: list[str],
              timeout: float = 30, support: Path | None = None,
              aliases: dict[str, dict[str, str]] | None = None) -> Worker:
        """A new worker for ``scratch``; ``support``: the assignment's support.py, the one
        assignment file it may read (and import, see :mod:`autograder.operations.state`);
        ``aliases``: the assignment's other spellings of parameters, which the support
        code's symbols then accept too (see ``AssignmentSpec.aliases``)."""
        with profiling.timed("worker spawn (zygote fork, until its hello)"):
            return self._spawn(scratch, limits, readable, timeout, support, aliases or {})

    def _spawn(self, scratch: Path, limits: Limits, readable: list[str], timeout: float,
               support: Path | None, aliases: dict[str, dict[str, str]]) -> Worker:
        sock = self._request({"op": "spawn", "scratch": str(scratch), "limits": limits.model_dump(),
                              "readable": readable, "support": str(support) if support else None,
                              "support_aliases": aliases})
        try:
            hello = protocol.receive(sock, time.monotonic() + timeout)
        except (protocol.ChannelClosed, protocol.ChannelTimeout, protocol.ProtocolError):
            sock.close()
            raise RuntimeError("the sandbox could not start a worker") from None
        return Worker(self, sock, int(hello["pid"]), int(hello.get("landlock", 0)))

    def exit_status(self, pid: int) -> dict[str, Any]:
        try:
            sock = self._request({"op": "status", "pid": pid})
            status = protocol.receive(sock, time.monotonic() + 5)
            sock.close()
            return status
        except (OSError, protocol.ChannelClosed, protocol.ChannelTimeout, protocol.ProtocolError):
            return {"unknown": True}

    def close(self) -> None:
        if os.getpid() != self.owner:
            return
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_prestarted: Zygote | None = None


def prestart_zygote(preload: Sequence[str] = DEFAULT_PRELOAD) -> None:
    """Start the zygote now, so its torch import overlaps with the caller's own. If the
    caller exits before using it (a user error found later), it is killed at exit."""
    global _prestarted
    if _prestarted is None:
        _prestarted = Zygote(preload)
        atexit.register(_discard_prestarted)


def _discard_prestarted() -> None:
    global _prestarted
    if _prestarted is not None and _prestarted.owner != os.getpid():
        _prestarted = None  # a warm server's (autograder.server): it serves the next check
    if _prestarted is not None:
        _prestarted.process.kill()
        _prestarted.process.wait()
        _prestarted.process.stdin.close()
        _prestarted.process.stdout.close()
        shutil.rmtree(_prestarted.folder, ignore_errors=True)
        _prestarted = None


def new_zygote(preload: Sequence[str] = DEFAULT_PRELOAD) -> Zygote:
    """The prestarted zygote if there is one with this ``preload``, else a new one."""
    global _prestarted
    if _prestarted is not None and _prestarted.preload != tuple(preload):
        _discard_prestarted()  # another assignment's: its imports would not serve this one
    zygote, _prestarted = _prestarted, None
    return zygote or Zygote(preload)


class Worker:
    """One sandboxed process holding a submission's code."""

    def __init__(self, zygote: Zygote, sock: socket.socket, pid: int, landlock: int) -> None:
        self.zygote = zygote
        self.sock = sock
        self.pid = pid
        self.landlock = landlock
        self.alive = True

    def call(self, op: str, timeout: float, **args: Any) -> Any:
        with profiling.timed(f"worker op {op} (round trip)"):
            return self._call(op, timeout, **args)

    def _call(self, op: str, timeout: float, **args: Any) -> Any:
        if not self.alive:
            raise WorkerDied({"unknown": True})
        try:
            protocol.send(self.sock, {"op": op, "args": args})
            reply = protocol.receive(self.sock, time.monotonic() + timeout)
        except protocol.ChannelTimeout:
            self.kill()
            raise WorkerTimeout(timeout) from None
        except (protocol.ChannelClosed, BrokenPipeError, ConnectionResetError):
            self.kill()
            raise WorkerDied(self.zygote.exit_status(self.pid)) from None
        except protocol.ProtocolError as exc:
            self.kill()
            raise self._unreadable(str(exc)) from None
        if not isinstance(reply, dict) or not isinstance(reply.get("error", {}), dict):
            self.kill()
            raise self._unreadable("the worker's reply is neither a value nor an error")
        if "error" in reply:
            error = clean_error(reply["error"])
            if exhausted_resources(error):
                self.kill()  # the next call gets a fresh worker, the submission re-imported
            raise StudentError(error)
        return reply.get("ok")

    @staticmethod
    def _unreadable(message: str) -> StudentError:
        """A reply that breaks the protocol: the student's fault (their code wrote it), and
        the worker that sent it is gone."""
        return StudentError({"type": "ProtocolError", "message": message, "frames": [],
                             "fault": True})

    def kill(self) -> None:
        if self.alive:
            with profiling.timed("worker kill (signal; the exit is the kernel's)"):
                self.alive = False
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.sock.close()
