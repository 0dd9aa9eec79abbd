"""Turn what a student handed in (a folder or a zip) into a clean scratch copy.

The scratch folder is all a worker ever sees: the assignment's files and plain helper
modules, never a ``conftest.py``, package ``__init__.py``, ``sitecustomize.py`` or cached
bytecode. Problems with the files become messages in the report, never exceptions.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.errors import UserError
from autograder.notebooks import MAX_NOTEBOOK_BYTES, check_notebook
from autograder.spec import AssignmentSpec

MAX_FILE_BYTES = 1024 * 1024
MAX_ZIP_BYTES = 64 * 1024 * 1024
MAX_ZIP_MEMBERS = 2000
IGNORED_NAMES = {"conftest.py", "__init__.py", "sitecustomize.py", "usercustomize.py"}
IGNORED_DIRS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints"}


@dataclass
class Submission:
    id: str
    source: Path
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    file_problems: dict[str, str] = field(default_factory=dict)
    # declared file name -> the name actually graded (an alternative such as lab.py for lab.ipynb)
    chosen: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    content_hash: str = ""


def submission_id(path: Path) -> str:
    name = path.stem if path.suffix.lower() == ".zip" else path.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "submission"


def ingest(path: Path, spec: AssignmentSpec, scratch: Path) -> Submission:
    """Copy the gradable part of ``path`` into the empty folder ``scratch``."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"submission path does not exist: {path}")
    submission = Submission(id=submission_id(path), source=path, folder=scratch)
    staging = scratch.parent / (scratch.name + "-staging")
    staging.mkdir(parents=True, exist_ok=True)
    try:
        if path.is_dir():
            root = path
        elif zipfile.is_zipfile(path):
            _extract_zip(path, staging, submission.problems)
            root = staging
        elif path.name in spec.accepted_names:
            root = staging
            shutil.copyfile(path, staging / path.name)
        else:
            submission.problems.append(
                f"{path.name} is neither a folder, a zip file nor one of the assignment's files")
            root = staging
        root = _find_root(root, spec)
        _collect(root, spec, submission)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not any(scratch.iterdir()) and not submission.problems:
        if not any(p.is_file() for p in (path.rglob("*") if path.is_dir() else [path])):
            submission.problems.append("the submission is empty")
            return submission
        wanted = " and ".join(" or ".join(f.candidates) for f in spec.files)
        submission.problems.append(f"the submission holds no file of assignment {spec.name} "
                                   f"(it needs {wanted})")
    return submission


def _extract_zip(path: Path, staging: Path, problems: list[str]) -> None:
    try:
        archive = zipfile.ZipFile(path)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        problems.append(f"{path.name} could not be read as a zip file: {exc}")
        return
    if len(members) > MAX_ZIP_MEMBERS:
        problems.append(f"{path.name} holds {len(members)} entries; at most "
                        f"{MAX_ZIP_MEMBERS} are read")
        members = members[:MAX_ZIP_MEMBERS]
    total = 0
    with archive:
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            if member.is_dir():
                continue
            is_link = stat.S_ISLNK(member.external_attr >> 16)
            if name.is_absolute() or ".." in name.parts or is_link:
                problems.append(f"skipped '{member.filename}' from the zip: its path leads outside "
                                "the submission folder")
                continue
            total += member.file_size
            if member.file_size > _size_limit(name.name) or total > MAX_ZIP_BYTES:
                problems.append(f"skipped '{member.filename}' from the zip: it is too large")
                continue
            target = staging.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(member) as source, open(target, "wb") as out:
                    limit = _size_limit(name.name)
                    out.write(source.read(limit + 1)[:limit])
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                problems.append(f"skipped '{member.filename}' from the zip: {exc}")


