"""What `grade` is given, as the instructor downloaded it: one entry per submission.

A path is one submission (a folder, a zip, one of the assignment's files) or a class:
- a folder of folders or zips, one per student (GitHub Classroom's ``gh classroom clone``
  gives ``<assignment>-<handle>`` folders, each a git repository);
- Canvas's "Download Submissions": flat files ``name_userid_submissionid_originalname``
  (``name_late_userid_...`` when late; ``originalname`` gets ``-N`` before its extension when
  a student resubmits a file of the same name);
- a Gradescope "Export Submissions" folder: ``submission_metadata.yml`` and one
  ``submission_<id>`` folder per submission.

Each entry says who submitted (a roster student when one matches) and when: the LMS's
timestamp, the commit time for git repositories, or the newest file time when nothing better
is known. Two entries under one id are an error naming both: grades are never merged silently.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import yaml

from autograder.errors import UserError
from autograder.ingest import submission_id
from autograder.report.model import Report
from autograder.roster import Roster, Student
from autograder.spec import AssignmentSpec, assignment_names, load_assignment

CANVAS_NAME = re.compile(r"^(?P<name>[^_]+)(?P<late>_late)?_(?P<user>\d+)_(?P<submission>\d+)_"
                         r"(?P<original>.+)$")
CANVAS_RESUBMISSION = re.compile(r"^(?P<stem>.+)-(?P<number>\d+)(?P<suffix>\.[^.]+)$")
GRADESCOPE_METADATA = "submission_metadata.yml"


@dataclass
class Entry:
    """One submission to grade."""

    path: Path  # what is graded: a folder, a zip or a file (perhaps a staged copy)
    source: str  # where it came from, as the user gave it
    key: str  # the report's submission id (the student id when the roster knows the student)
    student: Student | None = None
    name: str = ""  # a display name, from the roster or the LMS
    submitted_at: datetime | None = None
    time_source: str = ""  # "lms", "git" or "file"
    layout: str = "folder"  # "folder", "canvas", "gradescope", "github-classroom", "single"


def looks_like_submission(folder: Path, spec: AssignmentSpec) -> bool:
    """A folder that holds the assignment's files (or code) rather than submissions."""
    names = {p.name for p in folder.iterdir()}
    return bool(names & spec.accepted_names) or any(
        p.suffix in (".py", ".ipynb") and p.is_file() and not CANVAS_NAME.match(p.name)
        for p in folder.iterdir())


def _file_time(path: Path) -> datetime:
    if path.is_dir():
        times = [p.stat().st_mtime for p in path.rglob("*")
                 if p.is_file() and ".git" not in p.relative_to(path).parts]
        stamp = max(times, default=path.stat().st_mtime)
    else:
        stamp = path.stat().st_mtime
    return datetime.fromtimestamp(stamp, UTC)


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                            timeout=60)
    return result.stdout.strip() if result.returncode == 0 else ""


