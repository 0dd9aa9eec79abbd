"""The zygote: a warm process that forks workers.

Started as a fresh interpreter (``python -P``, a private working folder, a clean
environment), it imports torch, the worker code and the assignment's ``preload`` modules
(installed packages its student code uses, such as torchvision), runs a tiny forward/backward so lazy
initialisation is done once, and then forks one worker per request in milliseconds. It
never imports the judge, a reference, a hidden check or a mutant, so a fork copies
nothing secret. It serves only its own user, and never its own descendants (a worker
cannot ask for more workers). It exits when its parent closes its standard input.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import select
import signal
import socket
import struct
import sys
import sysconfig
import threading
import time
from pathlib import Path
from typing import NoReturn

import autograder
from autograder.sandbox import protocol, worker

_SO_PEERCRED_FORMAT = "3i"


def _warm_up(preload: list[str]) -> None:
    """Run once what every worker would otherwise initialise lazily on its own.

    ``preload``: the assignment's modules beyond torch (its ``preload``: installed packages
    only, checked by the judge when it reads the assignment).
    """
    import torch
    from torch import nn

    for name in preload:
        # Its output must not reach our stdout, which answers "ready" to the judge.
        with contextlib.redirect_stdout(sys.stderr):
            try:
                importlib.import_module(name)
            except Exception as exc:
                _refuse_to_start(f"preload: {name} cannot be imported ({type(exc).__name__}: {exc})")

    from autograder import seeding
    from autograder.operations import cells, models
    from autograder.operations.introspect import trace_forward
    from autograder.sandbox.limits import landlock_abi

    landlock_abi()  # loads libc through ctypes once, here, not in every worker
    seeding.manual_seed(0)  # asks torch once whether there is an accelerator to seed too
    cells.to_python("x = 1")  # imports IPython's cell transformer, for notebooks
    worker.readable_roots([])  # and fills sysconfig's caches

    torch.set_num_threads(1)
    with torch.device("meta"):  # the usual layers, so their kernels are initialised here
        model = nn.Sequential(
            nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1), nn.Conv2d(8, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    models._materialize(model)
    trace_forward(model, [torch.randn(1, 3, 32, 32)])
    model.train()
    model(torch.randn(2, 3, 32, 32)).sum().backward()


_MADV_HUGEPAGE = 14
_MADV_COLLAPSE = 25  # Linux 6.1
_HUGE_PAGE = 2 << 20


def _private_memory_ranges() -> list[tuple[int, int]]:
    """The 2 MiB-aligned parts of this process's private writable memory that no file backs:
    the heap, Python's arenas, what torch allocated at import."""
    ranges = []
    try:
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        path = fields[5] if len(fields) > 5 else ""
        if fields[1][:2] != "rw" or fields[1][3] != "p" or path not in ("", "[heap]"):
            continue
        low, high = (int(address, 16) for address in fields[0].split("-"))
        start, end = -(-low // _HUGE_PAGE) * _HUGE_PAGE, high // _HUGE_PAGE * _HUGE_PAGE
        if end > start:
            ranges.append((start, end - start))
    return ranges


def _collapse_into_huge_pages(ranges: list[tuple[int, int]]) -> None:
    """Back ``ranges`` with transparent huge pages, so that a fork copies one page-table entry
    per 2 MiB instead of 512 and a worker's exit frees as few: the zygote holds hundreds of
    megabytes of such memory (torch), and this halves the CPU time of every spawn. A worker
    that writes to one of them copies 4 KiB, as before (the kernel splits a shared huge page
    on a write). Best effort: where the kernel cannot (before 6.1, or THP off), nothing
    changes."""
    import ctypes

    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for start, length in ranges:
        madvise(start, length, _MADV_HUGEPAGE)
        madvise(start, length, _MADV_COLLAPSE)


_PR_SET_CHILD_SUBREAPER = 36
_KEPT_STATUSES = 1024


def _parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def may_ask_for_workers(peer_pid: int, peer_uid: int, owner: int) -> bool:
    """Whether the process at the other end of a connection may ask for workers: only the
    judge that started the zygote (``owner``), or a judge it forked, under our own user. A
    worker is the zygote's child, the owner's grandchild: refused."""
    return peer_uid == os.getuid() and (peer_pid == owner or _parent_of(peer_pid) == owner)


def _become_subreaper() -> None:
    """Orphans of workers (a daemon that called setsid and forked) become our children, so
    they can be found and killed, instead of escaping to init."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _kill_group_and_self(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


class Zygote:
    def __init__(self, name: str, owner: int) -> None:
        self.owner = owner
        self.children: dict[int, int | None] = {}
        # worker -> the judge that asked for it, where that is not the owner (a judge forked
        # from it: -j N, or a warm check server's judge of one check)
        self.requesters: dict[int, int] = {}
        # An abstract socket: no file to find, and Landlock keeps sandboxed processes from
        # connecting to abstract sockets made outside the sandbox.
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind("\0" + name)
        self.listener.listen(64)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in self.children:
                self.children[pid] = status
        self.kill_orphans()
        self.kill_abandoned()
        reaped = [pid for pid, status in self.children.items() if status is not None]
        for pid in reaped[: max(0, len(reaped) - _KEPT_STATUSES)]:
            del self.children[pid]

    def kill_orphans(self) -> None:
        """Kill every child we did not fork: a worker's descendant that outlived it."""
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in self.children and _parent_of(int(entry)) == me:
                _kill_group_and_self(int(entry))

    def kill_abandoned(self) -> None:
        """Kill the workers of a forked judge that is gone (killed in the middle of a check):
        the owner may live on (a warm server), and a worker asleep in student code would."""
        for pid, judge in list(self.requesters.items()):
            if self.children.get(pid, 0) is not None:
                del self.requesters[pid]  # ended, or already forgotten
            elif _parent_of(judge) == 0 or _is_zombie(judge):
                _kill_group_and_self(pid)
                del self.requesters[pid]

    def exit_status(self, pid: int) -> dict[str, int | bool]:
        deadline = time.monotonic() + 3
        while self.children.get(pid, 0) is None and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.005)
        status = self.children.pop(pid, None)
        if status is None:
            return {"unknown": True}
        if os.WIFSIGNALED(status):
            return {"signal": os.WTERMSIG(status)}
        return {"exit_code": os.WEXITSTATUS(status)}

    def serve_forever(self) -> None:
        while True:
            ready, _, _ = select.select([self.listener, sys.stdin], [], [], 1.0)
            self.reap()
            if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1):
                self.shutdown()
                return
            if self.listener in ready:
                conn, _ = self.listener.accept()
                self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        try:
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                    struct.calcsize(_SO_PEERCRED_FORMAT))
            peer_pid, peer_uid, _ = struct.unpack(_SO_PEERCRED_FORMAT, creds)
            if not may_ask_for_workers(peer_pid, peer_uid, self.owner):
                return
            request = protocol.receive(conn, time.monotonic() + 10)
            if request.get("op") == "status":
                protocol.send(conn, self.exit_status(int(request["pid"])))
            elif request.get("op") == "spawn":
                pid = os.fork()
                if pid == 0:
                    self.listener.close()
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    worker.serve(conn, request)
                self.children[pid] = None
                if peer_pid != self.owner:
                    self.requesters[pid] = peer_pid
        except (OSError, protocol.ProtocolError, protocol.ChannelClosed, protocol.ChannelTimeout):
            pass
        finally:
            conn.close()

    def shutdown(self) -> None:
        for pid, status in self.children.items():
            if status is None:
                _kill_group_and_self(pid)
        self.kill_orphans()


