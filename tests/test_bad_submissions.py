"""Broken input becomes a report that says what is wrong, never a crash."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from autograder.errors import UserError
from autograder.judge.runner import Judge
from tests.conftest import ROOT, assert_full_marks, failing, reference_source

REF = reference_source().replace("from __future__ import annotations\n", "")


def only_feedback(report) -> set[str]:
    """Feedback on resnet.py (these submissions leave out test_resnet.py: graded apart)."""
    return {t.feedback for task in report.tasks if not task.name.startswith("test_")
            for t in task.tests if t.status != "passed"}


def test_empty_folder(resnet_judge: Judge, make_submission) -> None:
    report = resnet_judge.grade(make_submission({}))
    assert report.score == 0
    assert "the submission is empty" in report.problems
    assert only_feedback(report) == {"resnet.py is missing from the submission"}


def test_missing_file_with_a_near_name(resnet_judge: Judge, make_submission) -> None:
    report = resnet_judge.grade(make_submission({"ResNet.py": REF, "notes.txt": "hi"}))
    assert report.score == 0
    assert only_feedback(report) == {
        "resnet.py is missing from the submission (found ResNet.py: rename it to resnet.py)"}


def test_syntax_error(resnet_judge: Judge, make_submission) -> None:
    source = REF.replace("    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
                         "        ### BEGIN SOLUTION\n        out = self.relu",
                         "    def forward(self, x:\n        out = self.relu", 1)
    report = resnet_judge.grade(make_submission({"resnet.py": source}))
    assert report.score == 0
    [feedback] = only_feedback(report)
    assert feedback.startswith("resnet.py could not be imported: your code raised SyntaxError")
    assert "resnet.py line" in feedback
    locations = {t.location.line for task in report.tasks for t in task.tests if t.location}
    assert len(locations) == 1


def test_import_of_a_missing_package(resnet_judge: Judge, make_submission) -> None:
    report = resnet_judge.grade(make_submission({"resnet.py": "import fancy_layers\n" + REF}))
    assert report.score == 0
    [feedback] = only_feedback(report)
    assert "ModuleNotFoundError: No module named 'fancy_layers'" in feedback
    assert "(at resnet.py line 1, in <module>" in feedback


def test_wrong_constructor_signature(resnet_judge: Judge, make_submission) -> None:
    source = REF.replace("def __init__(self, in_channels: int, out_channels: int, stride: int = 1)",
                         "def __init__(self, in_channels: int, out_channels: int)")
    source = source.replace("stride=stride,\n                               padding=1", "stride=1,\n"
                            "                               padding=1").replace(
        "kernel_size=1, stride=stride", "kernel_size=1, stride=1").replace(
        "if stride != 1 or in_channels", "if in_channels")
    report = resnet_judge.grade(make_submission({"resnet.py": source}))
    problems = failing(report)
    assert "it must take (in_channels, out_channels, stride=1)" in problems["test_constructor"]
    assert "takes 3 positional arguments but 4 were given" in problems["test_identity_block[train]"]
    # ResNet is graded with a standard block; only resnet18(), built with this block, fails.
    assert [k for k in problems if k in {"test_resnet18_factory"}] == ["test_resnet18_factory"]
    assert report.task("ResNet").score > 9


def test_class_that_is_not_a_module(resnet_judge: Judge, make_submission) -> None:
    source = REF.replace("class BasicBlock(nn.Module):", "class BasicBlock:").replace(
        "    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:\n"
        "        super().__init__()\n", "    def __init__(self, in_channels: int, out_channels: int, "
        "stride: int = 1) -> None:\n        pass\n", 1)
    report = resnet_judge.grade(make_submission({"resnet.py": source}))
    problems = failing(report)
    assert report.task("BasicBlock").score == 0
    assert "must be a class that subclasses torch.nn.Module" in problems["test_constructor"]
    assert "not a torch.nn.Module" in problems["test_identity_block[eval]"]


def test_non_utf8_file(resnet_judge: Judge, make_submission) -> None:
    report = resnet_judge.grade(make_submission({"resnet.py": b"# caf\xe9\n" + REF.encode()}))
    assert report.score == 0
    assert only_feedback(report) == {
        "resnet.py is not UTF-8 text (byte 0xe9 at position 5): save it with UTF-8 encoding"}


def _zip(path: Path, entries: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return path


def test_zip_with_escaping_path_is_graded_without_it(resnet_judge: Judge, tmp_path: Path) -> None:
    archive = _zip(tmp_path / "alice.zip", {"alice/resnet.py": REF, "../evil.py": "x = 1",
                                             "/etc/evil.py": "x = 1"})
    report = resnet_judge.grade(archive)
    assert report.submission.id == "alice"
    assert report.score == 20
    assert any("'../evil.py'" in p and "leads outside" in p for p in report.problems)
    assert any("'/etc/evil.py'" in p for p in report.problems)
    assert report.submission.files == ["resnet.py"]


def test_zip_entries_that_escape_reach_no_folder(tmp_path: Path) -> None:
    """What ingestion leaves in the scratch folder (all a worker sees) and beside it: entries
    aimed at the scratch folder itself, by a relative and by an absolute path, land nowhere."""
    from autograder.ingest import ingest
    from autograder.spec import load_assignment

    scratch = tmp_path / "workspace" / "submission"
    scratch.mkdir(parents=True)
    archive = _zip(tmp_path / "alice.zip", {
        "resnet.py": REF, "helper.py": "x = 1",
        "../submission/evil.py": "x = 1",  # from the staging folder into the scratch folder
        "../evil.py": "x = 1",  # into the workspace, beside the scratch folder
        str(scratch / "absolute.py"): "x = 1"})
    submission = ingest(archive, load_assignment("resnet"), scratch)
    assert sorted(p.name for p in scratch.iterdir()) == ["helper.py", "resnet.py"]
    assert sorted(p.name for p in scratch.parent.iterdir()) == ["submission"]
    assert sorted(submission.files) == ["resnet.py"]
    assert sum("leads outside" in p for p in submission.problems) == 3


def test_not_a_zip(resnet_judge: Judge, tmp_path: Path) -> None:
    fake = tmp_path / "bob.zip"
    fake.write_text("this is not a zip")
    report = resnet_judge.grade(fake)
    assert report.score == 0
    assert "bob.zip is neither a folder, a zip file nor one of the assignment's files" in report.problems


def test_a_path_that_does_not_exist(resnet_judge: Judge, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        resnet_judge.grade(tmp_path / "nobody")


def test_single_file_submission(resnet_judge: Judge) -> None:
    report = resnet_judge.grade(ROOT / "reference" / "resnet" / "resnet.py")
    assert report.score == 20


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_grader_failure_costs_one_report_not_the_batch(monkeypatch, make_submission,
                                                         jobs: int) -> None:
    """A batch in which grading one submission kills its judge: with -j 2 the judge process
    itself dies (os._exit, in the judge forked for it); with -j 1 the judge is this process,
    so the grader raises instead. Every other submission still gets its full report."""
    import os

    from autograder import api
    from autograder.judge import runner
    from autograder.spec import load_assignment

    coordinator = os.getpid()
    ingest = runner.ingest

    def dying_ingest(path, *args, **kwargs):
        if Path(path).name == "dies":
            if os.getpid() != coordinator:  # a judge forked for -j 2: the process dies
                os._exit(1)
            raise RuntimeError("a bug in the grader")
        return ingest(path, *args, **kwargs)

    # Judges are forked from this process, so they inherit the patched module.
    monkeypatch.setattr(runner, "ingest", dying_ingest)
    names = ["alice", "dies", "bob", "carol"]
    paths = [make_submission({"resnet.py": REF}, name=name) for name in names]
    reports = api.grade_submissions(paths, load_assignment("resnet"), jobs=jobs,
                                    tasks=["BasicBlock"])
    assert [r.submission.id for r in reports] == names
    dead = reports[1]
    assert dead.score == 0 and dead.max_score == 10 and dead.partial
    assert "the grader failed on this submission" in dead.problems[0]
    for report in reports[:1] + reports[2:]:
        assert_full_marks(report)
