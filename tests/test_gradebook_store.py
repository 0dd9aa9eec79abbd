"""The fingerprint and the gradebook file, without grading (quick)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from autograder.errors import UserError
from autograder.gradebook.fingerprint import changed_parts, grader_fingerprint, manifest
from autograder.gradebook.store import SCHEMA_VERSION, Gradebook
from autograder.spec import load_assignment
from tests.classroom import ROOT


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for folder in ("assignments", "reference"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setenv("AUTOGRADER_HOME", str(tmp_path))
    return tmp_path


def test_fingerprint_follows_what_decides_a_score(home):
    spec = load_assignment("resnet")
    base = grader_fingerprint(spec)
    assert grader_fingerprint(spec) == base
    # Caches and bytecode decide nothing.
    (spec.root / "checks" / "hidden" / "__pycache__").mkdir(exist_ok=True)
    (spec.root / "checks" / "hidden" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert grader_fingerprint(spec) == base
    # Known-good and known-bad cases prove the checks fair; they decide no score.
    case = spec.root / "cases" / "good" / "new_style"
    case.mkdir(parents=True)
    (case / "case.toml").write_text('about = "another style"\n')
    assert grader_fingerprint(spec) == base
    assert grader_fingerprint(spec, seed=spec.seed + 1) != base
    assert grader_fingerprint(spec, tasks=["BasicBlock"]) != base
    before = manifest(spec)
    for changed in (spec.root / "mutants.toml", spec.root / "checks" / "hidden" / "test_resnet.py",
                    spec.reference_dir / "resnet.py"):
        original = changed.read_text()
        changed.write_text(original + "\n# changed\n")
        assert grader_fingerprint(spec) != base, changed
        assert len(changed_parts(before, manifest(spec))) == 1
        changed.write_text(original)
    assert grader_fingerprint(spec) == base
    assert {"torch", "python", "autograder", "seed", "tasks"} <= set(before)


def test_gradebook_refuses_what_it_cannot_read(tmp_path):
    with Gradebook(tmp_path / "book.sqlite") as book:
        assert book.results() == []
    with sqlite3.connect(tmp_path / "book.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(UserError, match="upgrade autograder"):
        Gradebook(tmp_path / "book.sqlite")
    with sqlite3.connect(tmp_path / "other.sqlite") as db:
        db.execute("CREATE TABLE students (name TEXT)")
    with pytest.raises(UserError, match="not an autograder gradebook"):
        Gradebook(tmp_path / "other.sqlite")
    (tmp_path / "junk.sqlite").write_text("not a database at all" * 100)
    with pytest.raises(UserError, match="not a gradebook"):
        Gradebook(tmp_path / "junk.sqlite")
    with pytest.raises(UserError, match="no gradebook"):
        Gradebook(tmp_path / "missing.sqlite", create=False)
