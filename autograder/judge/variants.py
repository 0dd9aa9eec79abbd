"""The reference solution and its mutants, loaded in the judge (trusted code only).

A mutant is the reference with one small textual change, declared in
``assignments/<name>/mutants.toml``::

    [[mutant]]
    name = "relu_before_add"
    symbol = "Block"                      # the class or function the change affects
    bug = "the block applies ReLU before adding the skip connection"
    hint = "apply ReLU after adding the shortcut, not before"   # optional
    tests = ["test_block_adds_skip"]      # optional: student-test tasks it grades
    replace = [["old text", "new text"]]

Mutants serve three times: a student-written test earns its points by failing against the
mutants that name its task in ``tests`` (see :mod:`autograder.judge.mutation`); when a
student's implementation computes exactly what a mutant computes, the check says which
known bug that is; and ``autograder validate`` requires every hidden check to fail on some
mutant.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from autograder.operations.cells import notebook_module, read_code_cells, to_python
from autograder.spec import AssignmentSpec


class MutantSpec(BaseModel):
    name: str
    symbol: str
    bug: str = Field(description="the bug in a student's words, for test feedback")
    hint: str = Field("", description="what to fix when an implementation behaves like this")
    tests: list[str] = Field([], description="the student-test tasks this mutant grades")
    file: str = ""
    replace: list[tuple[str, str]]


def reference_source(spec: AssignmentSpec, file: str) -> str:
    path = spec.reference_dir / file
    if path.suffix == ".ipynb":  # a notebook's code cells, in order, as one Python source
        return "\n\n".join(to_python(cell) for cell in read_code_cells(path))
    return path.read_text()


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
    if path.suffix == ".ipynb":  # trusted: its cells run here, in order, output discarded
        return notebook_module(name, path, raise_errors=True, keep_output=0)[0]
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


def load_mutant_specs(assignment_root: Path) -> list[MutantSpec]:
    """The declarations in ``<assignment_root>/mutants.toml`` (no source is read)."""
    path = Path(assignment_root) / "mutants.toml"
    if not path.is_file():
        return []
    return [MutantSpec(**entry) for entry in tomllib.loads(path.read_text()).get("mutant", [])]


def mutated_file(spec: AssignmentSpec, mutant: MutantSpec) -> str:
    """The submission file a mutant is a variant of (by default the assignment's first)."""
    return mutant.file or spec.files[0].name


def load_mutants(spec: AssignmentSpec) -> list[Mutant]:
    mutants = []
    for mutant in load_mutant_specs(spec.root):
        source = reference_source(spec, mutated_file(spec, mutant))
        mutants.append(Mutant(mutant, apply_replacements(source, mutant)))
    return mutants
