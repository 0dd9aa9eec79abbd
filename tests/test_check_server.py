"""The warm server behind `autograder check` (autograder.server): real commands in processes
of their own, a real server process, and a real other user where the tests run as root."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder import server
from tests.classroom import ROOT, cli_env, processes_marked, wait_for_no_processes

GOOD = ROOT / "examples" / "resnet" / "good_student"
BUGGY = ROOT / "examples" / "resnet" / "buggy_student"
NOBODY = 65534


def _listening(key: str) -> bool:
    name = f"@autograder-check-{os.getuid()}-{key}"
    return any(line.split()[-1] == name for line in Path("/proc/net/unix").read_text().splitlines()[1:]
               if len(line.split()) > 7)


@pytest.fixture()
def warm(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment of its own (its own server key), the server on; stopped afterwards."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = cli_env(AUTOGRADER_SERVER="on", AUTOGRADER_TEST_MARK=f"server-{tmp_path.name}",
                  TMPDIR=str(scratch))
    yield env
    done = subprocess.run([sys.executable, "-m", "autograder", "stop-server"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not _listening(server.server_key(env))
    assert wait_for_no_processes(env["AUTOGRADER_TEST_MARK"], scratch) == []


def _check(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autograder", "check", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_a_warm_server_answers_as_the_command_itself(warm: dict[str, str], tmp_path: Path) -> None:
    off = dict(warm, AUTOGRADER_SERVER="off")
    work = tmp_path / "work"
    shutil.copytree(BUGGY, work)
    alone = _check(off, ".", "-o", "alone.json", "--fail-under", "100", cwd=work)
    assert not _listening(server.server_key(warm))  # off starts nothing
    first = _check(warm, ".", "-o", "first.json", "--fail-under", "100", cwd=work)
    assert _listening(server.server_key(warm))
    pids = processes_marked(warm["AUTOGRADER_TEST_MARK"], Path(warm["TMPDIR"]))
    second = _check(warm, ".", "-o", "second.json", "--fail-under", "100", cwd=work)
    # the same words, the same exit status and message, the same report (a relative -o lands in
    # the client's folder), whether the server just started, was warm, or is off
    for done in (first, second):
        assert (done.returncode, done.stdout, done.stderr) == \
            (alone.returncode, alone.stdout, alone.stderr)
    assert alone.returncode == 1 and "under --fail-under 100" in alone.stderr
    reports = [json.loads((work / f"{name}.json").read_text())["tasks"]
               for name in ("alone", "first", "second")]
    for task in (task for tasks in reports for task in tasks):
        for test in task["tests"]:
            test.pop("duration")
    assert reports[0] == reports[1] == reports[2]
    # the second check found the server the first one started (same processes, none added
    # but its own judge, which is gone)
    assert set(processes_marked(warm["AUTOGRADER_TEST_MARK"], Path(warm["TMPDIR"]))) == set(pids)
    good = _check(warm, str(GOOD))
    assert good.returncode == 0 and "13 of 13 public checks pass" in good.stdout


def test_the_server_keys_on_what_a_check_depends_on() -> None:
    base = {"HOME": "/home/a", "PATH": "/bin"}
    assert server.server_key(base) == server.server_key(dict(base, AUTOGRADER_SERVER="on"))
    assert server.server_key(base) == server.server_key(dict(base, EDITOR="vi"))
    assert server.server_key(base) != server.server_key(dict(base, AUTOGRADER_CACHE_DIR="off"))
    assert server.server_key(base) != server.server_key(dict(base, TMPDIR="/elsewhere"))
    assert server.enabled({}) and not server.enabled({"CI": "true"})
    assert server.enabled({"CI": "true", "AUTOGRADER_SERVER": "on"})
    assert not server.enabled({"AUTOGRADER_SERVER": "off"})


def test_ctrl_c_stops_the_check_and_the_server_serves_on(warm: dict[str, str],
                                                         tmp_path: Path) -> None:
    assert _check(warm, str(GOOD)).returncode == 0  # the server is warm
    slow = tmp_path / "slow"
    shutil.copytree(GOOD, slow)
    code = (slow / "resnet.py").read_text()
    (slow / "resnet.py").write_text("import time\ntime.sleep(4)\n" + code)
    started = time.monotonic()
    alone = subprocess.Popen([sys.executable, "-m", "autograder", "check", str(slow)], env=warm,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.8)  # the client is up; the check waits on the student's import in the server
    # another check meanwhile: the busy server turns it away at once, and it runs by itself
    other = subprocess.Popen([sys.executable, "-m", "autograder", "check", str(GOOD)], env=warm,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.7)
    alone.send_signal(signal.SIGINT)
    out, err = alone.communicate(timeout=60)
    # what the command says when it runs the check itself (click's Abort, status 1), at once
    assert alone.returncode == 1 and err.strip().endswith("Aborted!"), (out, err)
    assert time.monotonic() - started < 4
    out, err = other.communicate(timeout=300)
    assert other.returncode == 0 and "13 of 13 public checks pass" in out, err
    again = _check(warm, str(GOOD))
    assert again.returncode == 0 and "13 of 13 public checks pass" in again.stdout


# Another user (where the tests run as root), and a process of our own user under
# no-new-privileges, as every sandbox worker is (and its children, whoever adopts them).
OTHERS = {
    "another user": {"user": NOBODY, "group": NOBODY},
    "no-new-privileges": {"preexec_fn": lambda: __import__("ctypes").CDLL(None).prctl(38, 1, 0, 0, 0)},
}


def _as_other(kind: str) -> dict[str, object]:
    if kind == "another user" and os.getuid() != 0:
        pytest.skip("needs another user (tests run as root)")
    return OTHERS[kind]


@pytest.mark.parametrize("kind", sorted(OTHERS))
def test_a_name_held_by_another_is_not_trusted(warm: dict[str, str], kind: str) -> None:
    """The name is an abstract socket: another user may take it first, or sandboxed code
    once the server is gone. The client then runs the check itself, and hands it nothing
    (no streams, no environment)."""
    address = "\0" + f"autograder-check-{os.getuid()}-{server.server_key(warm)}"
    squatter = subprocess.Popen(
        [sys.executable, "-c", "import socket, sys, time; s = socket.socket(socket.AF_UNIX); "
         f"s.bind({address!r}); s.listen(8); print('up', flush=True); "
         "c, _ = s.accept(); print('served', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True, **_as_other(kind))
    try:
        assert squatter.stdout.readline().strip() == "up"
        done = _check(warm, str(GOOD))
        assert done.returncode == 0 and "13 of 13 public checks pass" in done.stdout
    finally:
        squatter.kill()
        squatter.wait()


@pytest.mark.parametrize("kind", sorted(OTHERS))
def test_the_server_serves_only_its_own_unconfined_user(warm: dict[str, str], kind: str) -> None:
    assert _check(warm, str(GOOD)).returncode == 0
    address = "\0" + f"autograder-check-{os.getuid()}-{server.server_key(warm)}"
    other = subprocess.run(
        [sys.executable, "-c", "import socket; s = socket.socket(socket.AF_UNIX); "
         f"s.connect({address!r}); s.settimeout(10); print(repr(s.recv(100)))"],
        capture_output=True, text=True, timeout=60, **_as_other(kind))
    assert other.returncode == 0 and other.stdout.strip() == "b''", other  # closed, no greeting
    assert _check(warm, str(GOOD)).returncode == 0  # and it serves its own user on


def test_no_server_means_the_check_runs_here(tmp_path: Path) -> None:
    """A server that is not there and cannot start (a Python that fails at once) costs
    nothing but the wait: the check runs in the command itself."""
    env = cli_env(AUTOGRADER_SERVER="on", AUTOGRADER_TEST_MARK="server-none")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("\0" + f"autograder-check-{os.getuid()}-{server.server_key(env)}")
    try:  # bound, never listening: connect is refused, and a started server cannot bind
        done = _check(env, str(GOOD))
    finally:
        sock.close()
    assert done.returncode == 0 and "13 of 13 public checks pass" in done.stdout


def test_a_process_of_the_servers_own_tree_is_refused() -> None:
    """Its zygote's workers (student code) descend from the server: refused, however deep."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert server._descends_from(child.pid, os.getpid())
        assert not server._descends_from(os.getpid(), child.pid)
        assert not server._descends_from(os.getppid(), os.getpid())
    finally:
        child.kill()
        child.wait()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def test_a_killed_server_takes_its_check_with_it(warm: dict[str, str], tmp_path: Path) -> None:
    """The server killed in the middle of a check (the OOM killer, say): the client says so
    and exits 1 at once, and the check's judge does not go on (it would hold the client's
    streams and write to its terminal until its own time limit, 20 s here)."""
    assert _check(warm, str(GOOD)).returncode == 0  # the server is warm
    slow = tmp_path / "slow"
    shutil.copytree(GOOD, slow)
    (slow / "resnet.py").write_text("import time\ntime.sleep(60)\n" + (GOOD / "resnet.py").read_text())
    client = subprocess.Popen([sys.executable, "-m", "autograder", "check", str(slow)], env=warm,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mark, scratch = warm["AUTOGRADER_TEST_MARK"], Path(warm["TMPDIR"])
    judges: list[int] = []
    deadline = time.monotonic() + 60
    while not judges and time.monotonic() < deadline:  # the server's child that runs the check
        time.sleep(0.1)
        ours = [p for p in processes_marked(mark, scratch) if "serve_checks" in _cmdline(p)]
        judges = [p for p in ours if _parent(p) in ours]
    assert judges, "no judge of the check was found"
    time.sleep(1.5)  # it waits on the student's import in a worker
    os.kill(_parent(judges[0]), signal.SIGKILL)
    killed = time.monotonic()
    out, err = client.communicate(timeout=120)  # ends when the judge lets go of the streams
    assert client.returncode == 1 and "the warm check server stopped" in err, (out, err)
    assert time.monotonic() - killed < 8, "the judge outlived its server"
