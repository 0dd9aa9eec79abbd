"""The package's shape: one check API, no assignment inside ``autograder/``, no import circle,
and a worker that reads its assignment's support code and nothing else of the assignment."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from autograder.sandbox.client import StudentError, Zygote
from autograder.sandbox.limits import Limits
from autograder.sandbox.session import StudentSession
from autograder.spec import assignment_names, load_assignment
from tests.conftest import ROOT, require_landlock

PACKAGE = ROOT / "autograder"


def _imports(tree: ast.AST, package: str | None = None) -> list[str]:
    """Every module a source imports, anywhere in it (inside functions too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and package:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return found


def _autograder_imports(tree: ast.AST) -> list[str]:
    """The ``autograder`` modules an import statement names (``from M import ...``: M)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.append(node.module or "")
    return [n for n in names if n == "autograder" or n.startswith("autograder.")]


@pytest.mark.parametrize("path", sorted(ROOT.glob("assignments/*/checks/**/*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_check_files_import_only_the_check_api(path: Path) -> None:
    stray = [n for n in _autograder_imports(ast.parse(path.read_text())) if n != "autograder.checks"]
    assert not stray, f"{path.name} imports {stray}; a check imports from autograder.checks only"


def test_the_import_scan_sees_stray_imports() -> None:
    tree = ast.parse("from autograder.sandbox.client import StudentError\nimport autograder.judge\n"
                     "from autograder.checks import CheckFailed\n")
    assert _autograder_imports(tree) == ["autograder.sandbox.client", "autograder.judge",
                                         "autograder.checks"]


def _assignment_vocabulary() -> set[str]:
    """Names that belong to one assignment: its name, files, tasks, mutated symbols and the
    classes of its support code."""
    words = set()
    for name in assignment_names():
        spec = load_assignment(name)
        words |= {spec.name} | {t.name for t in spec.tasks}
        words |= {f.module for f in spec.files}
        mutants = spec.root / "mutants.toml"
        if mutants.is_file():
            words |= {m["symbol"] for m in tomllib.loads(mutants.read_text()).get("mutant", [])}
        if spec.support_file:
            tree = ast.parse(spec.support_file.read_text())
            words |= {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    return words


def test_the_package_knows_no_assignment() -> None:
    words = _assignment_vocabulary()
    assert {"BasicBlock", "CustomLinear", "resnet", "nn_module"} <= words  # the scan is real
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, words))) + r")\b"
                         r"|\blayer\d+\.\d")  # torchvision-style layer names: layer1.0.relu
    hits = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in (".py", ".ini", ".toml", ".md", ".txt") and path.is_file():
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if match := pattern.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert not hits, "autograder/ mentions assignments:\n" + "\n".join(hits)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of ``autograder`` it imports (a package stands for its
    ``__init__``; ``from package import submodule`` names the submodule)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets = set()
        for imported in _imports(ast.parse(path.read_text()), package):
            if imported in modules and imported != name:
                targets.add(imported)
        # `from autograder.x import y` where y is a submodule: the edge goes to y, not to x.
        graph[name] = {t for t in targets if not any(o.startswith(t + ".") for o in targets)}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_package_has_no_import_circle() -> None:
    graph = import_graph()
    assert "autograder.operations.models" in graph["autograder.operations"]  # the graph is real
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    cycle = _cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_sandbox_only_isolates() -> None:
    assert {p.stem for p in (PACKAGE / "sandbox").glob("*.py")} == {
        "__init__", "client", "limits", "protocol", "session", "worker", "zygote"}
    for path in (PACKAGE / "operations").glob("*.py"):
        imported = _imports(ast.parse(path.read_text()), "autograder.operations")
        assert not [n for n in imported if n.startswith(("autograder.judge", "autograder.checks"))]


@pytest.fixture(scope="module")
def zygote():
    zygote = Zygote()
    yield zygote
    zygote.close()


def _session(zygote: Zygote, folder: Path, source: str, support: Path) -> StudentSession:
    (folder / "student.py").write_text(source)
    session = StudentSession(zygote, folder, Limits(memory_mb=1024), 20, 120, support=support)
    session.require("student", "student.py")
    return session


STUDENT = '''
import torch
from torch import nn

def scale(model, factor):
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(factor)
    return model

def summary(model):
    return {"params": sum(p.numel() for p in model.parameters()), "out": model(torch.ones(1, 3))}

def make_counter():
    class Counter:
        def __init__(self):
            self.n = 0
        def add(self, k):
            self.n += k
            return self.n
    return Counter()

def build(cls, width):
    return cls(width)

def read(path):
    try:
        with open(path) as f:
            return "read " + str(len(f.read()))
    except OSError as exc:
        return type(exc).__name__
'''

SUPPORT = '''
import torch
from torch import nn

class Pair(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.first = nn.Linear(3, width)
        self.second = nn.Linear(width, 2)
    def forward(self, x):
        return self.second(self.first(x))

def pair(width, seed=0):
    torch.manual_seed(seed)
    return Pair(width)
'''


def test_support_objects_and_student_functions(zygote, tmp_path: Path) -> None:
    """support_object builds the assignment's support code in the worker; call runs a student
    function on it (handles in, data and a handle out); state_dict brings tensors back."""
    from autograder.checks import StudentCode

    support = tmp_path / "assignment" / "support.py"
    support.parent.mkdir()
    support.write_text(SUPPORT)
    scratch = tmp_path / "submission"
    scratch.mkdir()
    session = _session(zygote, scratch, STUDENT, support)
    try:
        student = StudentCode(session, "student", "student.py", seed=0)
        model = student.support_object("pair", 4, seed=1)
        assert model.type_name == "Pair" and model.call == "a Pair"
        before = model.state_dict()
        assert set(before) == {"first.weight", "first.bias", "second.weight", "second.bias"}
        result = student.call("scale", model.ref(), 2.0)
        assert result["type"] == "Pair" and result["object"].handle != model.handle
        after = result["object"].state_dict()
        assert all(bool((after[k] == 2 * before[k]).all()) for k in before)
        summary = student.call("summary", model.ref())
        assert summary["object"] is None and summary["value"]["params"] == 26
        assert tuple(summary["value"]["out"].shape) == (1, 2)
        counter = student.call("make_counter")["object"]
        assert counter.call_method("add", 3)["value"] == 3
        # A support class passed to student code as an argument.
        built = student.call("build", student.support_symbol("Pair"), 5)
        assert built["type"] == "Pair" and built["object"].call == "build(Pair, 5)"
        assert built["object"].count_parameters()["total"] == 5 * 3 + 5 + 2 * 5 + 2
        with pytest.raises(StudentError, match="defines no `missing`"):
            student.support_object("missing")
    finally:
        session.close()


def test_a_worker_reads_its_support_file_and_nothing_else_of_the_assignment(zygote,
                                                                            tmp_path) -> None:
    require_landlock(1, "a filesystem confined to the worker's files")
    spec = load_assignment("resnet")
    (tmp_path / "support.py").write_bytes(b"")  # never used: the assignment's own is
    session = _session(zygote, tmp_path, STUDENT, spec.support_file)
    try:
        from autograder.checks import StudentCode

        student = StudentCode(session, "student", "student.py", seed=0)
        assert student.call("read", str(spec.support_file))["value"].startswith("read ")
        block = student.support_object("BasicBlock", 4, 8, stride=2)
        assert block.type_name == "BasicBlock"
        secrets = [spec.root / "assignment.toml", spec.root / "mutants.toml",
                   next((spec.checks_dir / "hidden").glob("*.py")),
                   next((spec.checks_dir / "public").glob("*.py")),
                   next(spec.reference_dir.glob("*.py"))]
        for path in secrets:
            assert path.is_file()
            assert student.call("read", str(path))["value"] == "PermissionError", path
    finally:
        session.close()
