"""What a check can use: the student's code (in a worker), the reference (here), caches.

A :class:`JudgeCache` lives as long as the judge process and is shared by every submission
it grades, so the reference is built and run once per class, not once per student; what a
check asks it to keep goes to the grader's :class:`DiskCache` too, so it is computed
once per grader on this machine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import types
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import torch

from autograder import profiling
from autograder.checks.remote import StudentCode
from autograder.ingest import Submission
from autograder.judge.disk_cache import DiskCache
from autograder.judge.mutation import check_student_test
from autograder.judge.public_tests import check_catches_bug, check_passes_on_solution
from autograder.judge.variants import Mutant, load_mutants, load_reference
from autograder.operations.state import SUPPORT_MODULE
from autograder.sandbox.session import StudentSession
from autograder.spec import AssignmentSpec

T = TypeVar("T")


class JudgeCache:
    """Reference modules, mutants and computed values, per judge process."""

    def __init__(self, spec: AssignmentSpec, store: DiskCache | None = None) -> None:
        self.spec = spec
        self.store = store
        self.values: dict[str, Any] = {}
        self.shared_dir = Path(tempfile.mkdtemp(prefix="autograder-shared-"))
        self._pending: dict[str, Future[Any]] = {}  # started, not yet asked for
        self._started: list[Future[Any]] = []  # everything started since the last settle
        self._background: ThreadPoolExecutor | None = None
        self._background_pid = 0
        self._abandoned = False

    def prefetch(self, key: str, compute: Callable[[], Any]) -> None:
        """Start computing ``key``'s value in a background thread, for a later ``get``. Only
        for work that waits on workers (other processes): the thread then holds the GIL
        little, and the work runs beside the checks on another core."""
        if self._background_pid != os.getpid():  # a forked judge: nothing of its parent's
            self._background, self._pending, self._started = None, {}, []
            self._background_pid = os.getpid()
        if key in self.values or key in self._pending:
            return
        if self._background is None:
            self._background = ThreadPoolExecutor(1, thread_name_prefix="autograder-prefetch")
        future = self._background.submit(compute)
        self._pending[key] = future
        self._started.append(future)

    def settle(self) -> None:
        """Wait for everything started in the background (a submission's grading ends when
        its workers are done), kept if no check asked for it; a failure no check saw is
        dropped with it."""
        started, self._started = self._started, []
        for future in started:
            try:
                future.result()
            except Exception:
                pass
        for key in list(self._pending):
            try:
                self.get(key, lambda: None)
            except Exception:
                pass

    def abandon(self) -> None:
        """Stop waiting for background work (the run was interrupted): what has not started
        never will; what runs ends at its next call (its budget is spent, see Judge.grade)."""
        for future in self._started:
            future.cancel()
        self._pending, self._started = {}, []
        self._abandoned = True

    def close(self) -> None:
        """End the background thread: after the work it holds, unless the run was interrupted
        (then the zygote's end kills the worker it waits on, and it ends at once)."""
        self.settle()
        if self._background is not None and self._background_pid == os.getpid():
            self._background.shutdown(wait=not self._abandoned, cancel_futures=True)
            self._background = None

    def get(self, key: str, compute: Callable[[], T], keep: bool = False) -> T:
        """The value under ``key``, computed once per judge. ``keep``: also kept on disk for
        later runs of this grader: only for JSON data and tensors computed from the
        reference, support code and seed alone, never from a worker's reply (many values here
        are, such as a student test's outcomes: those must not be kept)."""
        pending = self._pending.pop(key, None)
        if pending is not None:  # what it raised is raised here, as a computation here would
            with profiling.timed("judge cache wait (started in the background)"):
                self.values[key] = pending.result()
        if key not in self.values:
            if keep and self.store is not None:
                self.values[key] = self._kept(key, compute)
            else:
                with profiling.timed(f"judge cache fill: {key.split(':')[0]}"):
                    self.values[key] = compute()
        return self.values[key]

    def _kept(self, key: str, compute: Callable[[], T]) -> T:
        assert self.store is not None
        with profiling.timed(f"judge cache read (kept on disk): {key.split(':')[0]}"):
            value = self.store.load(key)
        if value is None:
            with profiling.timed(f"judge cache fill: {key.split(':')[0]}"):
                value = compute()
            self.store.save(key, value)
        return value

    def reference(self, file: str) -> types.ModuleType:
        return self.get(f"reference:{file}", lambda: load_reference(self.spec, file))

    def mutants(self) -> list[Mutant]:
        return self.get("mutants", lambda: load_mutants(self.spec))

    def support(self) -> types.ModuleType:
        """The assignment's support.py, imported here too: public code that builds what the
        checks hand to student code, so the judge can build the same (never student code)."""
        return self.get("support", lambda: load_support(self.spec))

    def state_file(self, key: str, module: torch.nn.Module | Mapping[str, torch.Tensor]) -> str:
        """Save a module's tensors (or a state dict) once to a file workers may read
        (memory-mapped there).

        It holds weights the judge chose (seeded random numbers), never reference code.
        """
        def save() -> str:
            path = self.shared_dir / (hashlib.sha256(key.encode()).hexdigest()[:16] + ".pt")
            tensors = (module.state_dict(keep_vars=False) if isinstance(module, torch.nn.Module)
                       else module)
            state = {n: t.detach().clone() for n, t in tensors.items()}
            torch.save(state, path)
            path.chmod(0o644)
            return str(path)

        return self.get(f"state-file:{key}", save)


def load_support(spec: AssignmentSpec) -> types.ModuleType:
    if spec.support_file is None:
        raise RuntimeError(f"assignment {spec.name} has no support.py")
    name = f"{SUPPORT_MODULE}_{spec.name}"
    module_spec = importlib.util.spec_from_file_location(name, spec.support_file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


class JudgeContext:
    """Everything one submission's checks need: implements the checks' GradingContext."""

    def __init__(self, spec: AssignmentSpec, submission: Submission, session: StudentSession,
                 cache: JudgeCache, seed: int) -> None:
        self.spec = spec
        self.submission = submission
        self.session = session
        self.cache = cache
        self.seed = seed
        # The submitted bytes, read before any student code runs: a worker may write to its
        # folder, and a file graded by other means (a student's test) must be the one handed in.
        self.originals = {name: path.read_bytes() for name, path in submission.files.items()
                          if path.is_file()}
        self.notes: list[str] = []  # of the check running now (the plugin empties it)

    def student(self, file: str) -> StudentCode:
        return StudentCode(self.session, self.spec.file(file).module, file, self.seed,
                           path=self.submission.chosen.get(file, file))

    def reference(self, file: str) -> types.ModuleType:
        return self.cache.reference(file)

    @property
    def support(self) -> types.ModuleType:
        return self.cache.support()

    def grade_student_test(self, task: str, mutant: str) -> None:
        check_student_test(self, task, mutant)

    def grade_test_on_stand_in(self, task: str, solution: dict[str, str],
                               bug: dict[str, str] | None = None, described: str = "",
                               hint: str = "") -> None:
        if bug is None:
            check_passes_on_solution(self, task, solution)
        else:
            check_catches_bug(self, task, solution, bug, described, hint)

    def note(self, text: str) -> None:
        self.notes.append(text)
