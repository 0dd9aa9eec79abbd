"""The reference solution and its mutants, loaded in the judge (trusted code only).

A mutant is the reference with one small textual change, declared in
``assignments/<name>/mutants.toml``::

    [[mutant]]
    name = "relu_before_add"
    symbol = "BasicBlock"                 # the class or function the change affects
    bug = "the block applies ReLU before adding the skip connection"
    hint = "apply ReLU after adding the shortcut, not before"   # optional
    replace = [["old text", "new text"]]

Mutants serve twice: student-written tests are graded by the mutants they catch, and when
a student's implementation computes exactly what a mutant computes, the check says which
known bug that is.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from autograder.spec import AssignmentSpec


class MutantSpec(BaseModel):
    name: str
    symbol: str
    bug: str = Field(description="the bug in a student's words, for test feedback")
    hint: str = Field("", description="what to fix when an implementation behaves like this")
    file: str = ""
    replace: list[tuple[str, str]]


def reference_source(spec: AssignmentSpec, file: str) -> str:
    return (spec.reference_dir / file).read_text()


def module_from_source(name: str, source: str, filename: str) -> types.ModuleType:
    """Execute trusted source as a fresh module (not left in ``sys.modules``)."""
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module  # dataclasses and typing look the module up while it runs
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module


def load_reference(spec: AssignmentSpec, file: str) -> types.ModuleType:
    path = spec.reference_dir / file
    name = f"_autograder_reference_{spec.name}_{Path(file).stem}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


@dataclass
class Mutant:
    spec: MutantSpec
    source: str
    _module: types.ModuleType | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def module(self) -> types.ModuleType:
        if self._module is None:
            self._module = module_from_source(f"_autograder_mutant_{self.name}", self.source,
                                              f"<mutant {self.name}>")
        return self._module


def apply_replacements(source: str, mutant: MutantSpec) -> str:
    for old, new in mutant.replace:
        count = source.count(old)
        if count != 1:
            raise ValueError(f"mutant {mutant.name}: {old!r} occurs {count} times in the "
                             "reference (it must occur exactly once)")
        source = source.replace(old, new)
    return source


def load_mutants(spec: AssignmentSpec) -> list[Mutant]:
    path = spec.root / "mutants.toml"
    if not path.is_file():
        return []
    entries = tomllib.loads(path.read_text()).get("mutant", [])
    main_file = spec.files[0].name
    mutants = []
    for entry in entries:
        mutant = MutantSpec(**entry)
        file = mutant.file or main_file
        mutants.append(Mutant(mutant, apply_replacements(reference_source(spec, file), mutant)))
    return mutants
