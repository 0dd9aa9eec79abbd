"""`grade --task` merges into the report already there; exports never take a partial report
for a whole one. Through the CLI, as an instructor runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import ROOT
from tests.test_cli import run

BUGGY = ROOT / "examples" / "resnet" / "buggy_student"


def _report(path: Path) -> dict:
    return json.loads(path.read_text())


def test_partial_reports_merge_and_exports_refuse_them_until_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run("grade", str(BUGGY), "-a", "resnet", "-o", str(out), "-t", "BasicBlock")
    assert first.returncode == 0, first.stderr
    partial = _report(out / "buggy_student.json")
    assert partial["partial"] is True and partial["max_score"] == 10

    db = str(tmp_path / "gradebook.db")
    refused = run("export", "nbgrader", "--db", db, str(out))
    assert refused.returncode == 1
    assert "partial (grade --task)" in refused.stderr and "buggy_student" in refused.stderr
    assert "Traceback" not in refused.stderr
    gradescope = run("report", str(out / "buggy_student.json"), "-f", "gradescope")
    assert gradescope.returncode == 1 and "partial" in gradescope.stderr

    rest = run("grade", str(BUGGY), "-a", "resnet", "-o", str(out), "-t", "ResNet",
               "-t", "test_residual_addition_happens", "-t", "test_batchnorm_train_vs_eval")
    assert rest.returncode == 0, rest.stderr
    merged = _report(out / "buggy_student.json")
    assert merged["partial"] is False and merged["max_score"] == 30
    assert [t["name"] for t in merged["tasks"]] == [
        "BasicBlock", "ResNet", "test_residual_addition_happens", "test_batchnorm_train_vs_eval"]
    assert merged["score"] == round(sum(t["score"] for t in merged["tasks"]), 4)
    assert run("export", "nbgrader", "--db", db, str(out)).returncode == 0

    # The whole report stays whole when one task is graded again (it used to be replaced by
    # a one-task report, and the export then recorded 10 of 30 points).
    again = run("grade", str(BUGGY), "-a", "resnet", "-o", str(out), "-t", "BasicBlock",
                "--regrade")  # the gradebook would skip it: same files, same grader
    assert again.returncode == 0, again.stderr
    assert f"merged into {out / 'buggy_student.json'} (4 of 4 tasks)" in again.stdout
    after = _report(out / "buggy_student.json")
    assert after["partial"] is False and after["max_score"] == 30
    assert after["score"] == merged["score"]
    assert sorted(p.name for p in out.glob("*.json")) == ["buggy_student.json"]


def test_a_task_of_other_files_is_written_beside_the_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("grade", str(BUGGY), "-a", "resnet", "-o", str(out)).returncode == 0
    whole = _report(out / "buggy_student.json")
    changed = tmp_path / "buggy_student"
    shutil.copytree(BUGGY, changed)
    (changed / "resnet.py").write_text((ROOT / "reference" / "resnet" / "resnet.py").read_text())
    result = run("grade", str(changed), "-a", "resnet", "-o", str(out), "-t", "BasicBlock")
    assert result.returncode == 0, result.stderr
    assert "beside it" in result.stdout
    assert _report(out / "buggy_student.json") == whole  # the whole report is kept as it was
    beside = _report(out / "buggy_student.partial.json")
    assert beside["partial"] is True and beside["score"] == 10