class ClassList:
    """The entries of every given path; staged copies live until :meth:`close`."""

    def __init__(self, spec: AssignmentSpec, roster: Roster | None = None,
                 accept_until: datetime | None = None) -> None:
        self.spec = spec
        self.roster = roster
        # git repositories are graded at their last commit at or before this time
        self.accept_until = accept_until
        self.entries: list[Entry] = []
        self._staging: Path | None = None

    def __enter__(self) -> ClassList:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def stage(self, name: str) -> Path:
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="autograder-class-"))
        folder = self._staging / str(len(list(self._staging.iterdir()))) / name
        folder.mkdir(parents=True)
        return folder

    # -- reading paths -------------------------------------------------------------------

    def add(self, path: Path) -> None:
        path = Path(path)
        if not path.exists():
            raise UserError(f"submission path does not exist: {path}")
        if path.is_dir() and (path / GRADESCOPE_METADATA).is_file():
            self._add_gradescope(path)
        elif path.is_dir() and not looks_like_submission(path, self.spec):
            self._add_class_folder(path)
        elif (path.is_file() and path.name not in self.spec.accepted_names
              and not zipfile.is_zipfile(path)):
            raise UserError(f"{path} is not a submission: neither a folder, a zip nor one of "
                            f"{', '.join(sorted(self.spec.accepted_names))}")
        else:
            self._add_one(path, submission_id(path), layout="single")

    def _add_one(self, path: Path, label: str, layout: str) -> None:
        student = self.roster.find_label(label) if self.roster else None
        self.entries.append(Entry(path=path, source=str(path), key=label, student=student,
                                  submitted_at=_file_time(path), time_source="file",
                                  layout=layout))

    def _add_class_folder(self, folder: Path) -> None:
        children = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        canvas = [p for p in children if p.is_file() and CANVAS_NAME.match(p.name)]
        if canvas:
            self._add_canvas(canvas)
        subs = [p for p in children if p.is_dir() or p.suffix.lower() == ".zip"]
        subs = [p for p in subs if p not in canvas]
        repos = [p for p in subs if (p / ".git").exists()]
        prefix = _common_dash_prefix([p.name for p in repos]) if len(repos) == len(subs) else ""
        for child in subs:
            if child in repos:
                self._add_repository(child, prefix)
            else:
                self._add_one(child, submission_id(child), layout="folder")

    def _add_repository(self, repo: Path, prefix: str) -> None:
        """A GitHub Classroom clone ``<assignment>-<handle>``, graded at its last accepted commit."""
        handle = repo.name[len(prefix):] if prefix else repo.name
        student = None
        if self.roster:
            student = self.roster.find_handle_suffix(repo.name) or self.roster.find_label(handle)
        commit = "HEAD"
        if self.accept_until is not None:
            commit = _git(repo, "rev-list", "-1", f"--before={self.accept_until.isoformat()}",
                          "HEAD") or "HEAD"
        when = _git(repo, "log", "-1", "--format=%cI", commit)
        path = repo
        if commit != "HEAD" and commit != _git(repo, "rev-parse", "HEAD"):
            path = self._export_commit(repo, commit, submission_id(repo))
        self.entries.append(Entry(
            path=path, source=f"{repo}@{commit[:12]}" if commit != "HEAD" else str(repo),
            key=submission_id(Path(handle)), student=student,
            submitted_at=datetime.fromisoformat(when) if when else _file_time(repo),
            time_source="git" if when else "file", layout="github-classroom"))

    def _export_commit(self, repo: Path, commit: str, name: str) -> Path:
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit],
                                 capture_output=True, timeout=120)
        target = self.stage(name)
        if archive.returncode == 0:
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(target, filter="data")
        return target

    def _add_canvas(self, files: list[Path]) -> None:
        by_user: dict[str, list[tuple[Path, re.Match[str]]]] = {}
        for path in files:
            match = CANVAS_NAME.match(path.name)
            assert match is not None
            by_user.setdefault(match["user"], []).append((path, match))
        for user, members in by_user.items():
            first = members[0][1]
            student = (self.roster.find(lms_id=user, name=first["name"]) if self.roster else None)
            originals: dict[str, tuple[int, Path]] = {}
            for path, match in members:
                name, number = self._canvas_original(match["original"])
                if name not in originals or number > originals[name][0]:
                    originals[name] = (number, path)
            sources = [path for _, path in originals.values()]
            if len(sources) == 1 and sources[0].suffix.lower() == ".zip":
                graded = sources[0]
            else:
                graded = self.stage(first["name"])
                for name, (_, path) in originals.items():
                    shutil.copy2(path, graded / name)
            self.entries.append(Entry(
                path=graded, source=", ".join(str(p) for p in sorted(sources)),
                key=f"{first['name']}_{user}", student=student,
                submitted_at=max(_file_time(p) for p in sources), time_source="file",
                layout="canvas"))

    def _canvas_original(self, original: str) -> tuple[str, int]:
        """Canvas adds ``-N`` to a file submitted again under the same name: model-1.py."""
        match = CANVAS_RESUBMISSION.match(original)
        if match:
            plain = match["stem"] + match["suffix"]
            if plain in self.spec.accepted_names or match["suffix"].lower() == ".zip":
                return plain, int(match["number"])
        return original, 0

    def _add_gradescope(self, folder: Path) -> None:
        try:
            metadata = yaml.safe_load((folder / GRADESCOPE_METADATA).read_text()) or {}
        except (yaml.YAMLError, OSError) as exc:
            raise UserError(f"cannot read {folder / GRADESCOPE_METADATA}: {exc}") from None
        if not isinstance(metadata, dict):
            raise UserError(f"{folder / GRADESCOPE_METADATA} is not a Gradescope export")
        for key, info in sorted(metadata.items()):
            path = folder / str(key)
            if not path.is_dir() or not isinstance(info, dict):
                continue
            submitters = info.get(":submitters") or [{}]
            first = submitters[0] if isinstance(submitters[0], dict) else {}
            sid, email = str(first.get(":sid") or ""), str(first.get(":email") or "")
            name = str(first.get(":name") or "")
            student = (self.roster.find(student_id=sid, email=email, name=name)
                       if self.roster else None)
            when = _timestamp(info.get(":created_at"))
            label = sid or (email.split("@")[0] if email else str(key))
            self.entries.append(Entry(
                path=path, source=str(path), key=submission_id(Path(label)), student=student,
                name=name, submitted_at=when or _file_time(path),
                time_source="lms" if when else "file", layout="gradescope"))

    # -- identity ------------------------------------------------------------------------

    def resolve(self) -> list[Entry]:
        """Entries keyed by student id where the roster knows the student; an error when two
        entries end up under one id."""
        for entry in self.entries:
            if entry.student is not None:
                entry.key = entry.student.student_id
                entry.name = entry.student.name or entry.name
        by_key: dict[str, Entry] = {}
        for entry in self.entries:
            if entry.key in by_key:
                raise UserError(
                    f"two submissions would be graded as '{entry.key}': "
                    f"{by_key[entry.key].source} and {entry.source}; rename one, or pass a "
                    "--roster that tells them apart")
            by_key[entry.key] = entry
        return self.entries


