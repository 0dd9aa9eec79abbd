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
_KEYED_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "HOME", "TMPDIR", "XDG_CACHE_HOME",
                    "CUDA_VISIBLE_DEVICES", "PYTHONPATH", "PYTHONHASHSEED", "PYTHONIOENCODING",
                    "PYTHONUTF8")
# torch and its thread pools read these when torch is imported: once, in the server
_KEYED_PREFIXES = ("AUTOGRADER_", "OMP_", "MKL_", "TORCH_", "PYTORCH_", "CUBLAS_", "CUDA_")
_PEERCRED = "3i"
_MAX_MESSAGE = 1 << 20
_START_TIMEOUT = 120.0


def enabled(environ: dict[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_PEERCRED"):
        return False  # abstract sockets and SO_PEERCRED are Linux's: elsewhere, no server
    try:
        if _confinement("self")[0] != "0":
            return False  # already no-new-privileges: a worker could not be told from us
    except OSError:
        return False
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
             if k in _KEYED_VARIABLES or (k.startswith(_KEYED_PREFIXES) and k != SWITCH)}
    digest.update(json.dumps(keyed, sort_keys=True).encode())
    digest.update(json.dumps(_process_facts(), sort_keys=True).encode())
    return digest.hexdigest()[:32]


def _process_facts() -> dict[str, Any]:
    """What else a judge inherits and a check could meet: limits, CPUs, niceness, and the
    installed packages (a `pip install -U torch` changes the folder, and the server keeps
    the torch it imported)."""
    import resource
    import sysconfig

    facts: dict[str, Any] = {
        "limits": {name: resource.getrlimit(getattr(resource, name))
                   for name in dir(resource) if name.startswith("RLIMIT_")},
        "cpus": sorted(os.sched_getaffinity(0)),
        "nice": os.nice(0),
    }
    for name in ("purelib", "platlib"):
        folder = sysconfig.get_paths()[name]
        with contextlib.suppress(OSError):
            facts[name] = [folder, os.stat(folder).st_mtime_ns]
    return facts


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
    try:
        while True:
            message = _complete(buffer)
            if message is not None:
                return message, fds
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and (left <= 0 or not select.select([sock], [], [], left)[0]):
                raise TimeoutError("no message in time")
            if with_fds and not fds:
                chunk, fds, _, _ = socket.recv_fds(sock, 65536, with_fds)
            else:
                chunk = sock.recv(65536)
            if not chunk:
                raise EOFError
            buffer += chunk
    except BaseException as exc:
        for fd in fds:
            os.close(fd)
        if isinstance(exc, EOFError):
            return None, []
        raise


def _complete(buffer: bytes) -> dict[str, Any] | None:
    """The message ``buffer`` holds, None while it is incomplete; ValueError when it is not
    a JSON object of a sensible size."""
    if len(buffer) < 4:
        return None
    size = struct.unpack("!I", buffer[:4])[0]
    if size > _MAX_MESSAGE:
        raise ValueError("message too large")
    if len(buffer) < 4 + size:
        return None
    try:
        message = json.loads(buffer[4:4 + size])
    except RecursionError:
        raise ValueError("message too deep") from None
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    return message


# --- the client -------------------------------------------------------------------------

def _connect(key: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(_address(key))
        # someone else holds the name (another user, or sandboxed code that bound it once
        # the server was gone): not ours to trust with our streams and environment
        if sock.fileno() > 2 and _trusted_peer(sock):
            return sock
    except OSError:
        pass
    sock.close()
    return None


def _trusted_peer(sock: socket.socket) -> bool:
    """The same user, and no more confined than we are. Every sandbox worker has set
    no-new-privileges and a seccomp filter, which it cannot undo and which its children
    inherit, whatever process adopts them; the same mount namespace (abstract names are per
    network namespace: a container may share ours and see other files)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize(_PEERCRED))
    peer_pid, peer_uid, _ = struct.unpack(_PEERCRED, creds)
    if peer_uid != os.getuid():
        return False
    try:
        mine, theirs = _confinement("self"), _confinement(str(peer_pid))
        return theirs == mine and (os.readlink("/proc/self/ns/mnt")
                                   == os.readlink(f"/proc/{peer_pid}/ns/mnt"))
    except OSError:
        return False


def _confinement(pid: str) -> tuple[str, str]:
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    return fields.get("NoNewPrivs", "").strip(), fields.get("Seccomp", "").strip()


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
    try:
        sock = _handed_over(argv, preload)
    except Exception:  # no descriptors, no processes, an unreadable file: run it here
        return None
    if sock is None:
        return None
    with sock:
        return _wait_for_status(sock)


def _handed_over(argv: list[str], preload: Sequence[str]) -> socket.socket | None:
    """A connection to a server that has started the check, or None (nothing ran)."""
    for fd in (0, 1, 2):
        os.fstat(fd)  # a closed stream would be the socket's number, and then sent as one
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
    try:
        # it greets a client it is ready for (it serves one check at a time): only then do
        # our streams travel, so a client that gave up is never served later
        hello, _ = _receive(sock, _START_TIMEOUT)
        if hello and hello.get("hello"):
            umask = os.umask(0o022)
            os.umask(umask)
            request = {"op": "run", "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
                       "umask": umask, "preload": list(preload), "key": key}
            _send(sock, request, fds=(0, 1, 2))
            started, _ = _receive(sock, _START_TIMEOUT)
            if started and started.get("started"):
                return sock
    except (OSError, ValueError, TimeoutError):
        pass
    sock.close()
    return None


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


def stop_server() -> str:
    """Stop this environment's server: ``stopped``, ``busy`` (it runs a check; it stops when
    asked again once that is done), or ``none`` (none runs, or it did not answer)."""
    sock = _connect(server_key())
    if sock is None:
        return "none"
    with sock:
        try:
            hello, _ = _receive(sock, 30)
            if hello and hello.get("busy"):
                return "busy"
            _send(sock, {"op": "stop"})
            stopped, _ = _receive(sock, 30)
        except (OSError, ValueError, TimeoutError):
            return "none"
    return "stopped" if stopped and stopped.get("stopped") else "none"


# --- the server -------------------------------------------------------------------------

def _descends_from(pid: int, ancestor: int) -> bool:
    """Whether ``pid`` is ``ancestor``'s child, grandchild, ...: its zygote's workers are,
    however they fork or detach (the zygote is their subreaper), and they are untrusted."""
    for _ in range(4096):
        if pid <= 1:
            return False
        try:
            with open(f"/proc/{pid}/stat") as stat:
                pid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False  # gone, or hidden (hidepid: not ours); workers are refused anyway
        if pid == ancestor:
            return True
    return False


def _may_connect(conn: socket.socket) -> bool:
    """The same user, and not a process this server started: a worker of its zygote (student
    code) may find the name in /proc/net/unix and must not be served."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize(_PEERCRED))
    peer_pid = struct.unpack(_PEERCRED, creds)[0]
    return _trusted_peer(conn) and not _descends_from(peer_pid, os.getpid())


class _Server:
    def __init__(self, listener: socket.socket, key: str, idle: float,
                 command: Callable[[], None]) -> None:
        self.listener = listener
        self.key = key
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
                try:
                    if self.serve_one(conn):
                        return
                except Exception:  # one client's problem: the next is served all the same
                    continue

    def serve_one(self, conn: socket.socket) -> bool:
        """Serve one connection; whether it asked the server to stop."""
        if not _may_connect(conn):
            return False
        _send(conn, {"hello": True})
        request, fds = _receive(conn, 10, with_fds=3)
        try:
            if request and request.get("op") == "stop":
                self.listener.close()  # the name is free once the client hears back
                _send(conn, {"stopped": True})
                return True
            if request and request.get("op") == "run" and len(fds) == 3:
                self.run(conn, request, fds)
            return False
        finally:
            for fd in fds:
                os.close(fd)

    def run(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        try:
            preload = tuple(str(name) for name in request["preload"])
            argv = [str(arg) for arg in request["argv"]]
            env = {str(k): str(v) for k, v in request["env"].items()}
            cwd, umask = str(request["cwd"]), int(request["umask"]) & 0o777
            # only `check`, and only for the environment this server was started for
            if argv[:1] != ["check"] or request["key"] != self.key:
                return
            zygote = self.zygote(preload)
        except Exception:  # a zygote that cannot start, a malformed request: the client runs it
            return
        if _closed(conn):  # it gave up while the zygote started, and runs the check itself
            return
        server = os.getpid()
        pid = os.fork()
        if pid == 0:
            _run_check(server, conn, self.listener, zygote, self.command, argv, env, cwd, umask, fds)
        try:
            _send(conn, {"started": True})
            status = _watch(conn, pid, self.listener)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        with contextlib.suppress(OSError):
            _send(conn, {"status": status})


def _turn_away(listener: socket.socket) -> None:
    try:
        other, _ = listener.accept()
    except OSError:
        return
    with other, contextlib.suppress(OSError):
        _send(other, {"busy": True})


def _closed(conn: socket.socket) -> bool:
    if not select.select([conn], [], [], 0)[0]:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


_GRACE_SECONDS = 30.0


def _watch(conn: socket.socket, pid: int, listener: socket.socket) -> int:
    """The judge's exit status; the client's Ctrl-C (or its end) interrupts the judge, and a
    judge still running ``_GRACE_SECONDS`` later is killed (the next check must not wait).
    A client that comes meanwhile hears at once that the server is busy, and runs its check
    itself."""
    interrupted_at: float | None = None
    listening = True
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if interrupted_at is not None and time.monotonic() - interrupted_at > _GRACE_SECONDS:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        ready = select.select([listener] + ([conn] if listening else []), [], [], 0.05)[0]
        if listener in ready:
            _turn_away(listener)
        if conn not in ready:
            continue
        try:
            message, _ = _receive(conn, 5)
        except (OSError, ValueError, TimeoutError):
            message = None
        if message is None:
            listening = False  # gone: nobody reads the outcome, so stop the work
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        interrupted_at = interrupted_at or time.monotonic()
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _run_check(server: int, conn: socket.socket, listener: socket.socket, zygote: Any,
               command: Callable[[], None], argv: list[str], env: dict[str, str], cwd: str,
               umask: int, fds: list[int]) -> None:
    """In the forked judge: become the client's command, run it, and never return."""
    code = 1
    try:
        from autograder.api import die_with_parent

        # it writes to the client's terminal and holds the server's zygotes open: it ends
        # when the server does, by SIGKILL too
        die_with_parent(server)
        conn.close()
        listener.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            os.close(fd)
        # the encodings Python chose for the server's streams: the client's locale (keyed)
        streams = [(sys.stdin, 0, "r"), (sys.stdout, 1, "w"), (sys.stderr, 2, "w")]
        sys.stdin, sys.stdout, sys.stderr = (
            open(fd, mode, buffering=1 if fd == 2 or os.isatty(fd) else -1,  # noqa: SIM115
                 encoding=old.encoding, errors=old.errors, closefd=False)
            for old, fd, mode in streams)
        os.chdir(cwd)
        os.umask(umask)
        os.environ.clear()
        os.environ.update(env)
        os.environ[SWITCH] = "off"  # this judge is the check: it must not ask a server again
        sys.argv = ["autograder", *argv]
        from autograder.sandbox import client

        client._prestarted = zygote  # the server's: this judge's own close leaves it running
        command()  # the console entry point: it ends the process
    except SystemExit as done:  # its exit while a thread still runs (after a Ctrl-C)
        code = done.code if isinstance(done.code, int) else 1
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
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
    # A stray Ctrl-C is for the clients' checks. A handler, not SIG_IGN: an ignored signal
    # stays ignored across exec, in the zygotes and so in every worker.
    signal.signal(signal.SIGINT, lambda *_: None)
    server = _Server(listener, key, IDLE_SECONDS, command)
    try:
        if preload:
            from autograder.sandbox.client import Zygote

            # it imports torch on the other core while this process imports the judge
            server.zygotes[preload] = Zygote(preload)
        import autograder.api  # noqa: F401  (what every check would import)
        server.serve()
    finally:
        server.close()
