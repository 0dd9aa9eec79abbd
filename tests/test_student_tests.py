"""Student-written tests graded by mutation, for real: worker processes, the real judge.

A test earns its task's points in proportion to the known bugs (mutants) it catches, and
nothing unless it passes against the reference. Each submission below is graded once
(module-scoped) by a judge that runs only the student-test checks (the implementation
checks are graded in test_resnet_grading.py; `validate` below grades everything).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.judge import mutation
from autograder.judge.mutation import StudentTestOutcome, safe_error_text
from autograder.judge.runner import Judge
from autograder.report import model
from autograder.report.model import Report
from autograder.sandbox.limits import Limits
from autograder.validate import Validation
from tests.conftest import ROOT, assert_full_marks, assert_graded, case_names, require_landlock

RESIDUAL = "test_residual_addition_happens"
BATCHNORM = "test_batchnorm_train_vs_eval"
REFERENCE = ROOT / "reference" / "resnet"
ASSIGNMENT = ROOT / "assignments" / "resnet"
CHECKS = Path("checks") / "hidden" / "test_student_tests.py"
TEMPLATE = (ROOT / "student_template" / "resnet" / "test_resnet.py").read_text()
STUB = ('    # TODO(human): implement this test\n'
        '    raise NotImplementedError("TODO(human): implement this test")\n')


def student_tests(residual: str, batchnorm: str) -> str:
    """The template's test_resnet.py with the two stubs filled in (helpers kept)."""
    def body(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip() + "\n", "    ")

    head, middle, tail = TEMPLATE.split(STUB)
    return head + body(residual) + middle + body(batchnorm) + tail


# The seed's own recipes, written literally (a known-good case of the assignment).
SEED_CASE = ASSIGNMENT / "cases" / "good" / "seed_recipes"
SEED_TESTS = (SEED_CASE / "test_resnet.py").read_text()
SEED_BATCHNORM = """
    block = BasicBlock(64, 64)
    x = torch.randn(4, 64, 8, 8)
    block.train()
    out_train = block(x)
    block.eval()
    out_eval = block(x)
    assert not torch.allclose(out_train, out_eval)
"""
# The instructor's hook helper in a student's test: relu(main path + input), any weights.
HOOKS_RESIDUAL = """
    block = BasicBlock(16, 16).eval()
    x = torch.randn(2, 16, 8, 8)
    recorder = ActivationRecorder()
    with torch.no_grad(), recorder.record(block, ["bn2"]):
        out = block(x)
    assert torch.allclose(out, torch.relu(recorder.activations["bn2"] + x), atol=1e-5)
"""
SHAPES_ONLY = SEED_BATCHNORM.replace("assert not torch.allclose(out_train, out_eval)",
                                     "assert out_train.shape == out_eval.shape == x.shape")
# Tries to tell the reference from a mutant by where it lives.
NEEDS_REFERENCE_PATH = """
    import resnet
    assert "reference" in resnet.__file__
"""
NOT_A_MUTANT_PATH = """
    import os, resnet
    folder = os.path.dirname(resnet.__file__)
    assert "mutant" not in resnet.__file__ and resnet.__name__ == "resnet"
    assert BasicBlock.__module__ == "resnet" and os.getcwd() == folder
    assert sorted(f for f in os.listdir(folder) if not f.startswith(".")) == [
        "resnet.py", "test_resnet.py"]
"""
# Passes the first time it runs, fails whenever it finds what an earlier run left behind.
REMEMBERS_EARLIER_RUNS = """
    import os, tempfile, resnet
    places = [os.path.dirname(resnet.__file__), tempfile.gettempdir(),
              os.path.expanduser("~"), "/tmp", "/dev/shm"]
    seen = any(os.path.exists(os.path.join(p, ".seen-by-student-test")) for p in places)
    for place in places:
        try:
            open(os.path.join(place, ".seen-by-student-test"), "w").close()
        except OSError:
            pass
    assert not seen
"""
NAME_ERROR = """
    block = BasicBlock(64, 64)
    out = blokc(torch.randn(1, 64, 8, 8))
"""
# Try to read the code under test (or the reference) out through feedback.
LEAK_LONG = """
    import inspect, resnet
    raise ValueError(inspect.getsource(resnet.BasicBlock))
"""
# Encoded leaks and side channels a reviewer found: a reversed copy of the code under test,
# and telling the reference run from mutant runs by the CPU limit it gets.
LEAK_REVERSED = """
    import resnet
    raise ValueError(open(resnet.__file__).read()[::-1][:250])
"""
CPU_LIMIT_PROBE = """
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_CPU)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    assert soft - (usage.ru_utime + usage.ru_stime) > 12
"""
LEAK_LINE = """
    import inspect, resnet
    lines = [l.strip() for l in inspect.getsource(resnet).splitlines() if "shortcut(x)" in l]
    raise RuntimeError(lines[0])
"""
LEAK_ASSERT = """
    import inspect, resnet
    assert False, inspect.getsource(resnet.BasicBlock.forward)
"""
READS_REFERENCE_FILE = f"""
    import resnet
    with open({str(REFERENCE / "resnet.py")!r}) as reference:
        assert open(resnet.__file__).read() == reference.read()
"""

