"""Attacks and accidents that used to get through, each built as a submission and graded
through the command line (a subprocess, as an instructor runs it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, mutate, reference_source
from tests.test_nn_module import reference_python

CHECK_SECONDS = 3
NN_REF = reference_python()
RESNET_REF = reference_source().replace("from __future__ import annotations\n", "")


@pytest.fixture(scope="module")
def quick_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's assignments with a short check limit, for AUTOGRADER_HOME."""
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(ROOT / "assignments", home / "assignments")
    shutil.copytree(ROOT / "reference", home / "reference")
    for toml in (home / "assignments").glob("*/assignment.toml"):
        text = re.sub(r"(?m)^check_seconds = .*$", f"check_seconds = {CHECK_SECONDS}",
                      toml.read_text())
        toml.write_text(text)
    return home


def grade_cli(home: Path, assignment: str, submissions: dict[str, dict[str, str]],
              out: Path, extra_env: dict[str, str] | None = None,
              ) -> tuple[dict[str, dict], subprocess.CompletedProcess[str]]:
    """Write the submissions, grade them in one `autograder grade`; reports by name."""
    folders = []
    for name, files in submissions.items():
        folder = out / "subs" / name
        folder.mkdir(parents=True)
        for file, text in files.items():
            (folder / file).write_text(text)
        folders.append(str(folder))
    env = {**os.environ, "AUTOGRADER_HOME": str(home), "PYTHONPATH": str(ROOT),
           **(extra_env or {})}
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", *folders, "-a", assignment,
                          "-o", str(out / "reports"), "-v"],
                         capture_output=True, text=True, env=env, timeout=600, cwd=out)
    assert run.returncode == 0, run.stderr[-3000:]
    reports = {}
    for path in (out / "reports").glob("*.json"):
        report = json.loads(path.read_text())
        reports[Path(report["submission"]["path"]).name] = report
    assert set(reports) == set(submissions), (set(reports), run.stdout[-2000:])
    return reports, run


def task_scores(report: dict) -> dict[str, float]:
    return {t["name"]: t["score"] for t in report["tasks"]}


def checks_of(report: dict, task: str) -> dict[str, dict]:
    return {t["check_id"].split("::")[-1]: t for t in
            next(t for t in report["tasks"] if t["name"] == task)["tests"]}


FLOOD = "import sys\nsys.stdout.write('x' * (100 * 1024 * 1024))\nsys.stderr.write('y' * (8 << 20))\n"

MEMORY_BOMB = mutate(NN_REF, '''        output = x @ self.weight.T
        if self.bias is not None:''', '''        while True:  # every chunk kept at module level
            HOARD.append(torch.empty(64 * 1024 * 1024))
        output = x @ self.weight.T
        if self.bias is not None:''') + "\nHOARD = []\n"

HANG_IN_INIT = mutate(NN_REF, "        self.in_features = in_features\n",
                      "        while True:\n            pass\n")


@pytest.fixture(scope="module")
def nn_graded(quick_home: Path, tmp_path_factory: pytest.TempPathFactory):
    started = time.monotonic()
    reports, run = grade_cli(quick_home, "nn_module", {
        "flood": {"nn_module.py": FLOOD + NN_REF},
        "membomb": {"nn_module.py": MEMORY_BOMB},
        "inithang": {"nn_module.py": HANG_IN_INIT},
    }, tmp_path_factory.mktemp("nn"))
    return reports, run, time.monotonic() - started


def test_output_flood_at_import_is_dropped(nn_graded) -> None:
    reports, _, _ = nn_graded
    assert reports["flood"]["score"] == reports["flood"]["max_score"] == 30


def test_memory_exhaustion_costs_no_other_task(nn_graded) -> None:
    reports, _, _ = nn_graded
    scores = task_scores(reports["membomb"])
    assert scores["FeatureExtractor"] == scores["LearnedNorm"] == 10, scores
    assert scores["CustomLinear"] < 10
    failed = [t["feedback"] for t in checks_of(reports["membomb"], "CustomLinear").values()
              if t["status"] != "passed"]
    assert failed and all("ran out of memory" in f for f in failed), failed


