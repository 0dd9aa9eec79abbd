"""Reference results kept on disk between runs of the same grader (``DiskCache``)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from autograder.gradebook.fingerprint import manifest
from autograder.judge import disk_cache
from autograder.judge.context import JudgeCache
from autograder.judge.disk_cache import DiskCache
from autograder.spec import load_assignment
from tests.conftest import ROOT

VALUE = {"output": torch.randn(2, 3), "trace": [{"name": "conv1", "config": [3, (1, 1)],
                                                 "producer": None, "registered": True}],
         "grads": {"fc.weight": torch.ones(4, 2)}, "count": 7, "scale": 0.5}


def test_a_value_comes_back_as_it_went_in(tmp_path: Path) -> None:
    store = DiskCache(tmp_path / "grader")
    assert store.is_empty() and store.load("run:x") is None
    store.save("run:x", VALUE)
    assert not store.is_empty()
    loaded = DiskCache(tmp_path / "grader").load("run:x")  # a later run's store
    assert torch.equal(loaded["output"], VALUE["output"])
    assert torch.equal(loaded["grads"]["fc.weight"], VALUE["grads"]["fc.weight"])
    assert loaded["trace"] == VALUE["trace"] and loaded["count"] == 7 and loaded["scale"] == 0.5
    assert store.load("run:y") is None
    assert oct((tmp_path / "grader").stat().st_mode & 0o777) == "0o700"


def test_a_damaged_or_foreign_file_is_a_miss(tmp_path: Path) -> None:
    store = DiskCache(tmp_path)
    store.save("run:x", VALUE)
    path = store._path("run:x")
    path.write_bytes(path.read_bytes()[:100])  # truncated
    assert store.load("run:x") is None
    # A file that holds code (a pickled object) is never unpickled: weights_only refuses it.
    torch.save({"key": "run:x", "value": torch.nn.Linear(2, 2)}, path)
    assert store.load("run:x") is None
    # A file written under another key (moved by hand) is not this key's value.
    store.save("run:other", VALUE)
    os.replace(store._path("run:other"), path)
    assert store.load("run:x") is None


def test_only_data_and_plain_tensors_can_be_kept(tmp_path: Path) -> None:
    store = DiskCache(tmp_path)
    for value in (torch.nn.Linear(2, 2), {"model": torch.nn.Linear(2, 2)}, {1: "a"},
                  torch.nn.Parameter(torch.ones(2))):
        with pytest.raises(TypeError):
            store.save("run:x", value)
    assert store.is_empty()


def test_the_judge_cache_keeps_only_what_it_is_asked_to(tmp_path: Path) -> None:
    spec = load_assignment("resnet")
    calls: list[str] = []

    def compute(name: str):
        return lambda: calls.append(name) or {"value": torch.arange(3)}

    first = JudgeCache(spec, DiskCache(tmp_path))
    first.get("run:kept", compute("kept"), keep=True)
    first.get("run:memory", compute("memory"))
    later = JudgeCache(spec, DiskCache(tmp_path))  # the next run of the same grader
    assert torch.equal(later.get("run:kept", compute("kept again"), keep=True)["value"],
                       torch.arange(3))
    later.get("run:memory", compute("memory again"))
    assert calls == ["kept", "memory", "memory again"]


def test_there_is_no_store_where_a_worker_could_write_to_it(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert DiskCache.for_grader("ab" * 32, tmp_path).folder == tmp_path / "reference" / ("ab" * 16)
    # Without Landlock, a worker of a judge that is not root runs as the same user, unconfined.
    monkeypatch.setattr(disk_cache.os, "geteuid", lambda: 1000)
    for abi in (0, 1, 2):  # before ABI 3, Landlock cannot stop a worker truncating a file
        monkeypatch.setattr(disk_cache, "landlock_abi", lambda abi=abi: abi)
        assert DiskCache.for_grader("ab" * 32, tmp_path) is None
    monkeypatch.undo()
    for off in ("off", "0", "none", ""):
        monkeypatch.setenv(disk_cache.CACHE_ENV, off)
        assert DiskCache.for_grader("ab" * 32) is None
    monkeypatch.setenv(disk_cache.CACHE_ENV, str(tmp_path / "mine"))
    assert DiskCache.for_grader("ab" * 32).folder.is_relative_to(tmp_path / "mine")


def test_old_graders_folders_are_pruned(tmp_path: Path) -> None:
    for index in range(disk_cache.KEPT_GRADERS + 3):
        store = DiskCache.for_grader(f"{index:032x}" + "f" * 32, tmp_path)
        store.save("run:x", VALUE)
        os.utime(store.folder, (index, index))  # older first
    left = sorted(p.name for p in (tmp_path / "reference").iterdir())
    assert len(left) == disk_cache.KEPT_GRADERS
    assert f"{disk_cache.KEPT_GRADERS + 2:032x}" in left and f"{0:032x}" not in left


def test_the_preloaded_packages_versions_are_part_of_the_grader() -> None:
    parts = manifest(load_assignment("resnet"))
    assert parts["package torchvision"] == f"torchvision {importlib.metadata.version('torchvision')}"
    assert "package torch" not in parts  # torch._dynamo is torch's, which has its own part


# A run of the real grader in a process of its own: its reports, and whether its judge
# imported torchvision.
GRADE = """
import json, sys
from pathlib import Path
from autograder import api
reports = api.grade([Path(p) for p in sys.argv[1:]], "resnet")
print(json.dumps({"torchvision": "torchvision" in sys.modules,
                  "reports": [r.model_dump(mode="json") for r in reports]}))
