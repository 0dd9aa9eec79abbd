"""One submission's sandbox: a worker that is restarted when a check kills it.

Checks call operations through a session; if one check times out or the student's code
ends the process, the next check gets a fresh worker with the submission re-imported, so
one bad function costs only the checks that use it. A per-submission time budget bounds
the whole.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

from autograder import profiling
from autograder.sandbox.client import SandboxError, StudentError, Worker, WorkerTimeout, Zygote
from autograder.sandbox.limits import Limits


class ImportFailed(StudentError):
    """A student file could not be imported; every check that needs it reports this."""

    def __init__(self, file: str, cause: SandboxError) -> None:
        self.file = file
        self.cause = cause
        info = dict(cause.info) if isinstance(cause, StudentError) else {
            "type": type(cause).__name__, "message": str(cause), "frames": []}
        super().__init__(info)


class BudgetExhausted(WorkerTimeout):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.args = (f"the submission used up its {seconds:g} s time budget",)


class EarlierTimeout(WorkerTimeout):
    """A call that needs what already ran past its limit in an earlier check: not run again,
    so one endless loop costs one check limit, not every check's."""

    def __init__(self, first: WorkerTimeout, culprit: tuple[str, str]) -> None:
        super().__init__(first.seconds)
        symbol, run = culprit
        what = {"__init__": f"building {symbol}", "call": f"calling {symbol}"}.get(
            run, f"{symbol}.{run}")
        self.feedback = (f"not run: {what} took longer than the {first.seconds:g} s limit in an "
                         "earlier check, so checks that need it again are stopped at once. "
                         "Look for an endless loop or work that grows with the input.")


class Budget:
    """A wall-clock time budget: what is left of it, and the timeout of the next call.

    The one place deadlines are computed: a submission's checks, the runs of a student's
    tests and ``validate`` each hold one.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def expire(self) -> None:
        """Spend what is left: every later call's timeout raises BudgetExhausted."""
        self.deadline = time.monotonic()

    def timeout(self, seconds: float) -> float:
        """``seconds``, or less if less is left; raises :class:`BudgetExhausted` if none is."""
        remaining = self.remaining()
        if remaining <= 0:
            raise BudgetExhausted(self.seconds)
        return min(seconds, remaining)