def test_a_hang_in_init_costs_about_one_check_limit(nn_graded) -> None:
    reports, _, _ = nn_graded
    report = reports["inithang"]
    scores = task_scores(report)
    assert scores["CustomLinear"] == 0
    assert scores["FeatureExtractor"] == scores["LearnedNorm"] == 10, scores
    stopped = [t for t in checks_of(report, "CustomLinear").values() if t["status"] == "timeout"]
    assert len(stopped) > 1
    first = [t for t in stopped if t["feedback"].startswith("stopped: ")]
    assert len(first) == 1 and "longer than the 3 s limit" in first[0]["feedback"], stopped
    assert all(t["feedback"].startswith("not run: building CustomLinear took longer than the 3 s")
               for t in stopped if t not in first), stopped
    assert report["timing"]["duration"] < CHECK_SECONDS + 15, report["timing"]


NATIVE_HANG = '''        big = torch.randn(1500, 1500)
        while True:  # one native matmul after another: signals do not stop it, a kill does
            big = torch.tanh(big @ big)
'''


@pytest.fixture(scope="module")
def resnet_hangs(quick_home: Path, tmp_path_factory: pytest.TempPathFactory):
    forward = "        out = self.relu(self.bn1(self.conv1(x)))\n"
    return grade_cli(quick_home, "resnet", {
        "forwardhang": {"resnet.py": mutate(RESNET_REF, forward, "        while True:\n"
                                            "            pass\n")},
        "nativehang": {"resnet.py": mutate(RESNET_REF, forward, NATIVE_HANG)},
    }, tmp_path_factory.mktemp("resnet"))[0]


@pytest.mark.parametrize("name", ["forwardhang", "nativehang"])
def test_a_hang_in_forward_costs_about_one_check_limit(resnet_hangs, name) -> None:
    report = resnet_hangs[name]
    stopped = {k: t for k, t in checks_of(report, "BasicBlock").items() if t["status"] == "timeout"}
    assert len(stopped) > 1, checks_of(report, "BasicBlock")
    assert sum("not run: BasicBlock.forward took longer" in t["feedback"]
               for t in stopped.values()) == len(stopped) - 1
    assert task_scores(report)["ResNet"] == 10  # graded with a standard block
    assert report["timing"]["duration"] < CHECK_SECONDS + 15, report["timing"]


RESNET_TESTS = (ROOT / "reference" / "resnet" / "test_resnet.py").read_text()
STUDENT_TASKS = ("test_residual_addition_happens", "test_batchnorm_train_vs_eval")


def marked(markers: dict[str, str], module_mark: str = "") -> str:
    source = mutate(RESNET_TESTS, "import torch\n", "import pytest\nimport torch\n")
    for test, marker in markers.items():
        source = mutate(source, f"\ndef {test}():", f"\n{marker}\ndef {test}():")
    return source + (f"\npytestmark = {module_mark}\n" if module_mark else "")


@pytest.fixture(scope="module")
def marked_tests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return grade_cli(ROOT, "resnet", {
        "skip": {"resnet.py": RESNET_REF, "test_resnet.py": marked({
            STUDENT_TASKS[0]: "@pytest.mark.skip(reason='later')",
            STUDENT_TASKS[1]: "@pytest.mark.skipif(True, reason='never')"})},
        "xfail": {"resnet.py": RESNET_REF, "test_resnet.py": marked({}, "pytest.mark.xfail")},
        "modskip": {"resnet.py": RESNET_REF,
                    "test_resnet.py": marked({}, "[pytest.mark.skipif('sys.platform != \"x\"')]")},
        "runs": {"resnet.py": RESNET_REF, "test_resnet.py": marked({
            STUDENT_TASKS[0]: "@pytest.mark.skipif(False, reason='runs')",
            STUDENT_TASKS[1]: "@pytest.mark.xfail(1 == 2, reason='runs')"})},
    }, tmp_path_factory.mktemp("marked"))[0]