SUBMISSIONS = {
    "reference_tests": {"test_resnet.py": (REFERENCE / "test_resnet.py").read_text()},
    "seed_tests": {"test_resnet.py": SEED_TESTS},
    "hooks_and_memory": {"test_resnet.py": student_tests(HOOKS_RESIDUAL, REMEMBERS_EARLIER_RUNS)},
    "template": {"test_resnet.py": TEMPLATE},
    "trivial": {"test_resnet.py": student_tests("assert True", SHAPES_ONLY)},
    "paths": {"test_resnet.py": student_tests(NEEDS_REFERENCE_PATH, NOT_A_MUTANT_PATH)},
    "errors": {"test_resnet.py": student_tests(NAME_ERROR, SEED_BATCHNORM).replace(
        f"def {BATCHNORM}():", f"def {BATCHNORM}(block_from_conftest):")},
    "leaks": {"test_resnet.py": student_tests(LEAK_LONG, LEAK_LINE)},
    "leak_assert": {"test_resnet.py": student_tests(LEAK_ASSERT, READS_REFERENCE_FILE)},
    "side_channels": {"test_resnet.py": student_tests(LEAK_REVERSED, CPU_LIMIT_PROBE)},
    "syntax_error": {"test_resnet.py": "def test_residual_addition_happens(:\n    pass\n"},
    # pytest machinery shipped with a submission must not run: it would turn failures green.
    "conftest": {
        "test_resnet.py": student_tests("assert False", "assert 1 == 2"),
        "conftest.py": textwrap.dedent("""
            import pytest
            @pytest.hookimpl(hookwrapper=True)
            def pytest_runtest_makereport(item, call):
                outcome = yield
                outcome.get_result().outcome = "passed"
        """),
        "pytest.ini": "[pytest]\naddopts = -p no:python\n",
    },
}


def student_tests_judge(resnet_judge: Judge, root: Path, limits: Limits | None = None) -> Judge:
    """A judge of the resnet assignment whose only checks are those of student tests,
    sharing the session's sandbox."""
    (root / CHECKS).parent.mkdir(parents=True)
    shutil.copyfile(ASSIGNMENT / CHECKS, root / CHECKS)
    shutil.copyfile(ASSIGNMENT / "mutants.toml", root / "mutants.toml")
    spec = resnet_judge.spec
    spec = spec.model_copy(update={"root": root, "limits": limits or spec.limits})
    return Judge(spec, resnet_judge.zygote)


def submission(folder: Path, files: dict[str, str]) -> Path:
    """The reference's resnet.py with the given files."""
    folder.mkdir()
    shutil.copyfile(REFERENCE / "resnet.py", folder / "resnet.py")
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


@pytest.fixture(scope="module")
def reports(resnet_judge: Judge, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, Report]]:
    """Each submission above graded once."""
    root = tmp_path_factory.mktemp("student-tests")
    judge = student_tests_judge(resnet_judge, root / "assignment")
    try:
        yield {name: judge.grade(submission(root / name, files))
               for name, files in SUBMISSIONS.items()}
    finally:
        judge.close()


