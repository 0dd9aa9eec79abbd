"""Grading on Dask: a real LocalCluster with worker processes gives the scores local grading
gives; a scheduler and two workers started as `dask` processes on 127.0.0.1, one worker
killed during the run, and every submission still gets exactly one report."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.classroom import ROOT, TASK, cli_env, grade_command, make_class, run_cli

distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed")

SMALL = {"reference": 2, "no_final_relu": 1, "shortcut_scaled": 1}


@pytest.fixture(scope="module")
def small_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """A class of four and its scores graded locally (no cluster)."""
    from autograder import api

    folder = tmp_path_factory.mktemp("cluster") / "class"
    make_class(folder, SMALL)
    reports = api.grade([folder], "resnet", tasks=[TASK])
    return folder, {r.submission.id: r.score for r in reports}


def test_local_cluster_grades_as_local_grading_does(small_class, tmp_path):
    from autograder.gradebook.run import ClassRun

    folder, local = small_class
    run = ClassRun([folder], "resnet", tmp_path / "out", tasks=[TASK])
    try:
        summary = run.execute(cluster="local:2")
    finally:
        run.close()
    assert {r.submission.id: r.score for r in summary.graded} == local
    assert {p.stem: json.loads(p.read_text())["score"]
            for p in (tmp_path / "out").glob("*.json")} == local
    # Submissions travelled as bytes: the reports name the coordinator's paths.
    assert {r.submission.path for r in summary.graded} == {str(folder / s) for s in local}


def test_a_worker_of_another_grader_refuses(small_class, tmp_path):
    from autograder.errors import UserError
    from autograder.gradebook.run import ClassRun

    folder, _ = small_class
    run = ClassRun([folder / "student00"], "resnet", tmp_path / "out", tasks=[TASK])
    run.fingerprint = "0" * 64  # what a coordinator with other checks would send
    try:
        with pytest.raises(UserError, match="refused to grade: .* has another grader for resnet"):
            run.execute(cluster="local:1")
    finally:
        run.close()
    assert not list((tmp_path / "out").glob("*.json"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dask(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(Path(sys.executable).parent / "dask"), *args], env=env, cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def test_scheduler_and_two_workers_survive_a_killed_worker(small_class, tmp_path):
    folder, local = small_class
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = cli_env()
    processes = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port),
                       "--dashboard-address", ":0", "--no-show", env=env, log=tmp_path / "scheduler.log")]
    try:
        time.sleep(2)
        workers = [_dask("worker", address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                         "--name", f"w{i}", "--no-dashboard", env=env, log=tmp_path / f"w{i}.log")
                   for i in range(2)]
        processes += workers
        out = tmp_path / "out"
        coordinator = subprocess.Popen(grade_command(folder, out, "--cluster", address), env=env,
                                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
        # Kill a worker as soon as one submission is done (both hold one by then).
        deadline = time.monotonic() + 300
        while not list(out.glob("*.json")):
            assert coordinator.poll() is None, coordinator.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(workers[0].pid, signal.SIGKILL)
        stdout, stderr = coordinator.communicate(timeout=300)
        assert coordinator.returncode == 0, stderr
        assert "graded 4 submission(s)" in stdout
        reports = {p.stem: json.loads(p.read_text())["score"] for p in out.glob("*.json")}
        assert reports == local
        with sqlite3.connect(out / "gradebook.sqlite") as db:
            rows = db.execute("SELECT submission_id, score FROM results").fetchall()
        assert sorted(rows) == sorted(local.items())
        # The surviving worker started one judge for all it graded.
        from autograder.cluster import warm_judges

        with distributed.Client(address, timeout=30) as client:
            held = client.run(warm_judges)
        assert len(held) == 1
        ((assignment, graded),) = next(iter(held.values()))
        assert assignment == "resnet" and graded >= 2
        # And the rerun on the cluster grades nothing.
        result = run_cli(grade_command(folder, out, "--cluster", address), env=env)
        assert "graded 0 submission(s); skipped 4" in result.stdout
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