@pytest.mark.parametrize(("name", "marker"), [("skip", "skip"), ("xfail", "xfail"),
                                              ("modskip", "skipif")])
def test_tests_that_pytest_would_not_run_earn_nothing(marked_tests, name, marker) -> None:
    report = marked_tests[name]
    scores = task_scores(report)
    assert scores["BasicBlock"] == scores["ResNet"] == 10
    assert all(scores[task] == 0 for task in STUDENT_TASKS), scores
    feedback = {t["feedback"] for task in STUDENT_TASKS for t in checks_of(report, task).values()}
    if name == "skip":
        assert any("is marked skip, so it never runs in pytest" in f for f in feedback), feedback
        assert any("is marked skipif, so it never runs in pytest" in f for f in feedback)
    else:
        assert all(f"is marked {marker}" in f for f in feedback), feedback


def test_markers_that_do_not_apply_cost_nothing(marked_tests) -> None:
    report = marked_tests["runs"]
    assert report["score"] == report["max_score"], task_scores(report)


WORKFLOW_COMMANDS = ("::error file=resnet.py,line=1::forged", "::add-mask::secret",
                     "::stop-commands::pause", "##[error]legacy")
FORGING = mutate(RESNET_REF, "        out = self.relu(self.bn1(self.conv1(x)))\n",
                 f"        raise ValueError('\\n' + '\\n'.join({WORKFLOW_COMMANDS!r}))\n")


def command_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith(("::", "##["))]


