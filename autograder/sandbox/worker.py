"""The worker: the only place student code runs.

A worker is forked by the zygote (a process that already imported torch and holds nothing
secret), confines itself, then answers the judge's requests one at a time until the judge
hangs up or kills it. Any exception, ``SystemExit`` included, becomes an error reply.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import torch

from autograder.operations import OPERATIONS, StudentFault, WorkerState
from autograder.sandbox import protocol
from autograder.sandbox.limits import (
    Limits,
    apply_rlimits,
    block_network_sockets,
    confine,
    drop_root,
    installation_roots,
    set_cpu_deadline,
)


def readable_roots(extra: list[str]) -> list[str]:
    """What a worker may read: the Python installation, system libraries, this package."""
    roots = {*installation_roots(), f"/proc/{os.getpid()}", *extra}
    return sorted(r for r in roots if r and os.path.exists(r))


def _prepare(request: dict[str, Any]) -> tuple[WorkerState, Limits, int]:
    os.setsid()
    sys.argv[:] = ["autograder-worker"]  # nothing of the zygote's command line for students
    scratch = Path(request["scratch"]).resolve()
    # Student output is dropped: nothing reads it, and a file would hit the file-size limit
    # (an OSError in the student's print, failing a correct import that prints a lot).
    stdin = os.open(os.devnull, os.O_RDONLY)
    output = os.open(os.devnull, os.O_WRONLY)
    os.dup2(stdin, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.close(stdin)
    limits = Limits(**request.get("limits", {}))
    # The assignment's support.py is readable, as one file: not its folder's other files.
    support = request.get("support")
    readable = list(request.get("readable", [])) + ([support] if support else [])
    # Before the limits (RLIMIT_NPROC then counts the new user's processes); the folders
    # above everything the worker reads (a Python under /root, say) must let it through.
    roots = readable_roots(readable)
    drop_root(scratch, roots)
    apply_rlimits(limits)
    torch.set_num_threads(1)
    landlock = confine(roots, [str(scratch), os.devnull])
    block_network_sockets()
    tmp = scratch / ".tmp"
    tmp.mkdir(exist_ok=True)
    os.chdir(scratch)
    os.environ.update({"TMPDIR": str(tmp), "HOME": str(scratch)})
    tempfile.tempdir = str(tmp)  # the zygote may have cached /tmp, which the worker cannot write
    # Only the installation's own paths stay importable, and the submission comes last, so
    # a student's torch.py or sitecustomize.py can shadow nothing.
    installed = tuple(p for p in installation_roots() if p.startswith(sys.prefix)
                      or p.startswith(sys.base_prefix))
    sys.path[:] = [p for p in sys.path if p and p.startswith(installed)] + [str(scratch)]
    sys.dont_write_bytecode = True
    state = WorkerState(scratch=scratch, support_file=Path(support) if support else None,
                        support_aliases=request.get("support_aliases") or {})
    return state, limits, landlock


def serve(conn: socket.socket, request: dict[str, Any]) -> NoReturn:
    """Entry point of a freshly forked worker; never returns."""
    try:
        state, limits, landlock = _prepare(request)
        protocol.send(conn, {"ready": True, "pid": os.getpid(), "landlock": landlock})
        while True:
            try:
                message = protocol.receive(conn)
            except (protocol.ChannelClosed, protocol.ProtocolError):
                break
            protocol.send_payload(conn, _answer(state, limits, message))
    except BaseException:  # the judge sees the hang-up and asks the zygote why
        pass
    finally:
        os._exit(0)


def _answer(state: WorkerState, limits: Limits, message: dict[str, Any]) -> bytes:
    """The encoded reply: ``{"ok": value}`` or ``{"error": description}``."""
    operation = OPERATIONS.get(message.get("op", ""))
    try:
        if operation is None:
            raise StudentFault(f"unknown operation {message.get('op')!r}")
        set_cpu_deadline(limits.operation_cpu_seconds)
        return protocol.encode({"ok": operation(state, **message.get("args", {}))})
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code too
        return protocol.encode({"error": state.describe(exc)})