def checks(report: Report, task: str) -> dict[str, model.TestResult]:
    """mutant name -> the check that the task's test catches it."""
    return {t.check_id.split("[")[-1].rstrip("]"): t for t in report.task(task).tests}


def feedback(report: Report, task: str) -> str:
    return " ".join(t.feedback for t in report.task(task).tests)


def test_untouched_template_tests_fail_under_plain_pytest(tmp_path: Path) -> None:
    """A student who runs pytest before writing a test must see it fail, not pass: the
    template's stubs raise, whatever resnet.py holds (here a correct one)."""
    shutil.copy(REFERENCE / "resnet.py", tmp_path)
    (tmp_path / "test_resnet.py").write_text(TEMPLATE)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "test_resnet.py"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1, result.stdout
    assert f"FAILED test_resnet.py::{RESIDUAL} - NotImplementedError" in result.stdout
    assert f"FAILED test_resnet.py::{BATCHNORM} - NotImplementedError" in result.stdout
    assert "2 failed, 1 passed" in result.stdout  # the instructor's hook test still runs


def test_reference_tests_earn_full_marks(reports: dict[str, Report]) -> None:
    report = reports["reference_tests"]
    for task in (RESIDUAL, BATCHNORM):
        assert_full_marks(report, task)
        assert report.task(task).max_score == 5
        assert len(report.task(task).tests) >= 4
        assert not any(t.feedback for t in report.task(task).tests)


def test_seed_tests_catch_every_bug_in_scope(reports: dict[str, Report]) -> None:
    """What the seed prints is correct by definition: its all-positive input cannot show where
    the final ReLU is, so ReLU placement is outside the residual test's scope (those mutants
    grade no test), and the seed's recipe catches every mutant that grades it."""
    report = reports["seed_tests"]
    for task in (RESIDUAL, BATCHNORM):
        assert_full_marks(report, task)
        assert report.task(task).max_score == 5
        assert not any(t.feedback for t in report.task(task).tests)
    assert set(checks(report, RESIDUAL)) == {"no_skip_addition", "shortcut_scaled",
                                             "skip_subtracted", "skip_from_first_stage",
                                             "skip_multiplied"}
    assert set(checks(report, BATCHNORM)) == {"batchnorm_identity", "no_running_stats",
                                              "always_eval", "always_train"}
    out_of_scope = {m.name for m in mutation.load_mutant_specs(ASSIGNMENT) if not m.tests}
    assert {"add_after_final_relu", "no_final_relu"} <= out_of_scope


def test_seed_recipes_earn_full_marks_through_the_cli(tmp_path: Path) -> None:
    """End to end: `autograder grade` on the seed's literal recipes (with the reference
    resnet.py), the two test tasks only."""
    folder = submission(tmp_path / "seed", {"test_resnet.py": SEED_TESTS})
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "-a", "resnet",
                          "--task", RESIDUAL, "--task", BATCHNORM, "-o", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    report = Report.model_validate_json(out.read_text())
    assert [(t.name, t.score, t.max_score) for t in report.tasks] == [
        (RESIDUAL, 5, 5), (BATCHNORM, 5, 5)]
    assert "10/10" in run.stdout or "10.0/10" in run.stdout, run.stdout


def test_hook_helper_works_in_student_tests(reports: dict[str, Report]) -> None:
    report = reports["hooks_and_memory"]
    assert report.task(RESIDUAL).score == 5, feedback(report, RESIDUAL)


def test_a_test_cannot_carry_state_from_one_variant_to_the_next(reports: dict[str, Report]) -> None:
    report = reports["hooks_and_memory"]
    assert report.task(BATCHNORM).score == 0
    require_landlock(1, "nothing outside the emptied folder is writable")
    assert "passes against every broken BasicBlock too" in feedback(report, BATCHNORM)


@pytest.mark.parametrize("task", [RESIDUAL, BATCHNORM])
def test_untouched_template_tests_earn_nothing_and_say_so(reports: dict[str, Report],
                                                          task: str) -> None:
    report = reports["template"]
    assert report.task(task).score == 0
    assert report.task(task).tests
    for check in report.task(task).tests:
        assert check.status == "failed"
        assert check.feedback.startswith("your test fails against a correct BasicBlock")
        assert "NotImplementedError" in check.feedback


