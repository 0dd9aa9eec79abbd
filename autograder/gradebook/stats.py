"""Class analytics from the gradebook: the score distribution, each task's mean and spread,
each check's pass rate from hardest to easiest, and the known bugs the diagnosis matched.

A known bug is counted from the feedback the comparison checks give when a submission
computes exactly what one of the assignment's mutants computes ("... This is exactly what
happens when <bug>: <hint>"), once per submission.
"""

from __future__ import annotations

import html
import re
import statistics
from dataclasses import dataclass, field

from autograder.gradebook.store import GRADER_FAILURE, Gradebook, Result, latest_results
from autograder.report.text import points

KNOWN_BUG = re.compile(r"this is exactly what happens when (.+?): ", re.IGNORECASE)
HISTOGRAM_BINS = 10


@dataclass(frozen=True)
class Spread:
    mean: float
    median: float
    stdev: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if not values:
            return cls(0, 0, 0, 0, 0)
        return cls(statistics.fmean(values), statistics.median(values),
                   statistics.pstdev(values), min(values), max(values))


@dataclass(frozen=True)
class TaskStats:
    name: str
    max_score: float
    spread: Spread


@dataclass(frozen=True)
class CheckStats:
    task: str
    name: str
    passed: int
    total: int

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class KnownBugStats:
    bug: str
    students: list[str]


@dataclass
class ClassStats:
    assignment: str
    max_score: float
    totals: dict[str, float] = field(default_factory=dict)  # submission id -> total
    spread: Spread = Spread(0, 0, 0, 0, 0)
    histogram: list[tuple[float, float, int]] = field(default_factory=list)
    tasks: list[TaskStats] = field(default_factory=list)
    checks: list[CheckStats] = field(default_factory=list)  # hardest first
    known_bugs: list[KnownBugStats] = field(default_factory=list)  # most frequent first
    grader_failures: list[str] = field(default_factory=list)
    partial: int = 0  # results of a grade -t run (some tasks only)

    @property
    def count(self) -> int:
        return len(self.totals)


def histogram(values: list[float], top: float, bins: int = HISTOGRAM_BINS) -> list[tuple[float, float, int]]:
    """Equal bins over [0, top]; a value on a bin's upper edge counts in the next one, the
    top score in the last."""
    width = top / bins if top > 0 else 1.0
    counts = [0] * bins
    for value in values:
        counts[min(int(value / width), bins - 1) if value > 0 else 0] += 1
    return [(round(i * width, 4), round((i + 1) * width, 4), counts[i]) for i in range(bins)]


def class_stats(results: list[Result]) -> ClassStats:
    """Statistics of one assignment's results (one per submission)."""
    graded = [r for r in results if r.status != GRADER_FAILURE]
    reports = [r.report for r in graded]
    top = max((r.max_score for r in graded), default=0.0)
    stats = ClassStats(results[0].assignment if results else "", top)
    stats.grader_failures = sorted(r.submission_id for r in results if r.status == GRADER_FAILURE)
    stats.partial = sum(1 for r in graded if r.scope)
    stats.totals = {r.submission.id: r.score for r in reports}
    stats.spread = Spread.of(list(stats.totals.values()))
    stats.histogram = histogram(list(stats.totals.values()), top)
    task_names: dict[str, float] = {}
    checks: dict[tuple[str, str], list[int]] = {}
    bugs: dict[str, set[str]] = {}
    for report in reports:
        for task in report.tasks:
            task_names.setdefault(task.name, task.max_score)
            for test in task.tests:
                tally = checks.setdefault((task.name, test.name), [0, 0])
                tally[0] += test.status == "passed"
                tally[1] += 1
                for bug in KNOWN_BUG.findall(test.feedback) if test.status != "passed" else []:
                    bugs.setdefault(bug, set()).add(report.submission.id)
    stats.tasks = [TaskStats(name, top_points, Spread.of(
        [t.score for r in reports for t in r.tasks if t.name == name]))
        for name, top_points in task_names.items()]
    stats.checks = sorted((CheckStats(task, name, p, n) for (task, name), (p, n) in checks.items()),
                          key=lambda c: (c.rate, c.task, c.name))
    stats.known_bugs = sorted((KnownBugStats(bug, sorted(ids)) for bug, ids in bugs.items()),
                              key=lambda b: (-len(b.students), b.bug))
    return stats


def gradebook_stats(book: Gradebook, assignment: str | None = None) -> list[ClassStats]:
    names = [assignment] if assignment else book.assignments()
    return [class_stats(list(latest_results(book, name))) for name in names]


def _students(count: int) -> str:
    return f"{count} student{'s' if count != 1 else ''}"


