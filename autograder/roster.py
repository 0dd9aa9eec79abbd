"""The class roster: who the students are, so a submission is graded under a student id.

``--roster roster.csv`` has a header row and one row per student: a student id (``student_id``,
or ``id``, ``sid``) and any of ``name``, ``email``, ``github`` (the GitHub handle; also
``github_username``, ``login``) and ``lms_id`` (the Canvas user id; also ``canvas_id``,
``user_id``). A submission is matched by whatever its download carries: the LMS id and name
from a Canvas file name, the handle from a GitHub Classroom folder, the sid and email from a
Gradescope export, or a folder named by any of them.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import UserError

COLUMNS = {
    "student_id": ("student_id", "id", "sid", "studentid"),
    "name": ("name", "full_name", "student_name"),
    "email": ("email", "e_mail", "mail"),
    "github": ("github", "github_username", "github_handle", "login", "handle"),
    "lms_id": ("lms_id", "canvas_id", "user_id", "canvas_user_id"),
}


@dataclass(frozen=True)
class Student:
    student_id: str
    name: str = ""
    email: str = ""
    github: str = ""
    lms_id: str = ""


def normalise(text: str) -> str:
    """Lower case, letters and digits only: 'Jane Doe', 'jane_doe' and 'janedoe' agree."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _header(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


class Roster:
    def __init__(self, students: list[Student]) -> None:
        self.students = students
        self._by: dict[str, dict[str, Student]] = {field: {} for field in COLUMNS}
        for student in students:
            for field in COLUMNS:
                value = getattr(student, field)
                if value:
                    key = value.lower() if field in ("email", "github") else value
                    self._by[field][key if field != "name" else normalise(value)] = student

    @classmethod
    def load(cls, path: Path) -> Roster:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"roster file does not exist: {path}")
        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
                fields = {_header(f): f for f in (rows[0].keys() if rows else [])}
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise UserError(f"cannot read the roster {path}: {exc}") from None
        found = {field: next((fields[a] for a in aliases if a in fields), None)
                 for field, aliases in COLUMNS.items()}
        if found["student_id"] is None:
            raise UserError(f"the roster {path} has no student id column (student_id, id or "
                            f"sid); its columns: {', '.join(fields.values()) or 'none'}")
        students, seen = [], set()
        for number, row in enumerate(rows, start=2):
            values = {field: (row.get(column) or "").strip() if column else ""
                      for field, column in found.items()}
            if not values["student_id"]:
                raise UserError(f"the roster {path} has no student id on line {number}")
            if values["student_id"] in seen:
                raise UserError(f"the roster {path} lists student id {values['student_id']} "
                                f"twice (line {number})")
            seen.add(values["student_id"])
            students.append(Student(**values))
        return cls(students)

    def find(self, *, student_id: str = "", lms_id: str = "", github: str = "", email: str = "",
             name: str = "") -> Student | None:
        """The student these facts name, tried from the most to the least specific."""
        for field, value in (("student_id", student_id), ("lms_id", lms_id),
                             ("github", github.lower()), ("email", email.lower()),
                             ("name", normalise(name))):
            if value and value in self._by[field]:
                return self._by[field][value]
        return None

    def find_label(self, label: str) -> Student | None:
        """A folder or file named after a student: id, handle, email, email's local part or name."""
        found = self.find(student_id=label, github=label, email=label, name=label)
        if found is None:
            by_local = {s.email.split("@")[0].lower(): s for s in self.students if s.email}
            found = by_local.get(label.lower())
        return found

    def find_handle_suffix(self, folder_name: str) -> Student | None:
        """GitHub Classroom's ``<assignment>-<handle>``: the longest handle it ends with."""
        lowered = folder_name.lower()
        handles = sorted((s for s in self.students if s.github), key=lambda s: -len(s.github))
        return next((s for s in handles if lowered.endswith("-" + s.github.lower())), None)
