"""Submissions that try to cheat or break the grader earn nothing by it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from autograder import api
from autograder.judge.runner import Judge
from autograder.spec import load_assignment
from tests.conftest import (
    ROOT,
    assert_graded,
    failing,
    mutate,
    reference_source,
    require_landlock,
    statuses,
)

# Cheats are prepended to the source, so it must not start with a __future__ import.
REF = reference_source().replace("from __future__ import annotations\n", "")
# A block that is wrong (no skip connection): what a cheat would try to hide.
BROKEN = mutate(REF, "out = out + self.shortcut(x)", "out = out")


@pytest.fixture(scope="module")
def broken_score(resnet_judge: Judge, tmp_path_factory) -> float:
    folder = tmp_path_factory.mktemp("broken")
    (folder / "resnet.py").write_text(BROKEN)
    return resnet_judge.grade(folder).task("BasicBlock").score


# The reference's tests complete each submission, so only resnet.py is under test.
TESTS = (ROOT / "reference" / "resnet" / "test_resnet.py").read_text()


def grade(judge: Judge, make_submission, source: str, **extra: str):
    return judge.grade(make_submission({"resnet.py": source, "test_resnet.py": TESTS, **extra}))


def test_sys_exit_at_import_earns_nothing(resnet_judge, make_submission) -> None:
    report = grade(resnet_judge, make_submission, "import sys\nsys.exit(0)\n" + REF)
    assert_graded(report, "BasicBlock")
    assert_graded(report, "ResNet")
    assert report.task("BasicBlock").score == report.task("ResNet").score == 0
    assert failing(report) and all("sys.exit" in f for f in failing(report).values())


def test_os_exit_at_import_earns_nothing(resnet_judge, make_submission) -> None:
    report = grade(resnet_judge, make_submission, "import os\nos._exit(0)\n" + REF)
    assert_graded(report, "BasicBlock")
    assert_graded(report, "ResNet")
    assert report.task("BasicBlock").score == report.task("ResNet").score == 0
    assert failing(report) and all("exited with code 0" in f for f in failing(report).values())


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)"])
def test_exit_in_forward_earns_nothing(resnet_judge, make_submission, broken_score, exit_call) -> None:
    source = mutate(BROKEN, "        out = self.relu(self.bn1(self.conv1(x)))",
                    f"        import os, sys\n        {exit_call}\n"
                    "        out = self.relu(self.bn1(self.conv1(x)))")
    report = grade(resnet_judge, make_submission, source)
    assert report.task("BasicBlock").score <= broken_score
    assert report.task("ResNet").score == 10  # graded with a standard block, still fully


def test_patching_comparisons_earns_nothing(resnet_judge, make_submission, broken_score) -> None:
    cheat = '''
import torch, torch.testing
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
'''
    report = grade(resnet_judge, make_submission, cheat + BROKEN)
    assert report.task("BasicBlock").score == broken_score < 10


def test_fake_reports_and_printed_summaries_earn_nothing(resnet_judge, make_submission,
                                                         broken_score, tmp_path) -> None:
    target = tmp_path / "outside.json"
    cheat = f'''
import json, os
fake = {{"score": 20, "max_score": 20, "tests": []}}
for path in ["report.json", "results.json", "/autograder/results/results.json", {str(target)!r}]:
    try:
        with open(path, "w") as f:
            json.dump(fake, f)
    except OSError:
        pass
print("==================== 20 passed in 0.01s ====================")
print('{{"score": 20, "max_score": 20}}')
'''
    report = grade(resnet_judge, make_submission, cheat + BROKEN)
    assert report.task("BasicBlock").score == broken_score < 10
    require_landlock(1, "no file written outside the scratch folder")
    assert not target.exists(), "a worker wrote outside its scratch folder"


def test_infinite_loop_times_out_and_other_tasks_are_graded(make_submission) -> None:
    spec = load_assignment("resnet")
    quick = spec.model_copy(update={"limits": spec.limits.model_copy(update={"check_seconds": 1.5})})
    source = mutate(REF, "        out = self.relu(self.bn1(self.conv1(x)))",
                    "        while True:\n            pass")
    from autograder.sandbox.client import Zygote

    zygote = Zygote()
    zygote.wait_ready()  # what is timed is grading, not the sandbox's start on a busy machine
    started = time.monotonic()
    try:
        judge = Judge(quick, zygote)
        report = judge.grade(make_submission({"resnet.py": source}))
        judge.close()
    finally:
        zygote.close()
    elapsed = time.monotonic() - started
    block = {k: v for k, v in statuses(report).items() if k.startswith(("test_identity", "test_projection"))}
    assert set(block.values()) == {"timeout"}, block
    assert "longer than the 1.5 s limit" in failing(report)["test_identity_block[eval]"]
    assert report.task("ResNet").score == 10
    assert elapsed < 40


def test_submission_files_cannot_change_how_checks_run(resnet_judge, make_submission) -> None:
    hostile = "import os\nos._exit(3)\n"
    report = grade(resnet_judge, make_submission, REF, **{
        "conftest.py": hostile, "sitecustomize.py": hostile, "usercustomize.py": hostile,
        "torch.py": "raise ImportError('shadowed torch')\n", "pytest.ini": "[pytest]\naddopts = -x\n",
        "__init__.py": hostile, "setup.cfg": "[tool:pytest]\naddopts = -p nonexistent\n",
    })
    assert failing(report) == {}
    assert report.score == 30


def test_hidden_files_are_not_readable_from_student_code(resnet_judge, make_submission) -> None:
    hidden = ROOT / "assignments" / "resnet" / "checks" / "hidden" / "test_basic_block.py"
    leak = f'''
_content = open({str(hidden)!r}).read()
'''
    require_landlock(1, "files outside the submission unreadable")
    report = grade(resnet_judge, make_submission, leak + REF)
    feedback = " ".join(failing(report).values())
    assert "PermissionError" in feedback
    assert "compare_with_reference" not in feedback


@pytest.fixture(scope="module")
def zygote():
    from autograder.sandbox.client import Zygote

    zygote = Zygote()
    yield zygote
    zygote.close()


def _session(zygote, folder: Path, source: str, check_seconds: float = 5):
    from autograder.sandbox.limits import Limits
    from autograder.sandbox.session import StudentSession

    (folder / "evil.py").write_text(source)
    session = StudentSession(zygote, folder, Limits(memory_mb=512), check_seconds, 60)
    session.require("evil", "evil.py")
    return session


def _call(session, function: str, timeout: float | None = None):
    return session.call("construct", module="evil", symbol=function, args=[], kwargs={},
                        timeout=timeout)


def test_timeout_kills_the_whole_process_tree(zygote, tmp_path) -> None:
    from autograder.sandbox.client import WorkerTimeout

    session = _session(zygote, tmp_path, '''
import subprocess, sys
def spawn_and_spin():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open("child.pid", "w").write(str(child.pid))
    while True:
        pass
''')
    with pytest.raises(WorkerTimeout):
        _call(session, "spawn_and_spin", timeout=2)
    pid = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid), "a process started by student code outlived the timeout"
    session.close()


def test_a_dead_judges_workers_do_not_live_on(zygote, tmp_path) -> None:
    """A judge forked from the zygote's owner (``-j N``, a warm check server's judge) killed in
    the middle of a check: the owner lives on, and so would the worker asleep in student
    code, until the zygote kills it."""
    pid = os.fork()
    if pid == 0:  # the judge
        try:
            session = _session(zygote, tmp_path, '''
import os, time
def sleeper():
    open("worker.pid", "w").write(str(os.getpid()))
    time.sleep(600)
''', check_seconds=600)
            _call(session, "sleeper", timeout=600)
        finally:
            os._exit(0)
    marker = tmp_path / "worker.pid"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not marker.exists():
        time.sleep(0.05)
    worker = int(marker.read_text())
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.05)
    assert not _alive(worker), "a worker outlived the judge that asked for it"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_memory_limit_gives_a_clear_error(zygote, tmp_path) -> None:
    from autograder.judge.outcomes import classify
    from autograder.sandbox.client import StudentError

    session = _session(zygote, tmp_path, '''
import torch
def hog():
    return torch.ones(4 * 1024 ** 3, dtype=torch.uint8)
''')
    with pytest.raises(StudentError) as caught:
        _call(session, "hog")
    assert "out of memory" in classify(caught.value).feedback
    session.close()


def test_udp_and_raw_sockets_are_off_limits(zygote, tmp_path) -> None:
    """seccomp, on every kernel: no socket but a Unix one."""
    from autograder.sandbox.client import StudentError

    session = _session(zygote, tmp_path, '''
import socket
def send_udp():
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"hello", ("127.0.0.1", 9))
def open_raw():
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
''')
    for function in ("send_udp", "open_raw"):
        with pytest.raises(StudentError) as caught:
            _call(session, function)
        assert caught.value.type in ("PermissionError", "OSError"), caught.value.info
    session.close()


def test_tcp_signals_and_parent_are_off_limits(zygote, tmp_path) -> None:
    """Landlock: TCP connections (ABI 4) and signals to processes outside (ABI 6)."""
    from autograder.sandbox.client import StudentError

    require_landlock(6, "TCP and signal scoping")
    session = _session(zygote, tmp_path, '''
import os, signal, socket
def connect():
    socket.create_connection(("127.0.0.1", 9), timeout=1)
def kill_parent():
    os.kill(os.getppid(), signal.SIGKILL)
''')
    for function in ("connect", "kill_parent"):
        with pytest.raises(StudentError) as caught:
            _call(session, function)
        assert caught.value.type in ("PermissionError", "OSError"), caught.value.info
    assert zygote.process.poll() is None, "the zygote must survive"
    session.close()


def test_protocol_never_unpickles_what_a_worker_sends(tmp_path: Path) -> None:
    """A frame whose tensor bytes are a pickle of a callable (the exploit's payload creates a
    marker file) is read as bytes, never unpickled, framed the old way (a ``torch.save``
    archive after the header) or the new."""
    import io
    import json
    import struct

    import torch

    from autograder.sandbox import protocol

    marker = tmp_path / "payload_ran"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buffer = io.BytesIO()
    torch.save([Exploit()], buffer)
    archive = buffer.getvalue()
    old = b'{"ok": 1}'
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(struct.pack("!I", len(old)) + old + archive)
    padding = bytes(-len(archive) % protocol.ALIGNMENT)
    header = json.dumps({"tensors": [["uint8", [len(archive)], "cpu"]],
                         "message": {"ok": {"$tensor": 0}}}).encode()
    header += b" " * (-(4 + len(header)) % protocol.ALIGNMENT)
    value = protocol.decode(struct.pack("!I", len(header)) + header + archive + padding)["ok"]
    assert value.dtype == torch.uint8 and bytes(value.numpy()) == archive
    assert not marker.exists(), "decoding a frame ran the code pickled in it"


def test_api_reports_come_from_the_judge_not_the_worker(make_submission) -> None:
    """A submission that forges its result every way its worker can (a full-marks report
    where a grader might read one, printed summaries, every reply marked as passed) is
    reported by the API exactly as the same code without the forgery."""
    from datetime import UTC, datetime

    from autograder.report.model import Environment, Report, SubmissionInfo, Timing

    fake = Report(assignment="resnet", submission=SubmissionInfo(
        id="forged", path="forged", content_hash=""), score=30, max_score=30, tasks=[],
        timing=Timing(started_at=datetime.now(UTC), duration=0),
        environment=Environment(python="", torch="", autograder="", platform="", sandbox=""),
        seed=0).model_dump_json()
    forge = f'''
import json, os
from autograder.operations import OPERATIONS
for _path in ["report.json", "results.json", "results/results.json"]:
    try:
        os.makedirs(os.path.dirname(_path) or ".", exist_ok=True)
        with open(_path, "w") as _f:
            _f.write({fake!r})
    except OSError:
        pass
print("==================== 30 passed in 0.01s ====================")
print({fake!r})
def _forging(operation):
    def forged(state, **args):
        reply = operation(state, **args)
        if isinstance(reply, dict):
            reply.update(status="passed", score=30, passed=True)
        return reply
    return forged
for _name in list(OPERATIONS):
    OPERATIONS[_name] = _forging(OPERATIONS[_name])
'''
    honest = make_submission({"resnet.py": BROKEN}, name="honest")
    forged = make_submission({"resnet.py": forge + BROKEN}, name="forged")
    honest_report, forged_report = api.grade([honest, forged], "resnet")  # in input order
    assert forged_report.score == honest_report.score < 20
    assert statuses(forged_report) == statuses(honest_report)
    assert "test_identity_block[eval]" in failing(forged_report)


# A valid request (the exit status of pid 1: answered at once, changes nothing), framed as
# the protocol frames it; a worker builds the same bytes below.
_STATUS_REQUEST = {"op": "status", "pid": 1}


def _ask_zygote(socket_name: str, request: dict) -> str:
    """What asking the zygote gives: "connect refused", "no answer", or "answered"."""
    import socket

    from autograder.sandbox import protocol

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    try:
        sock.connect("\0" + socket_name)
    except OSError:
        return "connect refused"
    try:
        protocol.send(sock, request)
        return "answered" if sock.recv(100) else "no answer"
    except OSError:
        return "no answer"
    finally:
        sock.close()


def test_a_worker_cannot_ask_the_zygote_for_more_workers(zygote, tmp_path) -> None:
    """Even knowing the zygote's socket name, student code gets no answer from it: a request
    the judge gets answered is refused (by Landlock's scoping, or by the zygote's own check)."""
    import json
    import struct

    from autograder.sandbox import protocol

    zygote.wait_ready()
    assert _ask_zygote(zygote.socket_name, _STATUS_REQUEST) == "answered"  # the request is valid
    # The worker below frames it by hand, exactly as the judge's protocol does.
    header = json.dumps({"message": _STATUS_REQUEST}).encode()
    assert struct.pack("!I", len(header)) + header == protocol.encode(_STATUS_REQUEST)
    session = _session(zygote, tmp_path, f'''
import json, socket, struct
def ask():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    try:
        sock.connect("\\0" + {zygote.socket_name!r})
    except OSError:
        answer = "connect refused"
    else:
        header = json.dumps({{"message": {_STATUS_REQUEST!r}}}).encode()
        payload = struct.pack("!I", len(header)) + header
        try:
            sock.sendall(struct.pack("!Q", len(payload)) + payload)
            answer = "answered" if sock.recv(100) else "no answer"
        except OSError:
            answer = "no answer"
    open("answer.txt", "w").write(answer)
''')
    _call(session, "ask")
    answer = (tmp_path / "answer.txt").read_text()
    assert answer in ("connect refused", "no answer"), "the zygote answered a worker"
    session.close()


def test_only_the_judge_and_judges_it_forked_may_ask_for_workers() -> None:
    """The zygote's permission check, on real processes: the owner and its children pass; a
    grandchild (as a worker is: the zygote's child) and another user do not."""
    import signal
    import subprocess
    import sys

    from autograder.sandbox.zygote import may_ask_for_workers

    me, uid = os.getpid(), os.getuid()
    grandchild = 0
    child = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time\n"
                              "g = subprocess.Popen(['sleep', '30'])\n"
                              "print(g.pid, flush=True)\ng.wait()"],
                             stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(child.stdout.readline())
        assert may_ask_for_workers(me, uid, owner=me)
        assert may_ask_for_workers(child.pid, uid, owner=me)  # a judge forked by the owner
        assert not may_ask_for_workers(grandchild, uid, owner=me)  # a worker's place
        assert not may_ask_for_workers(me, uid + 1, owner=me)  # another user
        assert not may_ask_for_workers(child.pid, uid, owner=child.pid + 10**6)  # another judge's
    finally:
        if grandchild:
            os.kill(grandchild, signal.SIGKILL)
        child.kill()
        child.wait()


