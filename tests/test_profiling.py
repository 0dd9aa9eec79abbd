"""The benchmark's profile: a real grading run records where the time went, phase by phase,
and nothing at all when profiling is off."""

from __future__ import annotations

from pathlib import Path

from autograder import api, profiling
from tests.conftest import ROOT

GOOD = ROOT / "examples" / "resnet" / "good_student"


def test_profile_records_each_phase_of_a_submission(tmp_path: Path) -> None:
    path = tmp_path / "profile.jsonl"
    profiling.enable(path)
    try:
        [report] = api.grade([GOOD], "resnet", tasks=["BasicBlock"])
    finally:
        profiling.disable()
    [record] = profiling.read(path)
    assert record["submission"] == str(GOOD)
    phases = record["phases"]
    for phase in ("ingest", "pytest start-up and collection", "student import (load_module / "
                  "load_notebook)", "worker spawn (zygote fork, until its hello)", "report build",
                  "grade (whole submission, in the judge)"):
        assert phases[phase][0] > 0 and phases[phase][1] >= 1, phase
    checks = {p: v for p, v in phases.items() if p.startswith("check BasicBlock: ")}
    assert sum(count for _, count in checks.values()) == len(report.tasks[0].tests)
    assert phases["grade (whole submission, in the judge)"][0] >= sum(s for s, _ in checks.values())


def test_nothing_is_recorded_when_profiling_is_off(tmp_path: Path) -> None:
    path = tmp_path / "profile.jsonl"
    profiling.enable(path)
    profiling.disable()
    with profiling.timed("ingest"):
        profiling.add("check", 1.0)
    profiling.flush("submission")
    assert not path.exists()
