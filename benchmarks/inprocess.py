"""The baseline the benchmark compares with: the same checks, run the usual way.

Loaded with ``python -m pytest assignments/resnet/checks -p benchmarks.inprocess
--submission PATH``: one fresh pytest process per submission, importing the student's code
into the test process itself (no sandbox, no worker, no protocol). Only for measuring.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from autograder.ingest import ingest
from autograder.judge.context import JudgeCache, JudgeContext
from autograder.judge.plugin import JudgePlugin
from autograder.operations import OPERATIONS, WorkerState
from autograder.sandbox.client import StudentError
from autograder.spec import load_assignment


class InProcessSession:
    """Stands in for StudentSession: operations run right here, in the test process."""

    def __init__(self, scratch: Path, support: Path | None) -> None:
        self.memo: dict[Any, Any] = {}
        self.state = WorkerState(scratch=scratch, support_file=support)
        sys.path.append(str(scratch))

    def require(self, module: str, file: str) -> None:
        if module not in self.state.modules:
            self.call("load_module", name=module, file=file)

    def call(self, op: str, timeout: float | None = None, **args: Any) -> Any:
        try:
            return OPERATIONS[op](self.state, **args)
        except BaseException as exc:
            raise StudentError(self.state.describe(exc)) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--submission", required=True)
    parser.addoption("--assignment", default="resnet")
    parser.addoption("--task", action="append", default=None)


def pytest_configure(config: pytest.Config) -> None:
    spec = load_assignment(config.getoption("--assignment"))
    scratch = Path(tempfile.mkdtemp(prefix="baseline-"))
    submission = ingest(Path(config.getoption("--submission")), spec, scratch)
    session = InProcessSession(scratch, spec.support_file)
    context = JudgeContext(spec, submission, session, JudgeCache(spec), spec.seed)
    config.add_cleanup(lambda: shutil.rmtree(scratch, ignore_errors=True))
    config.add_cleanup(lambda: shutil.rmtree(context.cache.shared_dir, ignore_errors=True))
    tasks = config.getoption("--task")
    config.pluginmanager.register(JudgePlugin(context, tasks=set(tasks) if tasks else None),
                                  "autograder-judge")