@pytest.mark.parametrize("submission, task", [
    ("trivial", RESIDUAL),  # assert True
    ("trivial", BATCHNORM),  # shapes only
    ("paths", BATCHNORM),  # "the file is not called mutant"
])
def test_tests_that_check_nothing_earn_nothing(reports: dict[str, Report], submission: str,
                                               task: str) -> None:
    report = reports[submission]
    assert_graded(report, task)
    assert report.task(task).score == 0
    for check in report.task(task).tests:
        assert check.status == "failed"
        assert check.feedback.startswith("your test passes against every broken BasicBlock too")
        assert "does not check the behaviour" in check.feedback


def test_a_test_that_needs_the_reference_path_earns_nothing(reports: dict[str, Report]) -> None:
    report = reports["paths"]
    assert report.task(RESIDUAL).score == 0
    text = feedback(report, RESIDUAL)
    assert "your test fails against a correct BasicBlock" in text
    assert "an assertion failed (at test_resnet.py line" in text
    assert 'assert "reference" in resnet.__file__' in text


def test_errors_earn_nothing_and_say_why(reports: dict[str, Report]) -> None:
    report = reports["errors"]
    assert report.task(RESIDUAL).score == 0 and report.task(BATCHNORM).score == 0
    check = report.task(RESIDUAL).tests[0]
    assert "fails against a correct BasicBlock" in check.feedback
    # Only the exception's name and the student's own line: during the reference run a
    # message could carry the reference's source.
    assert "NameError (at test_resnet.py line" in check.feedback
    assert "`out = blokc(torch.randn(1, 64, 8, 8))`" in check.feedback
    assert check.location.file == "test_resnet.py"
    assert ("asks for `block_from_conftest`, which is not a fixture defined in its own file"
            in feedback(report, BATCHNORM))


def test_a_broken_test_file_earns_nothing(reports: dict[str, Report]) -> None:
    report = reports["syntax_error"]
    for task in (RESIDUAL, BATCHNORM):
        assert report.task(task).score == 0
        assert "test_resnet.py could not be imported: SyntaxError" in feedback(report, task)


def test_submitted_pytest_machinery_does_not_run(reports: dict[str, Report]) -> None:
    report = reports["conftest"]
    assert report.task(RESIDUAL).score == 0 and report.task(BATCHNORM).score == 0
    assert "fails against a correct BasicBlock" in feedback(report, RESIDUAL)


def test_feedback_never_shows_the_code_under_test(reports: dict[str, Report]) -> None:
    for name in ("leaks", "leak_assert"):
        for task in (RESIDUAL, BATCHNORM):
            text = feedback(reports[name], task)
            assert reports[name].task(task).score == 0
            assert "shortcut" not in text and "self.bn2" not in text, text
    assert "ValueError (at test_resnet.py" in feedback(reports["leaks"], RESIDUAL)


def test_encoded_leaks_and_limit_probes_earn_nothing(reports: dict[str, Report]) -> None:
    report = reports["side_channels"]
    assert report.task(RESIDUAL).score == 0 and report.task(BATCHNORM).score == 0
    text = feedback(report, RESIDUAL)
    reference = (REFERENCE / "resnet.py").read_text()
    assert reference[::-1][:250][40:80] not in text
    assert "ValueError (at test_resnet.py" in text


def test_a_test_cannot_read_the_reference(reports: dict[str, Report]) -> None:
    require_landlock(1, "the reference hidden from a student's test")
    report = reports["leak_assert"]
    assert report.task(BATCHNORM).score == 0
    assert "PermissionError" in feedback(report, BATCHNORM)


