"""Deadline and late policy: raw score, penalty and final score of a submission."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from autograder.report.model import Lateness, Report
from autograder.spec import LateSpec

DAY = timedelta(days=1)


def lateness(policy: LateSpec, deadline: datetime, submitted_at: datetime,
             raw_score: float) -> Lateness:
    """The penalty for work submitted at ``submitted_at``: ``percent_per_day`` for each started
    day after the deadline and its grace period, at most ``cap_percent``; nothing at all after
    ``accept_days``."""
    over = submitted_at - deadline - timedelta(minutes=policy.grace_minutes)
    days = max(0, math.ceil(over / DAY)) if over > timedelta(0) else 0
    accepted = policy.accept_days is None or over <= timedelta(days=policy.accept_days)
    percent = 100.0 if not accepted else min(policy.cap_percent, policy.percent_per_day * days)
    penalty = round(raw_score * percent / 100, 4)
    return Lateness(deadline=deadline, submitted_at=submitted_at, days_late=days,
                    penalty_percent=round(percent, 4), raw_score=raw_score, penalty=penalty,
                    final_score=round(raw_score - penalty, 4), accepted=accepted)


def apply_late_policy(report: Report, policy: LateSpec, deadline: datetime) -> Report:
    """``report`` with its lateness recorded and its score the final score (task scores stay
    raw). A report without a submission time is left as it is."""
    submitted_at = report.submission.submitted_at
    if submitted_at is None:
        return report
    raw = report.late.raw_score if report.late else report.score
    report.late = lateness(policy, deadline, submitted_at, raw)
    report.score = report.late.final_score
    return report
