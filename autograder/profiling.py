"""Opt-in timing of where a submission's grading time goes (``bench_grading.py --profile``).

Off unless :func:`enable` was called: then every hook is one global lookup and nothing is
recorded. When on, each judge process (forked judges inherit it) appends one JSON line per
graded submission to the profile file: the seconds and counts of each phase.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Profile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.seconds: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.pid = os.getpid()
        # A judge's prefetch thread times its workers while the main thread times checks:
        # ``+=`` on a dict entry is a read and a write, so two threads could lose one.
        self.lock = threading.Lock()

    def _own(self) -> None:
        """A forked judge starts its record empty: what its parent timed before the fork is
        the parent's to report, once."""
        if self.pid != os.getpid():
            self.pid = os.getpid()
            self.seconds.clear()
            self.counts.clear()

    def add(self, phase: str, seconds: float) -> None:
        with self.lock:
            self._own()
            self.seconds[phase] += seconds
            self.counts[phase] += 1

    def flush(self, submission: str) -> None:
        with self.lock:
            self._own()
            phases = {p: [s, self.counts[p]] for p, s in self.seconds.items()}
            self.seconds.clear()
            self.counts.clear()
        line = json.dumps({"submission": submission, "pid": os.getpid(), "phases": phases})
        with open(self.path, "a") as out:  # one short append per submission: lines stay whole
            out.write(line + "\n")


_profile: Profile | None = None


def _fresh_lock_after_fork() -> None:
    """A judge forked while another thread held the lock would wait on it forever."""
    if _profile is not None:
        _profile.lock = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_after_fork)


def enable(path: Path) -> None:
    """Record phases from now on, in this process and in the judges it forks."""
    global _profile
    _profile = Profile(path)


def disable() -> None:
    global _profile
    _profile = None


def enabled() -> bool:
    return _profile is not None


def add(phase: str, seconds: float) -> None:
    if _profile is not None:
        _profile.add(phase, seconds)


@contextmanager
def timed(phase: str) -> Iterator[None]:
    if _profile is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        _profile.add(phase, time.perf_counter() - started)


def flush(submission: str) -> None:
    """End a submission's record (a no-op unless profiling)."""
    if _profile is not None:
        _profile.flush(submission)


def read(path: Path) -> list[dict]:
    """The records written so far, one per graded submission."""
    if not Path(path).is_file():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