def test_messages_that_could_carry_source_are_withheld() -> None:
    quoting = StudentTestOutcome("error", "RuntimeError", "return self.relu(out + x)", builtin=True)
    encoded = StudentTestOutcome("error", "RuntimeError",
                                 "Y2xhc3MgQmxvY2s6CiAgICBkZWYgZm9yd2FyZChzZWxmLCB4KToK")
    custom = StudentTestOutcome("error", "return_self_relu_out", "x", builtin=False)
    fake_builtin = StudentTestOutcome("error", "return_self_relu_out", "x", builtin=True)
    plain = StudentTestOutcome("error", "ZeroDivisionError", "division by zero", builtin=True)
    assert safe_error_text(quoting, "") == "RuntimeError"
    assert safe_error_text(encoded, "") == "RuntimeError"
    assert safe_error_text(custom, "") == "it raised an exception of its own"
    assert safe_error_text(fake_builtin, "") == "it raised an exception of its own"
    assert safe_error_text(plain, "") == "ZeroDivisionError"  # messages are never shown
    mine = StudentTestOutcome("failed", "AssertionError", "outputs agree")
    assert safe_error_text(mine, 'assert a, "outputs agree"') == "AssertionError: outputs agree"
    assert safe_error_text(mine, "assert a") == "an assertion failed"


def test_a_test_that_hangs_times_out(resnet_judge: Judge, tmp_path: Path) -> None:
    limits = resnet_judge.spec.limits.model_copy(update={"check_seconds": 3})
    judge = student_tests_judge(resnet_judge, tmp_path / "assignment", limits)
    sleeper = student_tests("import time\ntime.sleep(10_000)", SEED_BATCHNORM)
    try:
        report = judge.grade(submission(tmp_path / "sleeper", {"test_resnet.py": sleeper}))
    finally:
        judge.close()
    residual = report.task(RESIDUAL)
    assert residual.score == 0
    assert {t.status for t in residual.tests} == {"timeout"}
    assert "did not finish within 3 s against a correct BasicBlock" in residual.tests[0].feedback
    assert report.task(BATCHNORM).score == 5  # the other test runs in a fresh worker


def test_a_test_that_hangs_only_on_a_mutant_catches_it_quickly(
        resnet_judge: Judge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mutation, "MIN_MUTANT_SECONDS", 1.0)
    judge = student_tests_judge(resnet_judge, tmp_path / "assignment")
    hangs_when_not_added = """
        block = BasicBlock(8, 8).eval()
        with torch.no_grad():
            block.conv1.weight.zero_()
            block.conv2.weight.zero_()
            x = torch.ones(2, 8, 4, 4) * 0.5
            if not torch.allclose(block(x), torch.relu(x)):  # a broken addition: hang, not fail
                import time
                time.sleep(10_000)
    """
    tests = student_tests(hangs_when_not_added, SEED_BATCHNORM)
    try:
        report = judge.grade(submission(tmp_path / "hangs", {"test_resnet.py": tests}))
    finally:
        judge.close()
    residual = checks(report, RESIDUAL)
    assert {name for name, check in residual.items() if check.status == "passed"} == set(residual)
    assert len(residual) == 5
    assert report.timing.duration < 15  # 1 s per hanging variant, not the 20 s check limit


def test_validate_passes_on_resnet(resnet_validation: Validation) -> None:
    result = resnet_validation
    assert result.ok, [(r.subject, r.detail) for r in result.failures]
    subjects = {r.subject for r in result.rows}
    assert {"reference earns full marks", "untouched template earns nothing",
            "mutant no_skip_addition", "mutant always_eval", "good case seed_recipes",
            "bad case missing_projection", "bad case tests_check_shapes_and_one_mode"} <= subjects
    assert any(r.subject.endswith("test_no_bias_in_convolutions") for r in result.rows)
    cases = case_names("resnet", "good") + case_names("resnet", "bad")
    assert len([r for r in result.rows if " case " in r.subject]) == len(cases) == len(result.cases)
    seed = result.cases["good/seed_recipes"]
    assert (seed.task(RESIDUAL).score, seed.task(BATCHNORM).score) == (5, 5)