def _find_root(root: Path, spec: AssignmentSpec) -> Path:
    """The folder holding the assignment's files: the top, or one folder below it."""
    wanted = spec.accepted_names
    best, best_count = root, len(wanted & {p.name for p in root.iterdir()})
    if best_count == 0:
        for sub in sorted(p for p in root.rglob("*") if p.is_dir()):
            if IGNORED_DIRS & set(sub.relative_to(root).parts) or len(sub.relative_to(root).parts) > 3:
                continue
            count = len(wanted & {p.name for p in sub.iterdir()})
            if count > best_count:
                best, best_count = sub, count
    return best


def _collect(root: Path, spec: AssignmentSpec, submission: Submission) -> None:
    present = {p.name: p for p in root.iterdir() if p.is_file() and not p.is_symlink()}
    declared = spec.accepted_names
    digest = hashlib.sha256()
    for file_spec in spec.files:
        found = [n for n in file_spec.candidates if n in present]
        if not found:
            submission.file_problems[file_spec.name] = _missing_message(
                file_spec.name, list(present), declared, file_spec.alternatives)
            continue
        name = found[0]
        if len(found) > 1:
            submission.problems.append(f"both {' and '.join(found)} were submitted; "
                                       f"{name} was graded")
        submission.chosen[file_spec.name] = name
        with open(present[name], "rb") as handle:  # a file over the limit is not read whole
            data = handle.read(_size_limit(name) + 1)
        if len(data) > MAX_FILE_BYTES and not name.endswith(".ipynb"):  # notebooks: below
            submission.file_problems[file_spec.name] = (
                f"{name} is larger than {MAX_FILE_BYTES // 1024} KiB")
            continue
        problem = _text_problem(name, data)
        graded = data
        if name.endswith(".ipynb"):
            problem, graded = check_notebook(name, data)
        if problem:
            submission.file_problems[file_spec.name] = problem
            continue
        (submission.folder / name).write_bytes(graded)
        submission.files[name] = submission.folder / name
        digest.update(name.encode() + b"\0" + data + b"\0")
    for name, source in sorted(present.items()):
        if (name.endswith(".py") and name not in declared and name not in IGNORED_NAMES
                and source.stat().st_size <= MAX_FILE_BYTES):
            shutil.copyfile(source, submission.folder / name)
    submission.content_hash = digest.hexdigest()


def _missing_message(name: str, present: list[str], declared: set[str],
                     alternatives: list[str] | None = None) -> str:
    candidates = [p for p in present if p not in declared]
    close = [p for p in candidates if p.lower() == name.lower()]
    close += difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    for alternative in alternatives or []:
        close += [p for p in candidates if p.lower() == alternative.lower()]
        close += difflib.get_close_matches(alternative, candidates, n=1, cutoff=0.75)
    wanted = " or ".join([name, *(alternatives or [])])
    hint = f" (found {close[0]}: rename it to {wanted})" if close else ""
    return f"{wanted} is missing from the submission{hint}"


def _size_limit(name: str) -> int:
    """Notebooks may carry saved outputs; plain source files are small."""
    return MAX_NOTEBOOK_BYTES if name.endswith(".ipynb") else MAX_FILE_BYTES


def _text_problem(name: str, data: bytes) -> str | None:
    if not name.endswith(".py"):
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
                f"{exc.start}): save it with UTF-8 encoding")
    return None


def _looks_like_submission(folder: Path, spec: AssignmentSpec) -> bool:
    names = {p.name for p in folder.iterdir()}
    return bool(names & spec.accepted_names) or any(
        p.suffix in (".py", ".ipynb") and p.is_file() for p in folder.iterdir())


def expand_submissions(paths: list[Path], spec: AssignmentSpec) -> list[Path]:
    """Each path is a submission (folder, zip, file) or a folder of submissions."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise UserError(f"submission path does not exist: {path}")
        if path.is_dir() and not _looks_like_submission(path, spec):
            children = sorted(p for p in path.iterdir() if not p.name.startswith(".")
                              and (p.is_dir() or p.suffix.lower() == ".zip"))
            found.extend(children or [path])
        else:
            found.append(path)
    return found
