"""The gradebook through the real CLI: resume after SIGINT and SIGKILL, skip what is
graded, regrade what a changed check affects, stats (text and HTML in headless Chromium)
and the CSV and Canvas exports parsed back."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from autograder.gradebook.exports import CANVAS_IDENTITY
from autograder.gradebook.stats import gradebook_stats
from autograder.gradebook.store import Gradebook
from tests.classroom import (
    DESIGN,
    ROOT,
    TASK,
    cli_env,
    grade_command,
    kill_all,
    make_class,
    mutant_bug,
    run_cli,
    wait_for_no_processes,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def scores_in(output: Path) -> dict[str, float]:
    return {p.stem: json.loads(p.read_text())["score"] for p in sorted(output.glob("*.json"))}


def rows_in(output: Path) -> list[tuple[str, float]]:
    with sqlite3.connect(output / "gradebook.sqlite") as db:
        return db.execute("SELECT submission_id, score FROM results ORDER BY 1").fetchall()


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """The class graded once, uninterrupted: (class folder, output folder, id -> kind)."""
    base = tmp_path_factory.mktemp("class")
    kinds = make_class(base / "class")
    result = run_cli(grade_command(base / "class", base / "out", "-j", "2"))
    assert result.returncode == 0, result.stderr
    assert "graded 12 submission(s); skipped 0" in result.stdout
    return base / "class", base / "out", kinds


def test_uninterrupted_run_has_one_report_and_row_each(graded_class):
    _, out, kinds = graded_class
    scores = scores_in(out)
    assert sorted(scores) == sorted(kinds)
    assert rows_in(out) == sorted(scores.items())
    assert {scores[s] for s, kind in kinds.items() if kind == "reference"} == {10.0}
    assert all(scores[s] < 10 for s, kind in kinds.items() if kind != "reference")
    assert not list(out.glob(".*.tmp"))


def _start(classroom: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(grade_command(classroom, out, "-j", "2"), env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for_reports(out: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 240
    while len(list(out.glob("*.json"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no reports appeared"
        time.sleep(0.05)


def _check_consistent(out: Path) -> int:
    """Every row has its report, every report parses, nothing half-written; returns count."""
    reports = {p.stem: json.loads(p.read_text())["score"] for p in out.glob("*.json")}
    assert not list(out.glob(".*.tmp"))
    rows = dict(rows_in(out))
    assert set(rows) <= set(reports)
    assert all(reports[s] == score for s, score in rows.items())
    return len(rows)


def test_sigint_then_sigkill_midway_then_rerun_equals_uninterrupted(graded_class, tmp_path):
    classroom, baseline, _ = graded_class
    out = tmp_path / "out"
    mark = f"AUTOGRADER_TEST_{uuid.uuid4().hex}"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = cli_env(TMPDIR=str(tmpdir), **{mark: "1"})

    # Ctrl-C as a terminal sends it: to the whole process group.
    process = _start(classroom, out, env)
    _wait_for_reports(out, 3, process)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "run the same command again" in stderr
    left = wait_for_no_processes(mark, tmpdir)
    kill_all(left)
    assert not left, "processes left behind after Ctrl-C"
    first = _check_consistent(out)
    assert 3 <= first < 12

    # SIGKILL of the grading process alone: its judges and sandbox must not outlive it.
    process = _start(classroom, out, env)
    _wait_for_reports(out, first + 2, process)
    process.kill()
    process.communicate(timeout=30)
    left = wait_for_no_processes(mark, tmpdir)
    kill_all(left)
    assert not left, "processes left behind after SIGKILL"
    second = _check_consistent(out)
    assert first < second <= 12

    result = run_cli(grade_command(classroom, out, "-j", "2"), env=env)
    assert result.returncode == 0, result.stderr
    assert f"graded {12 - second} submission(s); skipped {second} already graded" in result.stdout
    assert scores_in(out) == scores_in(baseline)
    assert rows_in(out) == rows_in(baseline)
    assert not wait_for_no_processes(mark, tmpdir)


def test_rerun_skips_then_regrades_what_changed(graded_class, tmp_path):
    classroom, baseline, kinds = graded_class
    # A private copy of the assignments, so a check can be changed.
    home = tmp_path / "home"
    for folder in ("assignments", "reference", "student_template"):
        shutil.copytree(ROOT / folder, home / folder)
    shutil.copytree(classroom, tmp_path / "class")
    classroom = tmp_path / "class"
    out = tmp_path / "out"
    shutil.copytree(baseline, out)
    env = cli_env(AUTOGRADER_HOME=str(home))

    started = time.monotonic()
    result = run_cli(grade_command(classroom, out), env=env)
    assert result.returncode == 0, result.stderr
    assert "graded 0 submission(s); skipped 12 already graded" in result.stdout
    assert time.monotonic() - started < 20  # no judge started (a judge alone takes longer)

    (out / "student01.json").unlink()  # a lost report comes back from the gradebook
    with open(classroom / "student00" / "resnet.py", "a") as handle:
        handle.write("# edited after the deadline\n")
    result = run_cli(grade_command(classroom, out), env=env)
    assert result.returncode == 0, result.stderr
    assert "graded 1 submission(s); skipped 11 already graded" in result.stdout
    assert "rewrote 1 missing report(s)" in result.stdout
    assert "no score changed among the 1 regraded" in result.stdout
    assert scores_in(out) == scores_in(baseline)

    # Weigh the identity-block comparison double: the reference keeps 10, the buggy blocks
    # (which fail it) change; the summary names each with the change.
    check = home / "assignments" / "resnet" / "checks" / "hidden" / "test_basic_block.py"
    text = check.read_text()
    marker = ('@pytest.mark.weight(2)\n@pytest.mark.parametrize("mode", ["train", "eval"])\n'
              'def test_identity_block')
    assert text.count(marker) == 1
    check.write_text(text.replace(marker, marker.replace("weight(2)", "weight(4)")))
    result = run_cli(grade_command(classroom, out, "-j", "2"), env=env)
    assert result.returncode == 0, result.stderr
    assert "graded 12 submission(s); skipped 0" in result.stdout
    assert "the grader changed since 12 of them were graded" in result.stdout
    assert "assignment file checks/hidden/test_basic_block.py" in result.stdout
    new, old = scores_in(out), scores_in(baseline)
    changed = sorted(s for s in new if new[s] != old[s])
    assert changed == sorted(s for s, kind in kinds.items() if kind != "reference")
    assert f"scores changed for {len(changed)} submission(s):" in result.stdout
    for student in changed:
        delta = new[student] - old[student]
        line = next(x for x in result.stdout.splitlines() if x.strip().startswith(student + ":"))
        assert f"{old[student]:g} -> {round(new[student], 2):g} of 10" in line
        assert f"({'+' if delta >= 0 else '-'}{round(abs(delta), 2):g}; {TASK} " in line

    one = [*grade_command(classroom / "student03", out), "--regrade"]
    result = run_cli(one, env=env)
    assert "graded 1 submission(s); skipped 0" in result.stdout
    assert "no score changed among the 1 regraded" in result.stdout


def test_stats_against_a_hand_count(graded_class):
    _, out, kinds = graded_class
    result = run_cli([sys.executable, "-m", "autograder", "stats", str(out)])
    assert result.returncode == 0, result.stderr
    text = result.stdout
    # Hand count from the design: 5 correct blocks, 4 without the final ReLU, 3 scaling the skip.
    scores = scores_in(out)
    totals = sorted(scores.values())
    assert totals.count(10.0) == DESIGN["reference"]
    mean = sum(totals) / 12
    median = (totals[5] + totals[6]) / 2
    assert "12 submission(s) graded, out of 10" in text
    assert f"mean {round(mean, 2):g}, median {round(median, 2):g}" in text
    assert f"lowest {min(totals):g}, highest 10" in text
    assert "       9 - 10     " in text and text.split("9 - 10")[1].split("\n")[0].endswith(" 5")
    assert f"4 students: {mutant_bug('no_final_relu')}" in text
    assert f"3 students: {mutant_bug('shortcut_scaled')}" in text
    # Per check: the comparisons fail for every buggy block; the structure checks pass for all.
    with Gradebook(out / "gradebook.sqlite", create=False) as book:
        (stats,) = gradebook_stats(book)
    comparisons = [c for c in stats.checks if "computes what the reference computes" in c.name]
    assert comparisons and all((c.passed, c.total) == (5, 12) for c in comparisons)
    structure = next(c for c in stats.checks if c.name.startswith("The convolutions have no bias"))
    assert (structure.passed, structure.total) == (12, 12)
    rates = [c.rate for c in stats.checks]
    assert rates == sorted(rates)  # hardest first
    lines = [line for line in text.splitlines() if "computes what the reference computes" in line]
    assert lines and all(line.strip().startswith("42%") and line.endswith("(5 of 12)") for line in lines)
    task = stats.tasks[0]
    assert task.name == TASK and task.spread.mean == pytest.approx(mean)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_stats_html_in_headless_chromium(graded_class, tmp_path):
    _, out, _ = graded_class
    page = tmp_path / "stats.html"
    result = run_cli([sys.executable, "-m", "autograder", "stats", str(out), "-f", "html", "-o", str(page)])
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing in CI (scripts/install_browser.sh installs it)")
        pytest.skip("Chromium is not installed (scripts/install_browser.sh)")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
             "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr
    assert 'id="histogram"' in dom.stdout and dom.stdout.count('class="bin"') == 10
    assert dom.stdout.count('class="rate"') > 5
    assert mutant_bug("no_final_relu") in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1000,1200", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20  # text, bars, axes: not a blank page
    blue = sum(count for count, rgb in colours if rgb == (0x3b, 0x6e, 0xa8))
    green = sum(count for count, rgb in colours if rgb == (0x4a, 0x9a, 0x5b))
    assert blue > 500 and green > 500  # the histogram's bars and the pass-rate bars are drawn


def test_csv_and_canvas_exports_parse_back(graded_class, tmp_path):
    _, out, kinds = graded_class
    scores = scores_in(out)
    result = run_cli([sys.executable, "-m", "autograder", "export", "csv", str(out)])
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["student", TASK, "total", "max_score", "status", "graded_at"]
    assert [r["student"] for r in rows] == sorted(kinds)
    assert {r["student"]: float(r["total"]) for r in rows} == scores
    assert all(float(r[TASK]) == float(r["total"]) and r["max_score"] == "10" for r in rows)
    assert all(r["status"] == f"graded (tasks: {TASK})" and r["graded_at"] for r in rows)

    # Canvas wants totals of every task: a -t run is refused, with the reason.
    result = run_cli([sys.executable, "-m", "autograder", "export", "canvas", str(out)])
    assert result.returncode == 1 and "grade -t" in result.stderr
    whole = tmp_path / "whole.sqlite"
    shutil.copy(out / "gradebook.sqlite", whole)
    with sqlite3.connect(whole) as db:  # the same results, as if every task were graded
        db.execute("UPDATE results SET scope=''")
    target = tmp_path / "canvas.csv"
    result = run_cli([sys.executable, "-m", "autograder", "export", "canvas", str(whole), "-o", str(target),
                      "--column", "ResNet (1234)"])
    assert result.returncode == 0, result.stderr
    table = list(csv.reader(target.open()))
    assert table[0] == [*CANVAS_IDENTITY, "ResNet (1234)"]
    assert table[1][0] == "Points Possible" and table[1][5] == "10"
    students = table[2:]
    assert len(students) == 12
    assert {r[0]: float(r[5]) for r in students} == scores
    assert all(r[3] == r[0] for r in students)  # SIS Login ID: the submission id
    assert sum(float(r[5]) for r in students) == pytest.approx(sum(scores.values()))


def test_nbgrader_export_reads_the_gradebook(graded_class, tmp_path):
    from autograder import api

    _, out, kinds = graded_class
    # the class was graded with -t: nbgrader wants whole grades, so the CLI refuses
    result = run_cli([sys.executable, "-m", "autograder", "export", "nbgrader", "--db",
                      str(tmp_path / "refused.db"), str(out / "gradebook.sqlite")])
    assert result.returncode == 1, result.stderr
    assert "12 result(s) cover some tasks only (grade -t)" in result.stderr
    assert "exporting totals to nbgrader" in result.stderr
    assert not (tmp_path / "refused.db").exists()
    whole = tmp_path / "whole.sqlite"
    shutil.copy(out / "gradebook.sqlite", whole)
    with sqlite3.connect(whole) as db:  # the same results, as if every task were graded
        db.execute("UPDATE results SET scope=''")
    export = api.export_nbgrader([whole], tmp_path / "nbgrader.db")
    assert sorted(export.students) == sorted(kinds) and export.created == 12
