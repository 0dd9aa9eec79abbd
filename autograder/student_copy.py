"""The students' copy of the grader: what a student (or the student's CI) may read.

``autograder package students NAME... -o DIR`` writes this package's source, each named
assignment's ``assignment.toml``, public checks and worker support code, and its student
template (with the template's workflow), nothing else: no hidden check, no ``mutants.toml``,
no reference, no known-good or known-bad case, no example solution, no script or test of
this project. The copy may be published; the student workflow checks it out without a token.

What goes in is an allow-list, and the copy is then searched for every line of every
solution region and of the reference (lines the template does not hold too), so a solution
copied into a public check or a support file is refused, not shipped.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import autograder
from autograder.errors import UserError
from autograder.judge.runner import hidden_weights
from autograder.packaging import with_hidden_weights
from autograder.spec import AssignmentSpec

# Marks a folder as a students' copy, so that packaging again may replace it.
MARKER = ".autograder-students-copy"
# Assignment files a student may read: its spec, public checks and the code its checks run in
# the worker (which by design holds nothing secret).
ASSIGNMENT_ALLOWED = ("assignment.toml", "checks/public", "support.py", "support")
SKIPPED_PARTS = ("__pycache__", ".pytest_cache", ".egg-info")
SKIPPED_SUFFIXES = (".pyc", ".pyo")
# A reference line this long or shorter (after stripping) is too common to prove a leak
# (`return out`, `super().__init__()`, `torch.manual_seed(0)`).
MAX_COMMON_LINE = 20

STUDENT_README = """\
# Grader for students: {names}

This is the public part of the course's grader: the `autograder` package, the public
checks of each assignment and the template you start from. It holds no hidden check and no
solution, so it may be public. Your work is graded later with more checks than these.

## Set up once

```bash
python3 -m venv .venv
source .venv/bin/activate            # Windows: .venv\\Scripts\\activate
# The CPU build of torch (about 200 MB; the default CUDA build is several GB):
pip install --index-url https://download.pytorch.org/whl/cpu torch torchvision
pip install .
```

Activate the environment (`source .venv/bin/activate`) in every new terminal before you
run `autograder`.

## Check your work

Start from `student_template/NAME/` (or the repository your course gave you), fill in every
`TODO(human)`, then in that folder:

```bash
autograder check                     # the public checks, with a hint for each that fails
autograder check --fail-under 100    # exit status 1 unless every public check passes
```

Assignments: {names}.
"""


@dataclass
class StudentCopy:
    folder: Path
    files: list[Path]
    changed: list[Path]


def _wanted(relative: Path) -> bool:
    return not (any(part.endswith(SKIPPED_PARTS) for part in relative.parts)
                or relative.suffix in SKIPPED_SUFFIXES)


def _tree(folder: Path) -> Iterable[tuple[Path, Path]]:
    """(source, relative path) of every file under ``folder`` worth copying."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not path.is_symlink() and _wanted(relative):
            yield path, relative


def copy_plan(specs: list[AssignmentSpec]) -> dict[Path, bytes]:
    """Relative path in the students' copy -> content."""
    package_dir = Path(autograder.__file__).resolve().parent
    pyproject = package_dir.parent / "pyproject.toml"
    if not pyproject.is_file():
        raise UserError("packaging needs autograder's source checkout (no pyproject.toml beside "
                        f"{package_dir})")
    plan: dict[Path, bytes] = {Path("pyproject.toml"): pyproject.read_bytes()}
    for source, relative in _tree(package_dir):
        plan[Path("autograder") / relative] = source.read_bytes()
    for spec in specs:
        if not spec.template_dir.is_dir():
            raise UserError(f"assignment {spec.name} has no student template at "
                            f"{spec.template_dir}: run `autograder release {spec.name}` first")
        base = Path("assignments") / spec.name
        # Without its hidden checks, the copy needs their weight per task, derived from them now.
        plan[base / "assignment.toml"] = with_hidden_weights(
            (spec.root / "assignment.toml").read_text(), hidden_weights(spec)).encode()
        for allowed in ASSIGNMENT_ALLOWED[1:]:
            path = spec.root / allowed
            if path.is_file():
                plan[base / allowed] = path.read_bytes()
            elif path.is_dir():
                for source, relative in _tree(path):
                    plan[base / allowed / relative] = source.read_bytes()
        for source, relative in _tree(spec.template_dir):
            plan[Path("student_template") / spec.name / relative] = source.read_bytes()
    names = ", ".join(spec.name for spec in specs)
    plan[Path("README.md")] = STUDENT_README.format(names=names).encode()
    plan[Path(MARKER)] = (names + "\n").encode()
    return plan


