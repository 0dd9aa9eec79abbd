"""Grading on a Dask distributed cluster (the optional ``cluster`` extra).

The coordinator (the `grade` process) packs each submission as bytes (no shared
filesystem), submits one task per submission, and takes results as they finish
(``as_completed``): it alone writes reports and the gradebook. Each Dask worker process
keeps one warm judge and sandbox per assignment, started on its first submission, and
refuses a task whose grader fingerprint differs from the one its own copy of the
assignment gives. Student code runs only in the sandbox workers that judge's zygote forks
on the Dask node, never in the Dask worker process itself.

A worker lost in the middle costs only the submissions it held: the scheduler gives them to
another worker. A submission whose task kills workers more often than the scheduler's
``allowed-failures`` gets a failure report (``local:N`` sets it to 1: a second death ends
the retries).
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import shutil
import socket
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.errors import UserError
from autograder.report.model import Report
from autograder.spec import AssignmentSpec

if TYPE_CHECKING:
    from autograder.judge.runner import Judge
    from autograder.sandbox.client import Zygote

LOCAL_PREFIX = "local:"
# Retries of a task whose worker died: one (a submission that kills two judges is failed).
LOCAL_ALLOWED_FAILURES = 1
_SKIPPED_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX"}


class FingerprintMismatch(Exception):
    """A worker's copy of the grader is not the coordinator's: it must not grade."""


# --- the coordinator's side ------------------------------------------------------------------

def pack(path: Path) -> tuple[str, bytes]:
    """A submission as (name, bytes): a file as it is; a folder as a zip of its regular
    files (links are left out, as ingest leaves them out)."""
    path = Path(path)
    if path.is_file():
        return path.name, path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(path.rglob("*")):
            relative = item.relative_to(path)
            if item.is_symlink() or not item.is_file() or _SKIPPED_DIRS & set(relative.parts):
                continue
            archive.write(item, relative.as_posix())
    return path.name + "/", buffer.getvalue()


def _client(address: str) -> tuple[Any, Any]:
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise UserError("--cluster needs Dask: pip install 'autograder[cluster]' "
                        "(or pip install 'dask[distributed]')") from None
    if address.startswith(LOCAL_PREFIX):
        try:
            workers = int(address[len(LOCAL_PREFIX):])
        except ValueError:
            workers = 0
        if workers < 1:
            raise UserError(f"--cluster {address}: say how many workers, e.g. local:2")
        with dask.config.set({"distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None,
                                   silence_logs=logging.ERROR)
        return Client(cluster), cluster
    try:
        return Client(address, timeout=30), None
    except (OSError, TimeoutError) as exc:
        raise UserError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def grade_on_cluster(address: str, paths: list[Path], spec: AssignmentSpec, fingerprint: str,
                     seed: int | None, tasks: list[str] | None,
                     on_report: Callable[[Report], None]) -> None:
    """Grade ``paths`` on the cluster at ``address`` (``tcp://host:port`` or ``local:N``),
    calling ``on_report`` in this process as each result arrives."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    client, cluster = _client(address)
    run = uuid.uuid4().hex[:8]
    futures = {}
    try:
        for index, path in enumerate(paths):
            name, data = pack(path)
            future = client.submit(grade_packed, spec.name, fingerprint, seed, tasks, name, data,
                                   key=f"autograder-{spec.name}-{run}-{index}", pure=False)
            futures[future] = Path(path)
        for future in as_completed(futures):
            path = futures[future]
            try:
                report = Report.model_validate_json(future.result())
            except FingerprintMismatch as exc:
                raise UserError(f"a Dask worker refused to grade: {exc}") from None
            except KilledWorker:
                report = _failure(spec, tasks, path, seed, "it brought down the judge of every "
                                  "Dask worker that tried it")
            except FutureCancelledError:
                raise
            except Exception as exc:  # e.g. a judge that could not start: this one only
                report = _failure(spec, tasks, path, seed, f"{type(exc).__name__}: {exc}")
            report.submission.path = str(path)
            on_report(report)
    except BaseException:
        client.cancel(list(futures), force=True)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _failure(spec: AssignmentSpec, tasks: list[str] | None, path: Path, seed: int | None,
             why: str) -> Report:
    from autograder.judge.runner import failure_report

    return failure_report(spec.only(tasks), path, why, spec.seed if seed is None else seed)


# --- the worker's side -----------------------------------------------------------------------

@dataclass
class _WarmJudge:
    zygote: Zygote
    judge: Judge
    lock: threading.Lock
    graded: int = 0

    def close(self) -> None:
        self.judge.close()
        self.zygote.close()


_warm: dict[tuple[str, str, int | None, tuple[str, ...]], _WarmJudge] = {}
_warm_lock = threading.Lock()


def warm_judges() -> list[tuple[str, int]]:
    """On a worker: (assignment, submissions graded) of each warm judge it holds."""
    return [(key[0], warm.graded) for key, warm in _warm.items()]


def _close_warm() -> None:
    for warm in _warm.values():
        warm.close()
    _warm.clear()


def _warm_judge(assignment: str, fingerprint: str, seed: int | None,
                tasks: list[str] | None) -> _WarmJudge:
    from autograder.gradebook.fingerprint import grader_fingerprint
    from autograder.spec import load_assignment

    spec = load_assignment(assignment)
    own = grader_fingerprint(spec, seed, tasks)
    if own != fingerprint:  # checked on every task: files on this node may have changed
        raise FingerprintMismatch(
            f"{socket.gethostname()} (pid {os.getpid()}) has another grader for {assignment} "
            f"(fingerprint {own[:12]}, the coordinator's is {fingerprint[:12]}): install the same "
            "autograder, assignments and reference on every node")
    key = (assignment, fingerprint, seed, tuple(sorted(tasks or ())))
    with _warm_lock:
        if key not in _warm:
            from autograder.judge.runner import Judge
            from autograder.sandbox.client import new_zygote

            if not _warm:
                atexit.register(_close_warm)
            zygote = new_zygote(spec.preload)
            _warm[key] = _WarmJudge(zygote, Judge(spec, zygote, seed, tasks), threading.Lock())
        return _warm[key]


def grade_packed(assignment: str, fingerprint: str, seed: int | None, tasks: list[str] | None,
                 name: str, data: bytes) -> str:
    """Runs on a Dask worker: grade one packed submission, return its report as JSON."""
    warm = _warm_judge(assignment, fingerprint, seed, tasks)
    folder = Path(tempfile.mkdtemp(prefix="autograder-cluster-"))
    try:
        if name.endswith("/"):
            path = folder / name.rstrip("/")
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                archive.extractall(path)  # names were made by pack(); extractall refuses ../
        else:
            path = folder / name
            path.write_bytes(data)
        with warm.lock:  # one submission at a time per judge, whatever the worker's threads
            warm.graded += 1
            return warm.judge.grade(path).model_dump_json()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
