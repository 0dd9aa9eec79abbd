"""The assignment file (``assignments/<name>/assignment.toml``) and where things live."""

from __future__ import annotations

import importlib.util
import os
import re
import sysconfig
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from autograder.errors import UserError
from autograder.sandbox import DEFAULT_PRELOAD
from autograder.sandbox.limits import Limits

Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]

_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def project_root() -> Path:
    """Where ``assignments/``, ``reference/`` and ``student_template/`` live."""
    return Path(os.environ.get("AUTOGRADER_HOME") or Path(__file__).resolve().parents[1])


class FileSpec(BaseModel):
    name: str = Field(description="file name in the submission, e.g. model.py")
    module: str = Field(description="module name the student's code is imported as")
    alternatives: list[str] = Field(
        [], description="other names a submission may use for the same code instead, e.g. "
        "lab.py for lab.ipynb; the first name present is graded")

    @property
    def candidates(self) -> list[str]:
        """The accepted file names, in order of preference."""
        return [self.name, *self.alternatives]


class TaskSpec(BaseModel):
    name: str
    points: float = Field(gt=0)
    hidden_weight: float | None = Field(
        None, ge=0, description="total weight of the task's hidden checks: never typed by hand, "
        "written into a copy of the grader without them (what students get, see "
        "autograder.packaging) so it still scores public checks at their true share; grading "
        "with the hidden checks present computes it from them")
    file: str = Field(description="the submission file this task grades")
    description: str = ""


class LateSpec(BaseModel):
    """How late work loses points, counted from ``grade --deadline``."""

    percent_per_day: float = Field(0, ge=0, le=100, description="percent of the score lost per "
                                   "day late (a started day counts as a day)")
    grace_minutes: float = Field(0, ge=0, description="minutes after the deadline still on time")
    cap_percent: float = Field(100, ge=0, le=100, description="the most a late penalty takes, "
                               "in percent of the score")
    accept_days: float | None = Field(None, ge=0, description="days after the deadline (and "
                                      "grace) after which work earns nothing; none: no limit")


class AssignmentSpec(BaseModel):
    name: str
    title: str = ""
    seed: int = 0
    files: list[FileSpec]
    tasks: list[TaskSpec]
    limits: Limits = Limits()
    hidden_visibility: Visibility = "after_published"
    late: LateSpec = LateSpec()
    aliases: dict[str, dict[str, str]] = Field(
        {}, description="other spellings of a symbol's keyword parameters, as "
        "{symbol: {alias: parameter}} (e.g. Layer: units -> out_features): the reference "
        "and every variant a student's test runs against accept them too, so a test written "
        "with either spelling earns the same")
    preload: list[str] = Field(
        list(DEFAULT_PRELOAD), description="installed modules the sandbox's zygote imports before it "
        "forks workers, so that no worker imports them itself (torch and the worker's own code "
        "always are): what student code and support.py import beyond torch. Each import costs "
        "every run's start-up once; a module left out costs each worker that imports it")
    root: Path = Field(Path("."), exclude=True)

    @model_validator(mode="after")
    def _tasks_name_known_files(self) -> AssignmentSpec:
        known = {f.name for f in self.files}
        for task in self.tasks:
            if task.file not in known:
                raise ValueError(f"task {task.name} grades {task.file}, which is not in files")
        return self

    @model_validator(mode="after")
    def _aliases_differ(self) -> AssignmentSpec:
        for symbol, names in self.aliases.items():
            same = [alias for alias, parameter in names.items() if alias == parameter]
            if same:
                raise ValueError(f"aliases of {symbol}: {same[0]} is an alias of itself")
        return self

    @model_validator(mode="after")
    def _preload_is_installed_code(self) -> AssignmentSpec:
        for name in self.preload:
            if not _MODULE_NAME.fullmatch(name):
                raise ValueError(f"preload: {name!r} is not a module name")
            if not _installed(name.split(".")[0]):
                raise ValueError(
                    f"preload: {name} is not an installed package (site-packages or the standard "
                    "library); the zygote must never import a reference, a check or other "
                    "project code, since every worker is forked from it")
        return self

    @property
    def checks_dir(self) -> Path:
        return self.root / "checks"

    @property
    def support_file(self) -> Path | None:
        """The assignment's public worker code (``support.py``), if it has one."""
        path = self.root / "support.py"
        return path.resolve() if path.is_file() else None

    @property
    def reference_dir(self) -> Path:
        return project_root() / "reference" / self.name

    @property
    def template_dir(self) -> Path:
        return project_root() / "student_template" / self.name

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tasks)

    @property
    def accepted_names(self) -> set[str]:
        """Every file name a submission may hold for the assignment's files."""
        return {name for f in self.files for name in f.candidates}

    def file(self, name: str) -> FileSpec:
        return next(f for f in self.files if f.name == name)

    def only(self, tasks: list[str] | None) -> AssignmentSpec:
        """This assignment restricted to ``tasks`` (all of them when None or empty)."""
        if not tasks:
            return self
        unknown = set(tasks) - {t.name for t in self.tasks}
        if unknown:
            known = ", ".join(t.name for t in self.tasks)
            raise UserError(f"unknown task {', '.join(sorted(unknown))} (known: {known})")
        return self.model_copy(update={"tasks": [t for t in self.tasks if t.name in tasks]})

    def task(self, name: str) -> TaskSpec:
        return next(t for t in self.tasks if t.name == name)


def _installed(package: str) -> bool:
    """Whether top-level ``package`` is found in site-packages or the standard library (its
    spec is found without importing it)."""
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    if found is None:
        return False
    where = [found.origin] if found.origin not in (None, "built-in", "frozen") else []
    where += list(found.submodule_search_locations or [])
    if not where:
        return found.origin in ("built-in", "frozen")
    roots = {str(Path(sysconfig.get_paths()[key]).resolve())
             for key in ("purelib", "platlib", "stdlib", "platstdlib")}
    return all(any(str(Path(w).resolve()).startswith(root + os.sep) for root in roots)
               for w in where)


def assignment_names() -> list[str]:
    folder = project_root() / "assignments"
    return sorted(p.parent.name for p in folder.glob("*/assignment.toml"))


def load_assignment(name: str) -> AssignmentSpec:
    path = project_root() / "assignments" / name / "assignment.toml"
    if not path.is_file():
        known = ", ".join(assignment_names()) or "none"
        raise UserError(f"unknown assignment '{name}' (known: {known})")
    try:
        data = tomllib.loads(path.read_text())
        return AssignmentSpec(**data, root=path.parent)
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise UserError(f"{path} is not a valid assignment file: {exc}") from None


def detect_assignment(folder: Path) -> str:
    """The one assignment whose files ``folder`` holds (read before any grading starts)."""
    folder = Path(folder)
    matches = [name for name in assignment_names()
               if any((folder / accepted).exists() for accepted in load_assignment(name).accepted_names)]
    if len(matches) != 1:
        known = ", ".join(assignment_names())
        raise UserError(f"cannot tell which assignment {folder} holds; pass --assignment "
                        f"(known: {known})")
    return matches[0]
