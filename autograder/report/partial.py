"""Reports of some tasks only (``grade --task``): merged into the whole, never taken for it."""

from __future__ import annotations

from autograder.errors import UserError
from autograder.report.model import Report


def can_merge(earlier: Report, later: Report) -> bool:
    """Whether ``later``'s tasks may replace those of ``earlier``: the same assignment,
    submission content, grader fingerprint and seed."""
    return (earlier.assignment == later.assignment
            and earlier.submission.id == later.submission.id
            and bool(later.submission.content_hash)
            and earlier.submission.content_hash == later.submission.content_hash
            and bool(later.grader_fingerprint)
            and earlier.grader_fingerprint == later.grader_fingerprint
            and earlier.seed == later.seed)


def merge(earlier: Report, later: Report, task_order: list[str]) -> Report:
    """``earlier`` with the tasks ``later`` graded replaced (``can_merge`` must hold).
    ``task_order``: every task of the assignment, in order; the merge is partial until it
    holds them all."""
    tasks = {t.name: t for t in earlier.tasks} | {t.name: t for t in later.tasks}
    ordered = [tasks[name] for name in task_order if name in tasks]
    ordered += [task for name, task in tasks.items() if name not in task_order]
    problems = list(dict.fromkeys([*earlier.problems, *later.problems]))
    raw = round(sum(t.score for t in ordered), 4)
    late = later.late
    if late is not None:  # the same lateness, on the merged raw score
        penalty = round(raw * late.penalty_percent / 100, 4)
        late = late.model_copy(update={"raw_score": raw, "penalty": penalty,
                                       "final_score": round(raw - penalty, 4)})
    return later.model_copy(update={
        "tasks": ordered, "problems": problems, "late": late,
        "score": late.final_score if late else raw,
        "max_score": round(sum(t.max_score for t in ordered), 4),
        "partial": any(name not in tasks for name in task_order)})


def refuse_partial(reports: list[Report], where: str) -> None:
    """Exports take whole reports only: one line naming the first partial one."""
    partial = [r for r in reports if r.partial]
    if partial:
        first = partial[0]
        graded = ", ".join(t.name for t in first.tasks)
        raise UserError(
            f"{len(partial)} report(s) are partial (grade --task), for instance "
            f"{first.submission.id} with only {graded}: {where} takes whole reports; grade "
            "the remaining tasks into the same folder (they merge) or grade every task")
