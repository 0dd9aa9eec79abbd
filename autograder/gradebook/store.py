"""The gradebook file: SQLite in WAL mode, written by the coordinating process only.

One row per (assignment, submission, scope) holds the latest result: content hash, grader
fingerprint, totals, status, timing and the whole JSON report; ``task_scores`` and
``check_results`` hold the same scores in columns for queries. A submission's result is
written in one transaction, so a killed run leaves whole rows only. ``graders`` keeps each
fingerprint's parts, so a rerun can say what in the grader changed.

The scope is ``""`` for a run of every task, else the graded tasks (``grade -t``) joined by
commas: a partial run never replaces a whole result.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from autograder.errors import UserError
from autograder.report.model import Report

SCHEMA_VERSION = 1
GRADEBOOK_NAME = "gradebook.sqlite"
GRADER_FAILURE = "grader failure"  # the grader could not grade it: never skipped on a rerun

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS graders (
    fingerprint TEXT PRIMARY KEY,
    assignment TEXT NOT NULL,
    parts TEXT NOT NULL,          -- JSON: part name -> hash or value
    first_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    assignment TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    scope TEXT NOT NULL,          -- '' = every task, else the graded tasks, comma-separated
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,         -- 'graded', 'problems' or 'grader failure'
    graded_at TEXT NOT NULL,
    duration REAL NOT NULL,
    report_path TEXT NOT NULL,
    report TEXT NOT NULL,         -- the JSON report, as written to report_path
    UNIQUE (assignment, submission_id, scope)
);
CREATE TABLE IF NOT EXISTS task_scores (
    result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    PRIMARY KEY (result_id, task)
);
CREATE TABLE IF NOT EXISTS check_results (
    result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    check_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    duration REAL NOT NULL,
    PRIMARY KEY (result_id, check_id)
);
"""


def scope_of(tasks: list[str] | None) -> str:
    return ",".join(sorted(tasks)) if tasks else ""


def result_status(report: Report) -> str:
    if any(p.startswith("the grader failed") for p in report.problems):
        return GRADER_FAILURE
    return "problems" if report.problems else "graded"


@dataclass(frozen=True)
class Result:
    """One row of ``results``."""

    assignment: str
    submission_id: str
    scope: str
    path: str
    content_hash: str
    fingerprint: str
    score: float
    max_score: float
    status: str
    graded_at: str
    duration: float
    report_path: str
    report_json: str

    @property
    def report(self) -> Report:
        return Report.model_validate_json(self.report_json)

    def task_scores(self) -> dict[str, float]:
        return {t.name: t.score for t in self.report.tasks}


_COLUMNS = ("assignment, submission_id, scope, path, content_hash, fingerprint, score, max_score, "
            "status, graded_at, duration, report_path, report")


def default_location(output: Path) -> Path:
    """``OUT/gradebook.sqlite``; beside the file when ``output`` is one report file."""
    output = Path(output)
    folder = output.parent if output.suffix == ".json" and not output.is_dir() else output
    return folder / GRADEBOOK_NAME


def find_gradebook(path: Path) -> Path:
    """The gradebook at ``path``: the file itself, or ``gradebook.sqlite`` in that folder."""
    path = Path(path)
    candidate = path / GRADEBOOK_NAME if path.is_dir() else path
    if not candidate.is_file():
        raise UserError(f"no gradebook at {path} (grade writes OUT/{GRADEBOOK_NAME})")
    return candidate


class Gradebook:
    """An open gradebook. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise UserError(f"no gradebook at {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at each checkpoint
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{self.path} is not a gradebook this version can read: {exc}") from None

    def _migrate(self) -> None:
        row = None
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" in tables:
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        elif tables:
            raise UserError(f"{self.path} is an SQLite file but not an autograder gradebook")
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise UserError(f"{self.path} has gradebook schema {row[0]}; this autograder reads "
                            f"up to {SCHEMA_VERSION}: upgrade autograder")
        self.db.executescript(_SCHEMA)  # idempotent: every statement is IF NOT EXISTS
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                            (str(SCHEMA_VERSION),))

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def remember_grader(self, assignment: str, fingerprint: str, parts: dict[str, str]) -> None:
        with self._transaction():
            self.db.execute("INSERT OR IGNORE INTO graders VALUES (?, ?, ?, ?)",
                            (fingerprint, assignment, json.dumps(parts, sort_keys=True),
                             datetime.now(UTC).isoformat(timespec="seconds")))

    def grader_parts(self, fingerprint: str) -> dict[str, str] | None:
        row = self.db.execute("SELECT parts FROM graders WHERE fingerprint=?", (fingerprint,)).fetchone()
        return json.loads(row[0]) if row else None

    def record(self, report: Report, content_hash: str, fingerprint: str, scope: str,
               report_path: Path, path: str | None = None) -> None:
        """Store one graded submission (replacing its earlier result), in one transaction."""
        text = report.model_dump_json(indent=2)
        with self._transaction():
            self.db.execute(
                "DELETE FROM results WHERE assignment=? AND submission_id=? AND scope=?",
                (report.assignment, report.submission.id, scope))
            cursor = self.db.execute(
                f"INSERT INTO results ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (report.assignment, report.submission.id, scope, path or report.submission.path,
                 content_hash, fingerprint, report.score, report.max_score, result_status(report),
                 report.timing.started_at.isoformat(timespec="seconds"), report.timing.duration,
                 self._stored_path(report_path), text))
            row_id = cursor.lastrowid
            self.db.executemany("INSERT INTO task_scores VALUES (?, ?, ?, ?)",
                                [(row_id, t.name, t.score, t.max_score) for t in report.tasks])
            self.db.executemany(
                "INSERT OR REPLACE INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(row_id, task.name, test.check_id or test.name, test.name, test.status, test.score,
                  test.max_score, test.duration) for task in report.tasks for test in task.tests])

    def _stored_path(self, path: Path) -> str:
        """Relative to the gradebook's folder when inside it: the folder can be moved."""
        path, folder = Path(path).resolve(), self.path.resolve().parent
        return str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)

    def report_location(self, result: Result) -> Path:
        return self.path.parent / result.report_path  # an absolute path stays as it is

    def results(self, assignment: str | None = None, scope: str | None = None) -> list[Result]:
        query = f"SELECT {_COLUMNS} FROM results"
        where, args = [], []
        if assignment is not None:
            where.append("assignment=?")
            args.append(assignment)
        if scope is not None:
            where.append("scope=?")
            args.append(scope)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY assignment, submission_id, scope"
        return [Result(*row) for row in self.db.execute(query, args)]

    def result(self, assignment: str, submission_id: str, scope: str) -> Result | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM results WHERE assignment=? AND submission_id=? AND scope=?",
            (assignment, submission_id, scope)).fetchone()
        return Result(*row) if row else None

    def assignments(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT assignment FROM results ORDER BY 1")]


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception (Ctrl-C included)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")


def latest_results(book: Gradebook, assignment: str | None = None) -> Iterator[Result]:
    """One result per submission: the whole one when there is one, else a partial one."""
    chosen: dict[tuple[str, str], Result] = {}
    for result in book.results(assignment):
        key = (result.assignment, result.submission_id)
        if key not in chosen or result.scope == "":
            chosen[key] = result
    yield from chosen.values()
