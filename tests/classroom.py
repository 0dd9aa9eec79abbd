"""A small class of resnet submissions with scores known by design, for the gradebook,
stats, export and cluster tests (graded on the BasicBlock task only, to stay quick)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from autograder.judge.variants import load_mutants
from autograder.spec import load_assignment

ROOT = Path(__file__).resolve().parents[1]
TASK = "BasicBlock"
# kind -> how many students; the bug texts are the mutants' `bug` in mutants.toml
DESIGN = {"reference": 5, "no_final_relu": 4, "shortcut_scaled": 3}


def make_class(folder: Path, design: dict[str, int] | None = None) -> dict[str, str]:
    """Write one folder per student (every file distinct); returns student id -> kind."""
    reference = (ROOT / "reference" / "resnet" / "resnet.py").read_text()
    tests = (ROOT / "reference" / "resnet" / "test_resnet.py").read_text()
    mutants = {m.name: m for m in load_mutants(load_assignment("resnet"))}
    kinds: dict[str, str] = {}
    number = 0
    for kind, count in (design or DESIGN).items():
        source = reference if kind == "reference" else mutants[kind].source
        for _ in range(count):
            student = f"student{number:02d}"
            (folder / student).mkdir(parents=True)
            (folder / student / "resnet.py").write_text(f"{source}\n# {student}\n")
            (folder / student / "test_resnet.py").write_text(tests)
            kinds[student] = kind
            number += 1
    return kinds


def mutant_bug(name: str) -> str:
    return next(m.spec.bug for m in load_mutants(load_assignment("resnet")) if m.name == name)


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    env.pop("AUTOGRADER_DEBUG", None)
    return env


def grade_command(classroom: Path, output: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", str(classroom), "-a", "resnet",
            "-t", TASK, "-o", str(output), *extra]


def run_cli(args: list[str], env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env or cli_env(),
                          timeout=timeout, cwd=ROOT)


def processes_marked(mark: str, tmp: Path) -> list[int]:
    """Processes that carry ``mark`` in their environment or run in a folder under ``tmp``
    (judges inherit the environment; the zygote and sandbox workers work under TMPDIR)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (mark.encode() in (entry / "environ").read_bytes()
                    or str(tmp) in os.readlink(entry / "cwd")):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_for_no_processes(mark: str, tmp: Path, seconds: float = 20) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_marked(mark, tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
