"""The grader fingerprint: one hash of everything that decides a score.

Two results with the same submission content hash and the same fingerprint are the same
result, so a rerun may skip the submission. What goes in: the assignment folder (its
``assignment.toml`` with points and limits, public and hidden checks, ``mutants.toml``, the
support code; not ``cases/``, the known-good and known-bad submissions that only
``validate`` grades), the reference solution, the seed, the tasks graded, and the versions of the
grading code (autograder's version and a hash of its own source, torch, Python, and the
packages the assignment preloads, such as torchvision). Computed
without importing torch or the judge.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from functools import cache
from pathlib import Path

import autograder
from autograder.spec import AssignmentSpec

_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".git"}
# Validation material in an assignment folder: it proves the checks fair, it decides no score.
_VALIDATION_ONLY = "cases"
_PACKAGE_DIR = Path(autograder.__file__).resolve().parent


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not _SKIPPED_DIRS & set(p.relative_to(folder).parts)
                  and p.suffix not in (".pyc", ".pyo"))


def _digest(files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def _package_digest() -> str:
    """The grading code itself: a change to a check helper can change a score."""
    return _digest([p for p in _files(_PACKAGE_DIR) if p.suffix in (".py", ".ini", ".json")],
                   _PACKAGE_DIR)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _distribution_version(module: str) -> str:
    """The version of the distribution that installs ``module`` (PIL is Pillow's); the
    standard library's modules have none (Python's version is a part of its own)."""
    names = _own_distribution(module) or _distributions().get(module, [module])
    return ", ".join(f"{name} {_version(name)}" for name in sorted(set(names)))


def _own_distribution(module: str) -> list[str]:
    """``[module]`` when a distribution of that name installs it (torchvision): one record
    read, where scanning every installed distribution costs 0.2 s of each command."""
    try:
        files = importlib.metadata.distribution(module).files or []
    except importlib.metadata.PackageNotFoundError:
        return []
    return [module] if any(f.parts[0] in (module, f"{module}.py") for f in files) else []


@cache
def _distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def manifest(spec: AssignmentSpec, seed: int | None = None,
             tasks: list[str] | None = None) -> dict[str, str]:
    """What the fingerprint is made of, part by part (kept in the gradebook, so a rerun can
    say which part changed)."""
    parts = {
        "assignment": spec.name,
        "seed": str(spec.seed if seed is None else seed),
        "tasks": ",".join(sorted(tasks)) if tasks else "all",
        "autograder": f"{autograder.__version__} source {_package_digest()[:16]}",
        "torch": _version("torch"),
        "python": platform.python_version(),
    }
    # Installed packages the support and reference code build on (a support module may
    # subclass a torchvision layer): a new version can change what they compute.
    for package in sorted({name.split(".")[0] for name in spec.preload} - {"torch"}):
        parts[f"package {package}"] = _distribution_version(package)
    for path in _files(spec.root):
        if path.relative_to(spec.root).parts[0] == _VALIDATION_ONLY:
            continue
        parts[f"assignment file {path.relative_to(spec.root).as_posix()}"] = (
            hashlib.sha256(path.read_bytes()).hexdigest())
    for path in _files(spec.reference_dir):
        parts[f"reference file {path.relative_to(spec.reference_dir).as_posix()}"] = (
            hashlib.sha256(path.read_bytes()).hexdigest())
    return parts


def fingerprint_of(parts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def grader_fingerprint(spec: AssignmentSpec, seed: int | None = None,
                       tasks: list[str] | None = None) -> str:
    return fingerprint_of(manifest(spec, seed, tasks))


def changed_parts(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Names of the parts that differ (added, removed or changed), sorted."""
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