def text_lines(name: str, text: str) -> list[str]:
    """The lines of a file's text; a notebook's are those of its cells."""
    if not name.endswith(".ipynb"):
        return text.splitlines()
    try:
        cells = json.loads(text).get("cells", [])
    except (json.JSONDecodeError, AttributeError):
        return text.splitlines()
    lines: list[str] = []
    for cell in cells:
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        lines += ("".join(source) if isinstance(source, list) else str(source)).splitlines()
    return lines


def _source_lines(path: Path) -> list[str]:
    return text_lines(path.name, path.read_text(errors="replace"))


def secret_lines(spec: AssignmentSpec) -> set[str]:
    """Distinctive lines of the reference that the template does not hold (stripped)."""
    template: set[str] = set()
    if spec.template_dir.is_dir():
        for path, _ in _tree(spec.template_dir):
            template |= {line.strip() for line in _source_lines(path)}
    secret: set[str] = set()
    if spec.reference_dir.is_dir():
        for path, _ in _tree(spec.reference_dir):
            secret |= {line.strip() for line in _source_lines(path)}
    return {line for line in secret - template - public_lines() if len(line) > MAX_COMMON_LINE}


@functools.cache
def public_lines() -> frozenset[str]:
    """Lines of PyTorch's modules, data loading and seeding, and torchvision's models and
    transforms (stripped): public code that a reference shares with anything written in
    PyTorch (``with torch.no_grad():``, ``torch.manual_seed(seed)``)."""
    import torch
    import torchvision

    lines: set[str] = set()
    torch_dir, vision_dir = Path(torch.__file__).parent, Path(torchvision.__file__).parent
    for folder in (torch_dir / "nn", torch_dir / "utils" / "data", vision_dir / "models",
                   vision_dir / "transforms"):
        for path in folder.rglob("*.py"):
            lines |= {line.strip() for line in path.read_text(errors="replace").splitlines()}
    return frozenset(lines)


def comparable_lines(text: str) -> set[str]:
    """Stripped lines, and the same lines uncommented: a solution kept in a comment leaks too."""
    lines = {line.strip() for line in text.splitlines()}
    return lines | {line.lstrip("#").strip() for line in lines if line.startswith("#")}


def find_leaks(plan: dict[Path, bytes], secrets: set[str]) -> list[str]:
    """``file: line`` for every secret line found in the planned copy."""
    leaks = []
    for relative, data in plan.items():
        text = data.decode(errors="replace")
        present = comparable_lines(text + "\n" + "\n".join(text_lines(relative.name, text)))
        leaks += [f"{relative}: {line}" for line in sorted(present & secrets)]
    return leaks


def _prepare(folder: Path) -> None:
    """An empty folder, or a previous students' copy (whose files are replaced; .git stays)."""
    if not folder.exists():
        folder.mkdir(parents=True)
        return
    if not folder.is_dir():
        raise UserError(f"{folder} exists and is not a folder")
    entries = [p for p in folder.iterdir() if p.name != ".git"]
    if entries and not (folder / MARKER).is_file():
        raise UserError(f"{folder} is not empty and is not a students' copy (no {MARKER}): "
                        "choose an empty or new folder")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def build_student_copy(specs: list[AssignmentSpec], folder: Path) -> StudentCopy:
    """Write the students' copy of the grader for ``specs`` into ``folder``."""
    plan = copy_plan(specs)
    secrets = set().union(*(secret_lines(spec) for spec in specs))
    leaks = find_leaks(plan, secrets)
    if leaks:
        shown = "; ".join(leaks[:3]) + (f" (and {len(leaks) - 3} more)" if len(leaks) > 3 else "")
        raise UserError(f"refusing to write the students' copy: reference code would be in it: "
                        f"{shown}")
    folder = Path(folder)
    before = {relative: (folder / relative).read_bytes() for relative in plan
              if (folder / relative).is_file()}
    _prepare(folder)
    written, changed = [], []
    for relative, data in plan.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
        if before.get(relative) != data:
            changed.append(path)
    return StudentCopy(folder, written, changed)
