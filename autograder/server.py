"""A warm server for `autograder check`, so a student's second check does not wait for torch.

Every `check` pays the same start-up: the judge and the zygote each import torch (and the
zygote torchvision), seconds before the first check runs. The first `check` on a laptop
therefore starts a server in the background that keeps both imported: the judge in its own
process, and one zygote per assignment's preload. Each later `check` is a small client (no
torch): it hands the server its arguments, folder, environment and standard streams, the
server forks a fresh judge that runs exactly the command the client would have run, with
the client's streams as its own, and the client exits with that judge's exit status.

What stays as it was: student code runs only in workers forked by a zygote (started fresh,
holding no judge state); each check runs in a judge forked for it alone, so nothing one
check leaves in memory reaches the next; the server serves one check at a time. Only the
same user may connect (checked on both sides with SO_PEERCRED): the name is an abstract
socket, which another user could take first, so the client also refuses a server that is
not its own user's and then runs the check itself.

The server is keyed by everything it took at start-up and a check could depend on: this
Python, the grading code's source, and the environment variables it reads. A change to any
of them meets another server (or starts one); an old one exits after ``IDLE_SECONDS``
without a check. ``AUTOGRADER_SERVER=off`` turns it off; it is off where ``CI`` is set (a
one-shot machine gains nothing from it) unless ``AUTOGRADER_SERVER=on``.

This module imports only the standard library until it serves: the client must stay cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

IDLE_SECONDS = 600.0
SWITCH = "AUTOGRADER_SERVER"
# What a judge reads from the environment at start-up (the server's were fixed then) or
# hands to its zygote; a check run elsewhere would differ in them.
_KEYED_VARIABLES = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "XDG_CACHE_HOME",
                    "CUDA_VISIBLE_DEVICES", "PYTHONPATH", "PYTHONHASHSEED")
_PEERCRED = "3i"
_MAX_MESSAGE = 1 << 20
_START_TIMEOUT = 120.0


def enabled(environ: dict[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    switch = environ.get(SWITCH, "").lower()
    if switch in ("off", "0", "no", "false"):
        return False
    return switch in ("on", "1", "yes", "true") or not environ.get("CI")


def server_key(environ: dict[str, str] | None = None) -> str:
    """What a server was started with: a server of another key must not serve this check."""
    environ = os.environ if environ is None else environ
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    digest.update(f"{sys.executable}\0{os.getuid()}\0".encode())
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".ini", ".json", ".yml") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    keyed = {k: v for k, v in environ.items()
             if k in _KEYED_VARIABLES or (k.startswith("AUTOGRADER_") and k != SWITCH)}
    digest.update(json.dumps(keyed, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def _address(key: str) -> str:
    return f"\0autograder-check-{os.getuid()}-{key}"


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize(_PEERCRED))
    return struct.unpack(_PEERCRED, creds)[1]


def _send(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    data = json.dumps(message).encode()
    frame = struct.pack("!I", len(data)) + data
    if fds:
        socket.send_fds(sock, [frame], list(fds))
    else:
        sock.sendall(frame)


def _receive(sock: socket.socket, timeout: float | None, with_fds: int = 0
             ) -> tuple[dict[str, Any] | None, list[int]]:
    """One message (None when the other side closed first) and the descriptors it carried."""
    deadline = None if timeout is None else time.monotonic() + timeout
    buffer, fds = b"", []
    while True:
        size = struct.unpack("!I", buffer[:4])[0] if len(buffer) >= 4 else None
        if size is not None and size > _MAX_MESSAGE:
            raise ValueError("message too large")
        if size is not None and len(buffer) >= 4 + size:
            return json.loads(buffer[4:4 + size]), fds
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and (left <= 0 or not select.select([sock], [], [], left)[0]):
            raise TimeoutError("no message in time")
        if with_fds and not fds:
            chunk, fds, _, _ = socket.recv_fds(sock, 65536, with_fds)
        else:
            chunk = sock.recv(65536)
        if not chunk:
            for fd in fds:
                os.close(fd)
            return None, []
        buffer += chunk


# --- the client -------------------------------------------------------------------------

def _connect(key: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(_address(key))
        if _peer_uid(sock) != os.getuid():  # someone else holds the name: not ours to trust
            sock.close()
            return None
        return sock
    except OSError:
        sock.close()
        return None


def _start_server(key: str, preload: Sequence[str]) -> subprocess.Popen[bytes]:
    package_parent = str(Path(__file__).resolve().parents[1])
    code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from autograder.cli import serve_checks; serve_checks()")
    return subprocess.Popen([sys.executable, "-P", "-c", code, package_parent, key, ",".join(preload)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd="/", start_new_session=True)


def run_through_server(argv: list[str], preload: Sequence[str]) -> int | None:
    """Run the command ``argv`` (after the program name) in the warm server, starting one when
    none serves; its exit status, or None when no server could take it (run it here then)."""
    if not enabled():
        return None
    key = server_key()
    sock = _connect(key)
    if sock is None:
        started = _start_server(key, preload)
        deadline = time.monotonic() + 10
        while sock is None and time.monotonic() < deadline:  # it binds before it imports
            time.sleep(0.02)
            sock = _connect(key)
            if sock is None and started.poll() is not None:
                break  # it could not bind (the name is taken) or start
        if sock is None:
            return None
    with sock:
        try:
            # it greets a client it is ready for (it serves one check at a time): only then do
            # our streams travel, so a client that gave up is never served later
            hello, _ = _receive(sock, _START_TIMEOUT)
            if not hello or not hello.get("hello"):
                return None
            request = {"op": "run", "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
                       "preload": list(preload)}
            _send(sock, request, fds=(0, 1, 2))
            started, _ = _receive(sock, _START_TIMEOUT)
        except (OSError, ValueError, TimeoutError):
            return None
        if not started or not started.get("started"):
            return None  # nothing ran: the check runs here instead
        return _wait_for_status(sock)


def _wait_for_status(sock: socket.socket) -> int:
    interrupted = False
    while True:
        try:
            done, _ = _receive(sock, None)
            break
        except KeyboardInterrupt:  # the terminal's Ctrl-C reached us, not the judge: pass it on
            if interrupted:
                raise
            interrupted = True
            with contextlib.suppress(OSError):
                _send(sock, {"op": "interrupt"})
        except (OSError, ValueError):
            done = None
            break
    if done is None:
        os.write(2, b"Error: the warm check server stopped before the check ended; run the "
                    b"check again (AUTOGRADER_SERVER=off runs it without the server)\n")
        return 1
    return int(done.get("status", 1))


def stop_server() -> bool:
    """Stop this environment's server; whether one was running."""
    sock = _connect(server_key())
    if sock is None:
        return False
    with sock:
        try:
            _receive(sock, 30)
            _send(sock, {"op": "stop"})
            _receive(sock, 30)
        except (OSError, ValueError, TimeoutError):
            pass
    return True