def stats_text(stats: ClassStats) -> str:
    s = stats.spread
    lines = [f"{stats.assignment}: {stats.count} submission(s) graded, out of {points(stats.max_score)}"]
    if stats.partial:
        lines.append(f"  ({stats.partial} of them graded on some tasks only, with grade -t)")
    if stats.grader_failures:
        lines.append(f"  the grader failed on {len(stats.grader_failures)}: "
                     f"{', '.join(stats.grader_failures[:10])}")
    lines += ["", f"score distribution: mean {points(s.mean)}, median {points(s.median)}, "
              f"sd {points(s.stdev)}, lowest {points(s.low)}, highest {points(s.high)}"]
    widest = max((c for *_, c in stats.histogram), default=0) or 1
    for low, high, count in stats.histogram:
        bar = "#" * round(30 * count / widest)
        lines.append(f"  {points(low):>6} - {points(high):<6} {bar} {count}".rstrip())
    lines += ["", "tasks (mean ± sd, lowest - highest):"]
    width = max((len(t.name) for t in stats.tasks), default=0)
    for task in stats.tasks:
        t = task.spread
        lines.append(f"  {task.name:<{width}}  {points(t.mean)}/{points(task.max_score)} ± "
                     f"{points(t.stdev)}  ({points(t.low)} - {points(t.high)})")
    lines += ["", "checks, hardest first (pass rate):"]
    for check in stats.checks:
        lines.append(f"  {check.rate:>4.0%}  {check.task}: {check.name} "
                     f"({check.passed} of {check.total})")
    lines += ["", "known bugs the diagnosis matched:"]
    lines += [f"  {_students(len(b.students))}: {b.bug}" for b in stats.known_bugs] or ["  none"]
    return "\n".join(lines)


def _svg_histogram(stats: ClassStats) -> str:
    bins = stats.histogram
    width, height, pad = 560, 220, 30
    widest = max((c for *_, c in bins), default=0) or 1
    bar_width = (width - 2 * pad) / max(len(bins), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="histogram" width="{width}" '
             f'height="{height}" role="img" aria-label="histogram of total scores">']
    for i, (low, high, count) in enumerate(bins):
        bar = (height - 2 * pad) * count / widest
        x, y = pad + i * bar_width, height - pad - bar
        parts.append(f'<rect class="bin" x="{x:.1f}" y="{y:.1f}" width="{bar_width - 2:.1f}" '
                     f'height="{bar:.1f}" fill="#3b6ea8" data-count="{count}">'
                     f'<title>{points(low)} - {points(high)}: {count}</title></rect>')
        if count:
            parts.append(f'<text x="{x + bar_width / 2:.1f}" y="{y - 4:.1f}" '
                         f'text-anchor="middle">{count}</text>')
        parts.append(f'<text x="{x:.1f}" y="{height - pad + 14}" font-size="10">{points(low)}</text>')
    parts.append(f'<text x="{width - pad:.1f}" y="{height - pad + 14}" font-size="10">'
                 f'{points(stats.max_score)}</text>')
    parts.append(f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
                 'stroke="#333"/></svg>')
    return "".join(parts)


def _svg_checks(stats: ClassStats) -> str:
    row, label, bar_space = 22, 360, 300
    height = row * len(stats.checks) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="checks" width="{label + bar_space + 60}" '
             f'height="{height}" role="img" aria-label="pass rate of each check">']
    for i, check in enumerate(stats.checks):
        y = 5 + i * row
        name = html.escape(f"{check.task}: {check.name}")
        short = name if len(name) <= 52 else name[:49] + "..."
        parts.append(f'<text x="{label - 6}" y="{y + 14}" text-anchor="end" font-size="11">'
                     f'<title>{name}</title>{short}</text>')
        parts.append(f'<rect x="{label}" y="{y + 2}" width="{bar_space}" height="{row - 6}" fill="#eee"/>')
        parts.append(f'<rect class="rate" x="{label}" y="{y + 2}" width="{bar_space * check.rate:.1f}" '
                     f'height="{row - 6}" fill="#4a9a5b" data-rate="{check.rate:.4f}"/>')
        parts.append(f'<text x="{label + bar_space + 6}" y="{y + 14}" font-size="12">'
                     f'{check.rate:.0%}</text>')
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1000px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:left}th{background:#f4f4f4}h2{margin-top:1.6em}svg text{font-family:inherit}"""


def stats_html(all_stats: list[ClassStats]) -> str:
    """One self-contained page (inline CSS and SVG, no script, nothing fetched)."""
    esc = html.escape
    body = []
    for stats in all_stats:
        s = stats.spread
        body.append(f"<h1>{esc(stats.assignment)}</h1><p id='summary'>{stats.count} submission(s) "
                    f"graded, out of {points(stats.max_score)}: mean {points(s.mean)}, median "
                    f"{points(s.median)}, sd {points(s.stdev)}, lowest {points(s.low)}, highest "
                    f"{points(s.high)}.</p>")
        if stats.grader_failures:
            body.append(f"<p>The grader failed on {len(stats.grader_failures)}: "
                        f"{esc(', '.join(stats.grader_failures))}.</p>")
        body.append("<h2>Score distribution</h2>" + _svg_histogram(stats))
        body.append("<h2>Tasks</h2><table><tr><th>task</th><th>mean</th><th>sd</th><th>lowest</th>"
                    "<th>highest</th><th>points</th></tr>")
        for task in stats.tasks:
            t = task.spread
            body.append(f"<tr><td>{esc(task.name)}</td><td>{points(t.mean)}</td><td>{points(t.stdev)}"
                        f"</td><td>{points(t.low)}</td><td>{points(t.high)}</td>"
                        f"<td>{points(task.max_score)}</td></tr>")
        body.append("</table><h2>Checks, hardest first</h2>" + _svg_checks(stats))
        body.append("<h2>Known bugs the diagnosis matched</h2><ul id='bugs'>")
        body += [f"<li>{_students(len(b.students))}: {esc(b.bug)}</li>" for b in stats.known_bugs]
        body.append("</ul>" if stats.known_bugs else "<li>none</li></ul>")
    title = ", ".join(esc(s.assignment) for s in all_stats) or "no results"
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Class statistics: "
            f"{title}</title><style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n")