def test_daemons_do_not_outlive_their_worker(zygote, tmp_path) -> None:
    session = _session(zygote, tmp_path, '''
import os, time
def daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            open("daemon.pid", "w").write(str(os.getpid()))
            time.sleep(600)
        os._exit(0)
    time.sleep(0.5)
    return 1
''')
    _call(session, "daemon")
    pid = int((tmp_path / "daemon.pid").read_text())
    session.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid), "a daemon started by student code outlived its worker"


def test_forged_replies_do_not_skip_comparisons(resnet_judge, make_submission) -> None:
    """Student code can rewrite what its worker replies; a gradient it leaves out is missing."""
    detached = mutate(REF, "out = out + self.shortcut(x)", "out = out + self.shortcut(x).detach()")
    forge = '''
from autograder.operations import OPERATIONS
_forward = OPERATIONS["forward"]
def _forged(state, **args):
    reply = _forward(state, **args)
    reply["grads"] = {}
    return reply
OPERATIONS["forward"] = _forged
'''
    honest = grade(resnet_judge, make_submission, detached)
    forged = grade(resnet_judge, make_submission, forge + detached)
    assert forged.task("BasicBlock").score <= honest.task("BasicBlock").score < 10


def test_a_forged_object_reply_is_the_students_fault_not_the_graders(make_submission) -> None:
    """Student code that rewrites the worker's ``construct`` to answer with anything but an
    object description loses the checks that build its objects, each with a message of its
    own; none becomes "the grader could not run this check"."""
    forge = '''
from autograder.operations import OPERATIONS
OPERATIONS["construct"] = lambda state, **args: {"handle": "1", "type": ["x"]}
'''
    forged = make_submission({"resnet.py": forge + REF}, name="forged_reply")
    [report] = api.grade([forged], "resnet", tasks=["BasicBlock"])
    outcomes = [test for task in report.tasks for test in task.tests]
    assert outcomes and report.score == 0
    assert not any("could not run this check" in test.feedback for test in outcomes)
    assert any("describes no object" in test.feedback for test in outcomes)
