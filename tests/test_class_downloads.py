"""A class as LMSs hand it over: roster, Canvas's flat files, GitHub Classroom clones,
a Gradescope export; name collisions; deadline and late policy; inputs with nothing to grade.
Through the CLI, grading one task to stay quick.

The layouts follow the documented naming: Canvas "Download Submissions" files are
``name_userid_submissionid_originalname`` (``name_late_userid_...`` when late, ``-N`` before
the extension of a file submitted again); ``gh classroom clone student-repos`` makes one
``<assignment>-<handle>`` git repository each; Gradescope's "Export Submissions" holds
``submission_metadata.yml`` (``submission_<id>:`` with ``:submitters:`` ``:name:``, ``:sid:``,
``:email:``, and ``:created_at:``) beside one ``submission_<id>/`` folder each.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from autograder.late import lateness
from autograder.spec import load_assignment
from tests.conftest import ROOT
from tests.test_cli import run

GOOD = (ROOT / "examples" / "resnet" / "good_student" / "resnet.py").read_text()
TEMPLATE = (ROOT / "student_template" / "resnet" / "resnet.py").read_text()
TESTS = (ROOT / "examples" / "resnet" / "good_student" / "test_resnet.py").read_text()
DEADLINE = "2026-03-01T23:59:00+00:00"


def _reports(folder: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_colliding_names_are_an_error_naming_both(tmp_path: Path) -> None:
    files = {"resnet.py": GOOD, "test_resnet.py": TESTS}
    _write(tmp_path / "class" / "Jane Doe", files)
    _write(tmp_path / "class" / "Jane_Doe", files)
    result = run("grade", str(tmp_path / "class"), "-a", "resnet", "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "two submissions would be graded as 'Jane_Doe'" in result.stderr
    assert "Jane Doe" in result.stderr and "--roster" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_canvas_download_with_a_roster(tmp_path: Path) -> None:
    canvas = _write(tmp_path / "submissions", {
        "smithjane_1001_5001_resnet.py": GOOD,
        "smithjane_1001_5001_test_resnet.py": TESTS,
        # resubmitted: Canvas names the newer file resnet-1.py; the older one is the template
        "doejohn_late_1002_5002_resnet.py": TEMPLATE,
        "doejohn_late_1002_5002_resnet-1.py": GOOD,
        "doejohn_late_1002_5002_test_resnet.py": TESTS,
    })
    roster = tmp_path / "roster.csv"
    roster.write_text("Student ID,Name,Email,GitHub,LMS ID\n"
                      "s1,Jane Smith,jane@example.edu,janes,1001\n"
                      "s2,John Doe,john@example.edu,johnd,1002\n"
                      "s3,No Show,no@example.edu,noshow,1003\n")
    out = tmp_path / "out"
    result = run("grade", str(canvas), "-a", "resnet", "-o", str(out), "-t", "BasicBlock",
                 "--roster", str(roster))
    assert result.returncode == 0, result.stderr
    reports = _reports(out)
    assert sorted(reports) == ["s1", "s2"]
    for key, name in (("s1", "Jane Smith"), ("s2", "John Doe")):
        submission = reports[key]["submission"]
        assert submission["id"] == submission["student_id"] == key
        assert submission["name"] == name
        assert reports[key]["score"] == 10, reports[key]["problems"]
    assert "no submission from 1 student(s) of the roster: s3" in result.stdout


def _commit(repo: Path, when: str, files: dict[str, str]) -> None:
    _write(repo, files)
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when,
           "GIT_AUTHOR_NAME": "student", "GIT_AUTHOR_EMAIL": "s@example.edu",
           "GIT_COMMITTER_NAME": "student", "GIT_COMMITTER_EMAIL": "s@example.edu"}
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "work"], check=True, env=env)


def test_github_classroom_clones_graded_at_the_last_accepted_commit(tmp_path: Path) -> None:
    clones = tmp_path / "resnet-submissions"
    for handle in ("janes", "johnd"):
        repo = clones / f"resnet-{handle}"
        repo.mkdir(parents=True)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        _commit(repo, "2026-02-28T12:00:00+00:00", {"resnet.py": GOOD, "test_resnet.py": TESTS})
    # johnd breaks the block nine days after the deadline: later than the policy accepts
    _commit(clones / "resnet-johnd", "2026-03-10T12:00:00+00:00", {"resnet.py": TEMPLATE})
    # janes pushes once more two days late (the same good code, a new file)
    _commit(clones / "resnet-janes", "2026-03-03T08:00:00+00:00", {"notes.py": "x = 1\n"})
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,github\ns1,janes\ns2,johnd\n")
    out = tmp_path / "out"
    result = run("grade", str(clones), "-a", "resnet", "-o", str(out), "-t", "BasicBlock",
                 "--roster", str(roster), "--deadline", DEADLINE)
    assert result.returncode == 0, result.stderr
    reports = _reports(out)
    assert sorted(reports) == ["s1", "s2"]
    john = reports["s2"]
    assert john["submission"]["submitted_at_source"] == "git"
    assert john["submission"]["submitted_at"].startswith("2026-02-28T12:00:00")
    assert john["score"] == 10 and john["late"]["days_late"] == 0
    jane = reports["s1"]
    assert jane["late"]["days_late"] == 2 and jane["late"]["penalty_percent"] == 20
    assert jane["late"]["raw_score"] == 10 and jane["score"] == 8
    assert "2 days late: -20% of 10 (2 points)" in result.stdout


def test_gradescope_export_and_late_penalties(tmp_path: Path) -> None:
    export = tmp_path / "assignment_77_export"
    times = {"11": "2026-03-02 00:10:00.123456789 +00:00",   # within the 15 minutes of grace
             "12": "2026-03-03 01:00:00.000000000 +00:00",   # 2 started days late: -20%
             "13": "2026-03-07 23:00:00.000000000 +00:00"}   # 6 days late: -60%, capped at 50%
    metadata = []
    for number, when in times.items():
        _write(export / f"submission_{number}", {"resnet.py": GOOD, "test_resnet.py": TESTS})
        metadata += [f"submission_{number}:", "  :submitters:", f"  - :name: Student {number}",
                     f"    :sid: '9{number}'", f"    :email: s{number}@example.edu",
                     f"  :created_at: {when}", "  :score: 0.0"]
    (export / "submission_metadata.yml").write_text("\n".join(metadata) + "\n")
    out = tmp_path / "out"
    result = run("grade", str(export), "-a", "resnet", "-o", str(out), "-t", "BasicBlock",
                 "--deadline", DEADLINE)
    assert result.returncode == 0, result.stderr
    reports = _reports(out)
    assert sorted(reports) == ["911", "912", "913"]
    assert [reports[k]["score"] for k in ("911", "912", "913")] == [10, 8, 5]
    assert [reports[k]["late"]["days_late"] for k in ("911", "912", "913")] == [0, 2, 6]
    assert reports["913"]["late"]["penalty"] == 5 and reports["913"]["late"]["raw_score"] == 10
    assert all(r["submission"]["submitted_at_source"] == "lms" for r in reports.values())
    assert reports["912"]["submission"]["name"] == "Student 12"

    # an export takes whole grades only: the gradebook holds BasicBlock alone for everyone
    refused = run("export", "nbgrader", "--db", str(tmp_path / "refused.db"),
                  str(out / "gradebook.sqlite"))
    assert refused.returncode == 1
    assert "3 result(s) cover some tasks only (grade -t)" in refused.stderr
    assert "Traceback" not in refused.stderr

    # nbgrader's own model: raw grades, the penalty per submitted notebook, the LMS's time
    from nbgrader.api import Gradebook

    from autograder.report.model import Report
    from autograder.report.nbgrader_gradebook import export_reports

    db = tmp_path / "nbgrader.db"
    export_reports([Report.model_validate(r) for r in reports.values()], db)
    with Gradebook(f"sqlite:///{db}") as book:
        for student, penalty, when in (("911", 0, "2026-03-02 00:10:00"),
                                       ("912", 2, "2026-03-03 01:00:00"),
                                       ("913", 5, "2026-03-07 23:00:00")):
            submission = book.find_submission("resnet", student)
            assert submission.score == 10
            assert submission.late_submission_penalty == penalty
            assert str(submission.timestamp).startswith(when)


def test_late_policy_arithmetic() -> None:
    from datetime import datetime, timedelta

    policy = load_assignment("resnet").late
    deadline = datetime.fromisoformat(DEADLINE)
    cases = [(timedelta(minutes=-5), 0, 0), (timedelta(minutes=15), 0, 0),
             (timedelta(minutes=16), 1, 10), (timedelta(days=3), 3, 30),
             (timedelta(days=6, hours=1), 7, 50)]
    for after, days, percent in cases:
        late = lateness(policy, deadline, deadline + after, 20)
        assert (late.days_late, late.penalty_percent, late.final_score) == (
            days, percent, 20 * (1 - percent / 100)), after
    refused = lateness(policy, deadline, deadline + timedelta(days=8), 20)
    assert not refused.accepted and refused.final_score == 0


def test_inputs_with_nothing_to_grade_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    notebook = _write(tmp_path / "nn_work", {
        "nn_module.ipynb": (ROOT / "student_template" / "nn_module" / "nn_module.ipynb").read_text()})
    _write(tmp_path / "class" / "alice", {})
    (tmp_path / "class" / "notes.txt").write_text("not a submission\n")
    cases = [
        (tmp_path / "empty", "no submission found in"),
        (tmp_path / "class", "nothing to grade:"),
        (tmp_path / "class" / "notes.txt", "is not a submission"),
        (notebook, "holds nn_module.ipynb, the files of assignment nn_module, not of resnet: "
                   "pass -a nn_module"),
    ]
    for path, message in cases:
        result = run("grade", str(path), "-a", "resnet", "-o", str(tmp_path / "out"))
        assert result.returncode == 1, (path, result.stdout)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