"""


def _grade(store: Path, *submissions: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{disk_cache.CACHE_ENV: str(store)})
    run = subprocess.run([sys.executable, "-c", GRADE, *map(str, submissions)], env=env,
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def _verdicts(report: dict) -> list:
    return [(t["name"], t["score"], [(c["check_id"], c["status"], c.get("feedback"))
                                     for c in t["tests"]]) for t in report["tasks"]]


def test_a_run_with_kept_results_grades_as_a_fresh_one_without_torchvision(tmp_path: Path) -> None:
    submissions = [ROOT / "examples" / "resnet" / "good_student",
                   ROOT / "examples" / "resnet" / "buggy_student"]
    fresh = _grade(tmp_path / "store", *submissions)
    kept = list((tmp_path / "store" / "reference").glob("*/*.pt"))
    assert kept, "the first run kept nothing"
    warm = _grade(tmp_path / "store", *submissions)
    # Same scores and the same feedback, word for word, on a correct and a buggy submission.
    assert [_verdicts(r) for r in warm["reports"]] == [_verdicts(r) for r in fresh["reports"]]
    assert [r["score"] for r in warm["reports"]] == [30, pytest.approx(22.5641, abs=1e-3)]
    # The first judge imported torchvision to build its resnet18; the second read its run.
    assert fresh["torchvision"] and not warm["torchvision"]


def test_prefetched_work_is_computed_once_and_its_failure_reaches_the_check(tmp_path: Path) -> None:
    import threading

    cache = JudgeCache(load_assignment("resnet"))
    started = threading.Event()
    calls: list[str] = []

    def slow() -> str:
        started.set()
        calls.append("slow")
        return "value"

    def broken() -> str:
        raise TimeoutError("the budget ran out")

    cache.prefetch("runs:a", slow)
    cache.prefetch("runs:a", slow)  # already under way: not started twice
    assert started.wait(10)
    assert cache.get("runs:a", lambda: calls.append("inline") or "other") == "value"
    cache.prefetch("runs:b", broken)
    with pytest.raises(TimeoutError):  # raised where the check asks, as if computed there
        cache.get("runs:b", broken)
    assert cache.get("runs:b", lambda: "computed again") == "computed again"
    cache.prefetch("runs:c", broken)  # never asked for: settled and dropped, not raised
    cache.prefetch("runs:d", slow)
    threads = list(cache._background._threads)  # this cache's own (a session's judges have theirs)
    cache.close()
    assert calls == ["slow", "slow"] and "runs:d" in cache.values and "runs:c" not in cache.values
    assert threads and not [t for t in threads if t.is_alive()]


def test_a_folder_others_may_write_to_keeps_nothing(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    store = DiskCache(shared / "reference" / "grader")
    store.save("run:x", VALUE)
    assert store.load("run:x") is not None
    shared.chmod(0o777)  # anyone could replace what is kept here
    assert store.load("run:x") is None
    store.save("run:y", VALUE)
    assert not store._path("run:y").exists()
    shared.chmod(0o1777)  # sticky, as /tmp: others cannot replace our folders
    assert store.load("run:x") is not None


def test_no_store_inside_a_folder_workers_may_read(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker may read the Python installation (and /usr/share, /etc): a store placed
    there would hand student code the reference's outputs, so there is none, and one line
    says why."""
    inside = Path(sys.prefix) / "autograder-cache"
    assert disk_cache.readable_by_workers(inside) is not None
    assert DiskCache.for_grader("ab" * 32, inside) is None
    monkeypatch.setenv(disk_cache.CACHE_ENV, "/usr/share/autograder")
    assert DiskCache.for_grader("cd" * 32) is None
    said = capsys.readouterr().err
    assert f"not kept in {inside}" in said and "/usr/share/autograder" in said
    assert "student code may read" in said
    # Through a link, too: the folder is judged where it really is.
    (tmp_path / "link").symlink_to(sys.prefix)
    assert DiskCache.for_grader("ab" * 32, tmp_path / "link" / "cache") is None
    assert disk_cache.readable_by_workers(tmp_path) is None
    assert DiskCache.for_grader("ab" * 32, tmp_path) is not None
    # And through a bind mount, where this machine lets the test make one (root, CI's too).
    mount = tmp_path / "mounted"
    mount.mkdir()
    if subprocess.run(["mount", "--bind", "/usr/share", str(mount)],
                      capture_output=True).returncode == 0:
        try:
            assert disk_cache.readable_by_workers(mount / "cache") == "/usr/share"
        finally:
            subprocess.run(["umount", str(mount)], check=True)


def test_a_file_is_synced_before_it_takes_its_name(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(disk_cache.os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(disk_cache.os, "replace",
                        lambda a, b: events.append("replace") or real_replace(a, b))
    DiskCache(tmp_path / "grader").save("run:x", VALUE)
    assert events == ["fsync", "replace"]


def test_what_a_killed_judge_half_wrote_is_swept(tmp_path: Path) -> None:
    store = DiskCache(tmp_path / "grader")
    store.save("run:x", VALUE)
    stale, fresh = store.folder / ".partial-killed", store.folder / ".partial-writing-now"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - disk_cache.STALE_PARTIAL_SECONDS - 60
    os.utime(stale, (old, old))
    store.save("run:y", VALUE)
    assert not stale.exists() and fresh.exists()
    assert store.load("run:x") is not None and store.load("run:y") is not None