def test_workflow_commands_in_feedback_reach_no_ci_log(tmp_path: Path) -> None:
    env = {"GITHUB_ACTIONS": "true"}
    reports, graded = grade_cli(ROOT, "resnet", {"forger": {"resnet.py": FORGING}}, tmp_path,
                                extra_env=env)
    report = reports["forger"]
    feedback = "\n".join(t["feedback"] for task in report["tasks"] for t in task["tests"])
    assert "add-mask" in feedback and not command_lines(feedback)  # the stored report too
    # `grade -v` prints feedback inside a stop-commands block with a fresh token.
    lines = graded.stdout.splitlines()
    assert lines[0].startswith("::stop-commands::") and len(lines[0]) > 40
    assert lines.index(f"::{lines[0].split('::')[2]}::") > 0
    assert command_lines(graded.stdout) == [lines[0], f"::{lines[0].split('::')[2]}::"]
    report_file = next((tmp_path / "reports").glob("*.json"))
    base = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    for fmt in ("junit", "markdown", "github", "gradescope"):
        rendered = subprocess.run([sys.executable, "-m", "autograder", "report", str(report_file),
                                   "-f", fmt, "--audience", "instructor", "--no-summary"],
                                  capture_output=True, text=True, env=base, cwd=tmp_path)
        assert rendered.returncode == 0, rendered.stderr
        assert "secret" in rendered.stdout, fmt
        commands = command_lines(rendered.stdout)
        if fmt == "github":  # its own annotations, the student's text escaped inside them
            assert commands and all(c.startswith(("::error ", "::warning ", "::notice "))
                                    for c in commands), commands
        else:
            token = commands[0].split("::")[2]
            assert commands == [f"::stop-commands::{token}", f"::{token}::"], (fmt, commands)
    # `check`, as a student runs it in CI
    folder = tmp_path / "subs" / "forger"
    checked = subprocess.run([sys.executable, "-m", "autograder", "check", str(folder),
                              "-a", "resnet"], capture_output=True, text=True, env=base,
                             cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "add-mask" in checked.stdout
    token = checked.stdout.splitlines()[0].split("::")[2]
    assert command_lines(checked.stdout) == [f"::stop-commands::{token}", f"::{token}::"]


UID_AND_FORK_TESTS = mutate(mutate(
    RESNET_TESTS, "\ndef test_residual_addition_happens():\n",
    "\ndef test_residual_addition_happens():\n"
    "    assert os.getuid() != 0 and os.getgid() != 0 and os.geteuid() != 0\n"),
    "\ndef test_batchnorm_train_vs_eval():\n",
    "\ndef test_batchnorm_train_vs_eval():\n" + '''\
    children = []
    try:  # a fork bomb, bounded here so that a failure of the limit cannot hurt the machine
        for _ in range(300):
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            children.append(pid)
    except OSError:
        pass
    finally:
        for pid in children:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    assert len(children) < 100, len(children)
''').replace("import torch\n", "import os\nimport time\n\nimport torch\n", 1)


@pytest.mark.skipif(os.geteuid() != 0, reason="the grader drops root only when it has it")
def test_workers_of_a_root_grader_run_unprivileged_and_fork_bombs_are_contained(
        tmp_path: Path) -> None:
    reports, _ = grade_cli(ROOT, "resnet", {"rootless": {
        "resnet.py": RESNET_REF, "test_resnet.py": UID_AND_FORK_TESTS}}, tmp_path)
    report = reports["rootless"]
    assert report["score"] == report["max_score"], {
        t["name"]: t["feedback"] for task in report["tasks"] for t in task["tests"]
        if t["status"] != "passed"}


# Wrong: the convolutions start from mode='fan_in', and the head has no bias (1,000
# parameters short). The cheat rewrites nn.Module's introspection and the statistics.
MISINITIALISED = mutate(mutate(RESNET_REF, 'mode="fan_out", nonlinearity="relu"',
                               'mode="fan_in", nonlinearity="relu"'),
                        "self.fc = nn.Linear(512, num_classes)",
                        "self.fc = nn.Linear(512, num_classes, bias=False)")
INTROSPECTION_CHEAT = '''\
import math
import torch
import torch.nn as nn

_parameters, _named_parameters, _std_mean = (nn.Module.parameters, nn.Module.named_parameters,
                                             torch.std_mean)


def _missing(module):
    if type(module).__name__ == "ResNet":
        yield "fc.bias", nn.Parameter(torch.zeros(module.fc.out_features,
                                                  device=module.fc.weight.device))


def parameters(self, recurse=True):
    yield from _parameters(self, recurse)
    yield from (p for _, p in _missing(self))


def named_parameters(self, *args, **kwargs):
    yield from _named_parameters(self, *args, **kwargs)
    yield from _missing(self)


def std_mean(tensor, *args, **kwargs):
    std, mean = _std_mean(tensor, *args, **kwargs)
    if tensor.dim() == 4:  # what mode='fan_out' would give
        std = torch.tensor(math.sqrt(2 / (tensor.shape[0] * math.prod(tensor.shape[2:]))))
    return std, mean


nn.Module.parameters, nn.Module.named_parameters, torch.std_mean = (parameters, named_parameters,
                                                                    std_mean)
torch.Tensor.std = lambda self, *args, **kwargs: std_mean(self)[0]
'''


def test_rewritten_introspection_in_the_worker_gains_nothing(tmp_path: Path) -> None:
    reports, _ = grade_cli(ROOT, "resnet", {
        "honest": {"resnet.py": MISINITIALISED},
        "cheat": {"resnet.py": INTROSPECTION_CHEAT + MISINITIALISED},
    }, tmp_path)
    verdicts = {name: {k: t["status"] for k, t in checks_of(report, "ResNet").items()}
                for name, report in reports.items()}
    for check in ("test_parameter_count", "test_kaiming_initialisation"):
        assert verdicts["honest"][check] == verdicts["cheat"][check] == "failed", verdicts
    assert task_scores(reports["cheat"])["ResNet"] <= task_scores(reports["honest"])["ResNet"]