# --- the server -------------------------------------------------------------------------

class _Server:
    def __init__(self, listener: socket.socket, idle: float, command: Callable[[], None]) -> None:
        self.listener = listener
        self.command = command
        self.idle = idle
        self.zygotes: dict[tuple[str, ...], Any] = {}

    def zygote(self, preload: tuple[str, ...]) -> Any:
        from autograder.sandbox.client import Zygote

        zygote = self.zygotes.get(preload)
        if zygote is not None and zygote.process.poll() is not None:
            self.zygotes.pop(preload)
            zygote.close()
            zygote = None
        if zygote is None:
            zygote = self.zygotes[preload] = Zygote(preload)
        zygote.wait_ready()
        return zygote

    def close(self) -> None:
        self.listener.close()
        for zygote in self.zygotes.values():
            zygote.close()

    def serve(self) -> None:
        while True:
            ready, _, _ = select.select([self.listener], [], [], self.idle)
            if not ready:
                return  # idle long enough: whatever it holds is memory a laptop wants back
            conn, _ = self.listener.accept()
            with conn:
                if _peer_uid(conn) != os.getuid():
                    continue
                try:
                    _send(conn, {"hello": True})
                    request, fds = _receive(conn, 10, with_fds=3)
                except (OSError, ValueError, TimeoutError):
                    continue
                try:
                    if request and request.get("op") == "stop":
                        self.listener.close()  # the name is free once the client hears back
                        _send(conn, {"stopped": True})
                        return
                    if request and request.get("op") == "run" and len(fds) == 3:
                        self.run(conn, request, fds)
                finally:
                    for fd in fds:
                        os.close(fd)

    def run(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        try:
            preload = tuple(str(name) for name in request["preload"])
            argv = [str(arg) for arg in request["argv"]]
            env = {str(k): str(v) for k, v in request["env"].items()}
            cwd = str(request["cwd"])
            zygote = self.zygote(preload)
        except Exception:  # a zygote that cannot start, a malformed request: the client runs it
            return
        if _closed(conn):  # it gave up while the zygote started, and runs the check itself
            return
        pid = os.fork()
        if pid == 0:
            _run_check(conn, self.listener, zygote, self.command, argv, env, cwd, fds)
        _send(conn, {"started": True})
        status = _watch(conn, pid)
        with contextlib.suppress(OSError):
            _send(conn, {"status": status})


def _closed(conn: socket.socket) -> bool:
    if not select.select([conn], [], [], 0)[0]:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _watch(conn: socket.socket, pid: int) -> int:
    """The judge's exit status; the client's Ctrl-C (or its end) interrupts the judge."""
    pidfd = os.pidfd_open(pid)
    try:
        listening = True
        while True:
            ready, _, _ = select.select([pidfd] + ([conn] if listening else []), [], [])
            if pidfd in ready:
                break
            try:
                message, _ = _receive(conn, 5)
            except (OSError, ValueError, TimeoutError):
                message = None
            if message is None:
                listening = False  # gone: nobody reads the outcome, so stop the work
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _run_check(conn: socket.socket, listener: socket.socket, zygote: Any, command: Callable[[], None],
               argv: list[str], env: dict[str, str], cwd: str, fds: list[int]) -> None:
    """In the forked judge: become the client's command, run it, and never return."""
    code = 1
    try:
        conn.close()
        listener.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            os.close(fd)
        sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1,  # noqa: SIM115
                          encoding="utf-8", errors="backslashreplace", closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8",  # noqa: SIM115
                          errors="backslashreplace", closefd=False)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        os.environ[SWITCH] = "off"  # this judge is the check: it must not ask a server again
        sys.argv = ["autograder", *argv]
        from autograder.sandbox import client

        client._prestarted = zygote  # the server's: this judge's own close leaves it running
        command()  # the console entry point: it ends the process
    except BaseException:
        with contextlib.suppress(BaseException):
            if os.environ.get("AUTOGRADER_DEBUG"):
                import traceback

                traceback.print_exc()
            os.write(2, b"Error: the warm check server could not run the check; run it again "
                        b"with AUTOGRADER_SERVER=off\n")
    os._exit(code)


def main(command: Callable[[], None]) -> None:
    """``python -c ... <package parent> KEY PRELOAD``: bind, warm up, serve until idle;
    ``command``: the console entry point (autograder.cli.run), which each check runs."""
    key, preload = sys.argv[1], tuple(p for p in sys.argv[2].split(",") if p)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(_address(key))  # atomic: a second server for the same key stops here
    except OSError:
        return
    listener.listen(8)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a stray Ctrl-C is for the clients' checks
    server = _Server(listener, IDLE_SECONDS, command)
    try:
        if preload:
            from autograder.sandbox.client import Zygote

            # it imports torch on the other core while this process imports the judge
            server.zygotes[preload] = Zygote(preload)
        import autograder.api  # noqa: F401  (what every check would import)
        server.serve()
    finally:
        server.close()