class StudentSession:
    """The checks of one submission, against workers that are restarted when they die.

    ``limits`` gives every limit; ``check_seconds`` and ``budget_seconds`` override its
    per-check and per-submission wall-clock limits. ``support``: the assignment's support.py,
    which workers may read and import.
    """

    def __init__(self, zygote: Zygote, scratch: Path, limits: Limits,
                 check_seconds: float | None = None, budget_seconds: float | None = None,
                 readable: list[str] | None = None, support: Path | None = None,
                 aliases: dict[str, dict[str, str]] | None = None) -> None:
        self.zygote = zygote
        self.scratch = scratch
        self.limits = limits
        self.check_seconds = check_seconds or limits.check_seconds
        self.readable = readable or []
        self.support = support
        self.aliases = aliases or {}
        self.cell_seconds = limits.cell_seconds
        self.notebook_seconds = limits.notebook_seconds
        # What the first load of each notebook reported (failed cells), by module name.
        self.notebooks: dict[str, dict[str, Any]] = {}
        self.budget = Budget(budget_seconds or limits.submission_seconds)
        self.worker: Worker | None = None
        self.modules: dict[str, str] = {}
        self.import_failures: dict[str, ImportFailed] = {}
        self.landlock = 0
        self.restarts = 0
        # Results tied to the current worker (object handles); emptied when it restarts.
        self.memo: dict[Any, Any] = {}
        # Plain results of the student's code (no handles) for the whole submission: kept
        # when a worker is replaced, unlike ``memo`` (see StudentCode.once).
        self.outcomes: dict[Any, Any] = {}
        # (symbol, what of it ran) -> its timeout: what ran past its limit once is not run again.
        self.timed_out: dict[tuple[str, str], WorkerTimeout] = {}

    def require(self, module: str, file: str) -> None:
        """Make ``module`` (from ``file`` in the submission) available to later calls."""
        if module in self.import_failures:
            raise self.import_failures[module]
        if module in self.modules:
            return
        self.modules[module] = file
        if self.worker is not None and self.worker.alive:
            self._load(self.worker, module, file)

    def _load(self, worker: Worker, module: str, file: str) -> None:
        with profiling.timed("student import (load_module / load_notebook)"):
            self._load_timed(worker, module, file)

    def _load_timed(self, worker: Worker, module: str, file: str) -> None:
        try:
            if file.endswith(".ipynb"):
                self._load_notebook(worker, module, file)
            else:
                worker.call("load_module", self._timeout(), name=module, file=file)
        except SandboxError as exc:
            failure = ImportFailed(file, exc)
            self.import_failures[module] = failure
            del self.modules[module]
            if not worker.alive:
                self.worker = None
            raise failure from None

    def _load_notebook(self, worker: Worker, module: str, file: str) -> None:
        """Run the notebook's cells in the worker; a replay after a restart skips the cells
        that ran out of time the first time, so an endless cell costs its limit once."""
        first = self.notebooks.get(module)
        skip = [r["cell"] for r in first["records"] if r["status"] == "timeout"] if first else []
        timeout = self._timeout(self.notebook_seconds)
        try:  # the worker spreads most of the time over the cells; the rest is for its reply
            result = worker.call("load_notebook", timeout, name=module, file=file,
                                 cell_seconds=self.cell_seconds, skip_cells=skip,
                                 budget_seconds=max(1.0, 0.9 * timeout - 1))
        except WorkerTimeout as exc:
            cell = self._running_cell()
            if cell:
                exc.args = (f"{exc} (code cell {cell} was still running: it did not stop when "
                            f"its {self.cell_seconds:g} s were up)",)
            raise
        if first is None:
            self.notebooks[module] = {"file": file, **result}

    def _running_cell(self) -> int | None:
        """The cell a stopped notebook was running, as the worker noted it (only a number
        is taken from the file, and only for the message)."""
        try:  # the worker owns the folder: never follow a link, never block on a FIFO
            fd = os.open(self.scratch / ".notebook-progress",
                         os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            text = os.read(fd, 10).decode("ascii", "replace").strip()
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            return None
        finally:
            os.close(fd)
        return int(text) if regular and text.isdigit() else None

    def _timeout(self, seconds: float | None = None) -> float:
        return self.budget.timeout(seconds or self.check_seconds)

    def _ensure_worker(self) -> Worker:
        if self.worker is None or not self.worker.alive:
            if self.worker is not None:
                self.restarts += 1
            self.memo.clear()
            self.worker = self.zygote.spawn(self.scratch, self.limits, self.readable,
                                            support=self.support, aliases=self.aliases)
            self.landlock = self.worker.landlock
            for module, file in list(self.modules.items()):
                self._load(self.worker, module, file)
        return self.worker

    def call(self, op: str, timeout: float | None = None, culprit: tuple[str, str] | None = None,
             **args: Any) -> Any:
        """Run ``op`` in the worker. ``culprit``: the student's symbol and what of it this call
        runs (``("Block", "forward")``); once such a call ran past its limit, later ones fail
        at once with :class:`EarlierTimeout`."""
        if culprit in self.timed_out:
            raise EarlierTimeout(self.timed_out[culprit], culprit)
        worker = self._ensure_worker()
        try:
            return worker.call(op, self._timeout(timeout), **args)
        except WorkerTimeout as exc:
            if culprit is not None and not isinstance(exc, BudgetExhausted):
                self.timed_out[culprit] = exc
            raise
        finally:
            if not worker.alive:
                self.worker = None

    def close(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None