def test_validate_fails_on_a_broken_assignment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for part in ("assignments", "reference", "student_template"):
        shutil.copytree(ROOT / part / "resnet", home / part / "resnet")
    assignment = home / "assignments" / "resnet"
    (assignment / "checks" / "hidden" / "test_resnet.py").unlink()  # fewer checks: faster
    shutil.rmtree(assignment / "cases")  # (cases: see the test below)
    # A mutant the reference tests cannot catch (the residual test zeroes the convolutions),
    # and a check that can never fail.
    (assignment / "mutants.toml").write_text(textwrap.dedent('''
        [[mutant]]
        name = "no_skip_addition"
        symbol = "BasicBlock"
        bug = "the block forgets to add the skip connection"
        tests = ["test_residual_addition_happens"]
        replace = [["out = out + self.shortcut(x)", "out = out"]]

        [[mutant]]
        name = "relu_before_add"
        symbol = "BasicBlock"
        bug = "the block applies ReLU to the main path before adding the skip connection"
        tests = ["test_residual_addition_happens", "test_batchnorm_train_vs_eval"]
        replace = [["out = self.bn2(self.conv2(out))", "out = self.relu(self.bn2(self.conv2(out)))"]]
    '''))
    (assignment / "checks" / "hidden" / "test_always.py").write_text(textwrap.dedent('''
        import pytest
        pytestmark = pytest.mark.task("BasicBlock")
        def test_always_passes(student):
            """A check that can never fail"""
    '''))
    env = {**os.environ, "AUTOGRADER_HOME": str(home)}
    run = subprocess.run([sys.executable, "-m", "autograder", "validate", "resnet"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    text = "\n".join(failed)
    assert "mutant relu_before_add" in text and "does not catch it" in text
    assert "test_always.py::test_always_passes" in text and "can never fail" in text
    assert "mutant no_skip_addition" not in text
    assert "validation failed: resnet" in run.stderr


UNFAIR_CHECK = '''
import pytest

from autograder.checks import CheckFailed, registered_leaves

pytestmark = pytest.mark.task("BasicBlock")


def test_projection_is_called_shortcut(student):
    """A stride-2 block keeps its projection in `self.shortcut` (an unfair check)"""
    _, leaves = registered_leaves(student, "BasicBlock", (16, 32), {"stride": 2})
    if not any(leaf["name"].startswith("shortcut.") for leaf in leaves):
        raise CheckFailed("the projection must be called self.shortcut")
'''


def test_validate_names_a_check_unfair_to_a_known_good_case(tmp_path: Path) -> None:
    """An instructor adds a check that requires the attribute name `shortcut`: validate
    fails, naming each known-good case that uses another name and the check."""
    home = tmp_path / "home"
    for part in ("assignments", "reference", "student_template"):
        shutil.copytree(ROOT / part / "resnet", home / part / "resnet")
    assignment = home / "assignments" / "resnet"
    cases = assignment / "cases"
    shutil.rmtree(cases / "bad")  # fewer submissions: faster
    for case in cases.joinpath("good").iterdir():
        if case.name not in ("downsample_sequential", "registered_out_of_order"):
            shutil.rmtree(case)
    # Faster: only the mutants that grade student tests (so their checks still exist), and
    # no hidden ResNet checks (its public ones remain; hidden weights follow the checks).
    declared = (assignment / "mutants.toml").read_text().split("[[mutant]]")
    (assignment / "mutants.toml").write_text("[[mutant]]".join(
        [declared[0]] + [m for m in declared[1:] if "\ntests = [" in m]))
    (assignment / "checks" / "hidden" / "test_resnet.py").unlink()
    (assignment / "checks" / "hidden" / "test_unfair.py").write_text(UNFAIR_CHECK)
    env = {**os.environ, "AUTOGRADER_HOME": str(home)}
    run = subprocess.run([sys.executable, "-m", "autograder", "validate", "resnet"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    rows = {line.split()[3]: line for line in run.stdout.splitlines()
            if line.startswith(("ok", "FAIL")) and " case " in line}
    unfair = rows["downsample_sequential"]
    assert unfair.startswith("FAIL"), unfair
    assert "a check is unfair" in unfair and "BasicBlock" in unfair
    assert "checks/hidden/test_unfair.py::test_projection_is_called_shortcut" in unfair
    assert rows["registered_out_of_order"].startswith("ok")  # it does call it `shortcut`
    assert "reference earns full marks" in run.stdout
    assert not any(line.startswith("FAIL") and "reference earns full marks" in line
                   for line in run.stdout.splitlines())


def test_validate_needs_a_name_or_all() -> None:
    run = subprocess.run([sys.executable, "-m", "autograder", "validate"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--all" in run.stderr
