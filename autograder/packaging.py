"""Copies of the grader that leave this checkout: Gradescope's autograder zip, and the
derived ``hidden_weight`` of each task that a copy without the hidden checks needs.

A copy of the grader without ``checks/hidden`` (what students may read) must still score the
public checks at their true share of each task. The weight of the hidden checks is not typed
by hand: :func:`write_hidden_weights` collects the hidden checks and writes their weight per
task into the copy's ``assignment.toml``; grading with the hidden checks present computes it.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import autograder
from autograder.errors import UserError
from autograder.judge.runner import hidden_weights
from autograder.spec import AssignmentSpec

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PY=python3
    apt-get install -y python3-venv python3-pip
else  # Ubuntu 22.04 images: Python 3.10 by default
    PY=python3.11
    apt-get install -y python3.11 python3.11-venv
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
# The CPU builds: Gradescope's graders have no GPU, and the CUDA wheels are gigabytes.
/autograder/venv/bin/pip install --index-url https://download.pytorch.org/whl/cpu torch torchvision
/autograder/venv/bin/pip install /autograder/source/grader
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes /autograder/results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
export AUTOGRADER_HOME="$ROOT/source/grader"
exec "$PYTHON" -m autograder.gradescope --root "$ROOT" --assignment {assignment}
"""

_SKIP = ("__pycache__", ".pyc", ".egg-info")


def _add_tree(archive: zipfile.ZipFile, folder: Path, prefix: str,
              skip: tuple[str, ...] = ()) -> None:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.as_posix() in skip:
            continue
        if path.is_file() and not any(part.endswith(_SKIP) or part.startswith(".")
                                      for part in relative.parts):
            archive.write(path, f"{prefix}/{relative.as_posix()}")


def _add_text(archive: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def build_package(spec: AssignmentSpec, output: Path) -> Path:
    """Write the Gradescope autograder zip for ``spec`` to ``output``."""
    package_dir = Path(autograder.__file__).resolve().parent
    pyproject = package_dir.parent / "pyproject.toml"
    if not pyproject.is_file():
        raise UserError("packaging needs autograder's source checkout (no pyproject.toml beside "
                        f"{package_dir})")
    if not spec.reference_dir.is_dir():
        raise UserError(f"assignment {spec.name} has no reference folder at {spec.reference_dir}")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        _add_text(archive, "setup.sh", SETUP_SH, executable=True)
        _add_text(archive, "run_autograder", RUN_AUTOGRADER.format(assignment=spec.name), executable=True)
        archive.write(pyproject, "grader/pyproject.toml")
        _add_tree(archive, package_dir, "grader/autograder")
        _add_tree(archive, spec.root, f"grader/assignments/{spec.name}", skip=("assignment.toml",))
        _add_text(archive, f"grader/assignments/{spec.name}/assignment.toml",
                  with_hidden_weights((spec.root / "assignment.toml").read_text(),
                                      hidden_weights(spec)))
        _add_tree(archive, spec.reference_dir, f"grader/reference/{spec.name}")
    return output


_TASK_HEADER = re.compile(r"^\[\[tasks\]\]\s*$")
_TASK_NAME = re.compile(r"^name\s*=\s*\"([^\"]+)\"")
_HIDDEN_WEIGHT = re.compile(r"^hidden_weight\s*=")


def with_hidden_weights(toml_text: str, weights: dict[str, float]) -> str:
    """``assignment.toml``'s text with each task's ``hidden_weight`` line set to ``weights``
    (a line of its own, after the task's name; an earlier one is replaced)."""
    lines, in_task = [], False
    for line in toml_text.splitlines():
        if line.startswith("["):
            in_task = bool(_TASK_HEADER.match(line))
        if in_task and _HIDDEN_WEIGHT.match(line):
            continue
        lines.append(line)
        name = _TASK_NAME.match(line) if in_task else None
        if name and name.group(1) in weights:
            lines.append(f"hidden_weight = {weights[name.group(1)]:g}  # derived from the hidden "
                         "checks when this copy was built")
    return "\n".join(lines) + "\n"


def write_hidden_weights(spec: AssignmentSpec, folder: Path) -> Path:
    """Write into ``folder/assignment.toml`` (a copy of the assignment's folder) the weight
    of ``spec``'s hidden checks per task, computed from them; call it while they exist."""
    path = Path(folder) / "assignment.toml"
    path.write_text(with_hidden_weights(path.read_text(), hidden_weights(spec)))
    return path