def _refuse_to_start(why: str) -> NoReturn:
    sys.stderr.write(f"autograder: the sandbox did not start: {why}\n")
    sys.stderr.flush()
    os._exit(1)


def project_modules(project: Path) -> list[str]:
    """Modules loaded from ``project`` (the folder this package was imported from), other
    than this package itself and what is installed there (a virtual environment): the
    reference, checks, mutants or tests of a project checkout, which no worker may inherit."""
    allowed = [Path(autograder.__file__).resolve().parent]
    allowed += [Path(sysconfig.get_paths()[key]).resolve()
                for key in ("purelib", "platlib", "stdlib", "platstdlib")]
    found = []
    for name, module in list(sys.modules.items()):
        locations = [getattr(module, "__file__", None)]
        try:  # a package's folders (a namespace package has only these)
            locations += list(module.__path__)
        except (AttributeError, TypeError):  # not a package (torch has objects posing as one)
            pass
        for location in locations:
            if not isinstance(location, str):
                continue
            where = Path(location).resolve()
            if where.is_relative_to(project) and not any(where.is_relative_to(a) for a in allowed):
                found.append(f"{name} ({location})")
                break
    return found


def main() -> None:
    project = Path(sys.path[0]).resolve()  # where this package was imported from (see client)
    _warm_up([name for name in sys.argv[3].split(",") if name])
    # Fail closed: whatever a preload imported, no project code is in the memory workers copy.
    leaked = project_modules(project)
    if leaked:
        _refuse_to_start(f"{leaked[0]} was imported from the project, and every worker would "
                         "inherit it; preload only installed packages")
    # Objects that exist now are never collected here: a worker's garbage collector then
    # does not write to (and so copy) every page it inherits.
    gc.freeze()
    # In a thread of its own (the calls release the GIL): the zygote serves requests while
    # the kernel copies its memory into huge pages; a fork meanwhile just gains less.
    threading.Thread(target=_collapse_into_huge_pages, args=(_private_memory_ranges(),),
                     daemon=True).start()
    _become_subreaper()
    zygote = Zygote(sys.argv[1], int(sys.argv[2]))
    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        zygote.serve_forever()
    except (BrokenPipeError, KeyboardInterrupt):  # the judge is gone: so are we, quietly
        zygote.shutdown()


if __name__ == "__main__":
    main()
