"""Known-good and known-bad submissions an assignment carries to prove its checks fair.

Beside an assignment's checks::

    assignments/NAME/cases/good/<case>/   a correct submission in some style: full marks on
                                          every task, or a check is unfair
    assignments/NAME/cases/bad/<case>/    a submission with one bug: the tasks in `lose` lose
                                          points, the others (or those in `keep`) keep them all

A case folder holds the submission files that differ from the reference (any assignment file
it lacks, under every name the assignment accepts for it, is taken from ``reference/NAME/``)
and ``case.toml``::

    about = "one line: what style (or what bug) this is"
    lose = ["SomeTask"]           # bad cases only: tasks that must lose at least one point
    keep = ["OtherTask"]          # optional: tasks that must keep full marks (default: the rest)

``autograder validate`` grades every case with the real judge (see :mod:`autograder.validate`).
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autograder.spec import AssignmentSpec

Kind = Literal["good", "bad"]
KINDS: tuple[Kind, ...] = ("good", "bad")
CASE_FILE = "case.toml"


class CaseSpec(BaseModel):
    """What ``case.toml`` says about its case."""

    model_config = ConfigDict(extra="forbid")

    about: str = Field(min_length=1, description="one line: what style or bug this is")
    lose: list[str] = Field([], description="tasks that must lose at least one point")
    keep: list[str] | None = Field(None, description="tasks that must keep full marks "
                                   "(default: every task not in `lose`)")


@dataclass(frozen=True)
class Case:
    kind: Kind
    name: str
    folder: Path
    spec: CaseSpec

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    def kept(self, tasks: list[str]) -> list[str]:
        """The tasks that must keep full marks, in ``tasks``' order."""
        if self.spec.keep is not None:
            return [t for t in tasks if t in self.spec.keep]
        return [t for t in tasks if t not in self.spec.lose]


class CaseError(ValueError):
    """A case folder that cannot be graded as declared (the message names it)."""


def cases_dir(spec: AssignmentSpec) -> Path:
    return spec.root / "cases"


def _problems(kind: Kind, case: CaseSpec, tasks: list[str]) -> list[str]:
    named = case.lose + (case.keep or [])
    unknown = sorted(set(named) - set(tasks))
    problems = [f"names unknown task(s) {', '.join(unknown)} (known: {', '.join(tasks)})"] \
        if unknown else []
    if kind == "good" and named:
        problems.append("a good case earns full marks on every task: it takes no lose or keep")
    if kind == "bad" and not case.lose:
        problems.append("a bad case names the task(s) it must lose in `lose`")
    if set(case.lose) & set(case.keep or []):
        problems.append("a task cannot be both in lose and in keep")
    return problems


def load_case(spec: AssignmentSpec, kind: Kind, folder: Path) -> Case:
    """One case folder, its ``case.toml`` checked against the assignment's tasks."""
    where = f"{kind} case {folder.name}"
    path = folder / CASE_FILE
    if not path.is_file():
        raise CaseError(f"{where}: no {CASE_FILE} (it says what the case is: about = \"...\")")
    try:
        case = CaseSpec(**tomllib.loads(path.read_text()))
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{where}: {CASE_FILE} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}"
                           for e in exc.errors())
        raise CaseError(f"{where}: {CASE_FILE}: {fields}") from None
    problems = _problems(kind, case, [t.name for t in spec.tasks])
    if problems:
        raise CaseError(f"{where}: {'; '.join(problems)}")
    return Case(kind, folder.name, folder, case)


def case_folders(spec: AssignmentSpec) -> list[tuple[Kind, Path]]:
    """Every case folder of the assignment: good ones first, each kind by name."""
    return [(kind, folder) for kind in KINDS
            for folder in sorted((cases_dir(spec) / kind).glob("*")) if folder.is_dir()]


def case_submission(spec: AssignmentSpec, case: Case, folder: Path) -> Path:
    """Write the case as a whole submission in ``folder``: its own files, and the
    reference's for every assignment file it holds under none of the accepted names."""
    shutil.copytree(case.folder, folder, ignore=shutil.ignore_patterns(CASE_FILE))
    for file in spec.files:
        if not any((folder / name).exists() for name in file.candidates):
            source = spec.reference_dir / file.name
            if source.is_file():
                shutil.copyfile(source, folder / file.name)
    return folder