def _common_dash_prefix(names: list[str]) -> str:
    """GitHub Classroom names repositories ``<assignment>-<handle>``: the shared part."""
    if len(names) < 2:
        return ""
    first, last = min(names), max(names)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[: first.rfind("-", 0, size) + 1] if "-" in first[:size] else ""


def _timestamp(value: object) -> datetime | None:
    """Gradescope's ``:created_at:`` (YAML may have read it as a datetime already)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())  # nanoseconds -> microseconds
    text = re.sub(r" ([+-]\d{2}):?(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def file_names(path: Path, depth: int = 4) -> set[str]:
    """The file names a submission holds (in its folders down to ``depth``, or in its zip)."""
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return {PurePosixPath(n).name for n in archive.namelist()[:2000]}
        except (zipfile.BadZipFile, OSError):
            return set()
    if path.is_file():
        return {path.name}
    found: set[str] = set()
    for child in path.rglob("*"):
        relative = child.relative_to(path).parts
        if len(relative) <= depth and ".git" not in relative and child.is_file():
            found.add(child.name)
    return found


def collect(paths: list[Path], spec: AssignmentSpec, roster: Roster | None = None,
            accept_until: datetime | None = None) -> ClassList:
    """Every submission in ``paths``, resolved to unique ids (close the result when done)."""
    classlist = ClassList(spec, roster, accept_until)
    try:
        for path in paths:
            classlist.add(path)
        classlist.resolve()
    except BaseException:
        classlist.close()
        raise
    return classlist


def collect_submissions(paths: list[Path], spec: AssignmentSpec, roster: Roster | None = None,
                        deadline: datetime | None = None) -> ClassList:
    """Every submission in ``paths`` (one, a folder of them, a Canvas, GitHub Classroom or
    Gradescope download), each with its student and submission time; close it when done
    (it may hold staged copies). With ``deadline``, a git repository is graded at its last
    commit the late policy still accepts. Nothing to grade, or only another assignment's
    files, is an error."""
    accept_until = None
    if deadline is not None:
        late = spec.late
        accept_until = deadline + timedelta(minutes=late.grace_minutes)
        if late.accept_days is None and late.percent_per_day > 0:
            accept_until = None  # late work always accepted: the newest commit
        elif late.accept_days is not None:
            accept_until += timedelta(days=late.accept_days)
    classlist = collect(paths, spec, roster, accept_until)
    where = ", ".join(map(str, paths))
    try:
        if not classlist.entries:
            names = ", ".join(sorted(spec.accepted_names))
            raise UserError(f"no submission found in {where}: no folder, zip or file of "
                            f"assignment {spec.name} ({names})")
        held = set().union(*(file_names(e.path) for e in classlist.entries))
        if not held:
            raise UserError(f"nothing to grade: {where} holds no file")
        if not held & spec.accepted_names:
            for name in assignment_names():
                other = load_assignment(name)
                if other.name != spec.name and held & other.accepted_names:
                    raise UserError(f"{where} holds {', '.join(sorted(held & other.accepted_names))}"
                                    f", the files of assignment {other.name}, not of {spec.name}: "
                                    f"pass -a {other.name}")
    except UserError:
        classlist.close()
        raise
    return classlist


def identify(report: Report, entry: Entry, spec: AssignmentSpec,
             deadline: datetime | None = None) -> Report:
    """The report under the entry's identity (its id, student, source, submission time), with
    the late policy applied when there is a deadline."""
    from autograder.late import apply_late_policy

    report.submission.id = entry.key
    report.submission.path = entry.source
    report.submission.student_id = entry.student.student_id if entry.student else None
    report.submission.name = entry.name
    report.submission.submitted_at = entry.submitted_at
    report.submission.submitted_at_source = entry.time_source  # type: ignore[assignment]
    if deadline is not None:
        apply_late_policy(report, spec.late, deadline)
    return report
