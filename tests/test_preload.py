"""An assignment's ``preload``: installed modules the zygote imports before it forks workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.checks import StudentCode
from autograder.sandbox import DEFAULT_PRELOAD, client
from autograder.sandbox.client import Zygote, new_zygote, prestart_zygote
from autograder.sandbox.limits import Limits
from autograder.sandbox.session import StudentSession
from autograder.spec import AssignmentSpec, load_assignment
from tests.conftest import ROOT

# `wave`: a small standard-library module that neither torch nor the worker imports.
STUDENT = "import sys\n\ndef preloaded():\n    return 'wave' in sys.modules\n"


def _spec(**changes) -> AssignmentSpec:
    spec = load_assignment("resnet")
    return AssignmentSpec(**{**spec.model_dump(exclude={"root"}), **changes}, root=spec.root)


def test_every_assignment_preloads_installed_code() -> None:
    for name in ("resnet", "cnn", "nn_module"):
        assert load_assignment(name).preload == ["torchvision", "torch._dynamo"]
    spec = load_assignment('resnet')
    data = spec.model_dump(exclude={'root', 'preload'})
    assert AssignmentSpec(**data, root=spec.root).preload == list(DEFAULT_PRELOAD)  # not said
    assert _spec(preload=["wave", "json.decoder"]).preload == ["wave", "json.decoder"]


@pytest.mark.parametrize("name, why", [
    ("reference", "not an installed package"),      # the project's reference solutions
    ("assignments", "not an installed package"),    # hidden checks and mutants
    ("autograder", "not an installed package"),     # the judge (editable install: the project)
    ("no_such_package_here", "not an installed package"),
    ("os; import reference", "not a module name"),
    ("../reference", "not a module name"),
])
def test_preload_refuses_what_a_worker_must_never_inherit(name: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        _spec(preload=[name])


def _preloaded(zygote: Zygote, folder: Path) -> bool:
    (folder / "student.py").write_text(STUDENT)
    session = StudentSession(zygote, folder, Limits(memory_mb=1024), 20, 120)
    try:
        session.require("student", "student.py")
        return StudentCode(session, "student", "student.py", seed=0).call("preloaded")["value"]
    finally:
        session.close()


def test_a_worker_inherits_exactly_the_zygotes_preload(tmp_path: Path) -> None:
    plain, preloading = Zygote([]), Zygote(["wave"])
    try:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        assert _preloaded(preloading, tmp_path / "a") is True
        assert _preloaded(plain, tmp_path / "b") is False
    finally:
        plain.close()
        preloading.close()


def test_a_prestarted_zygote_with_another_preload_is_not_reused() -> None:
    prestart_zygote(["wave"])
    prestarted = client._prestarted
    zygote = new_zygote(["json"])
    try:
        assert zygote is not prestarted and zygote.preload == ("json",)
        assert prestarted.process.wait(10) is not None  # killed, not left running
        assert client._prestarted is None
    finally:
        zygote.close()
    prestart_zygote(["wave"])
    same = client._prestarted
    reused = new_zygote(["wave"])
    try:
        assert reused is same
    finally:
        reused.close()


@pytest.mark.parametrize("name, said", [
    # The reference solution (a namespace package of the project) and the project's `tests`
    # package, which imports the judge: both found on the zygote's own path.
    ("reference.resnet.resnet", "reference (" + str(ROOT / "reference") + ") was imported from the project"),
    ("tests.classroom", "tests/__init__.py) was imported from the project"),
    ("torch.no_such_module", "preload: torch.no_such_module cannot be imported"),
])
def test_the_zygote_itself_refuses_to_start_with_project_code_or_a_missing_module(
        name: str, said: str, capfd) -> None:
    """The spec's check runs in the judge, whose import path is not the zygote's: the zygote
    checks again what it really imported, and does not start (fail closed)."""
    zygote = Zygote([name])
    try:
        with pytest.raises(RuntimeError, match="could not start"):
            zygote.wait_ready()
    finally:
        zygote.close()
    assert said in capfd.readouterr().err


def test_a_preload_that_prints_does_not_break_the_zygotes_handshake(tmp_path: Path, capfd) -> None:
    zygote = Zygote(["this"])  # the Zen of Python, printed on import
    try:
        zygote.wait_ready()
        (tmp_path / "s").mkdir()
        assert _preloaded(zygote, tmp_path / "s") is False
    finally:
        zygote.close()
    assert "Beautiful is better than ugly" in capfd.readouterr().err
