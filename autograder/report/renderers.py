"""The output formats: one registry, one protocol, one dispatcher that applies the audience.

Every format is one module of this package exposing ``RENDERER``, an object with
``render(request) -> str``; it is listed once in :data:`FORMATS` (its name, the module, a
line of help), which is where the CLI's ``--format`` choices and help come from. This
module imports no format (the CLI reads the list without loading any of them). A renderer
gets everything it needs in the :class:`RenderRequest`: the reports, already seen through
the audience (applied here, once), and the points of checks that did not run. No renderer
reads the disk.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from autograder.errors import UserError

if TYPE_CHECKING:
    from autograder.report.audience import Audience, ReportView
    from autograder.report.model import Report


class Format(NamedTuple):
    module: str
    help: str


# name -> where its RENDERER lives and what it writes. A new format: one module and one line.
FORMATS: dict[str, Format] = {
    "gradescope": Format("autograder.report.gradescope", "results.json (one report)"),
    "junit": Format("autograder.report.junit", "JUnit XML"),
    "markdown": Format("autograder.report.markdown", "score tables and feedback"),
    "github": Format("autograder.report.github", "workflow-command annotations"),
}


@dataclass(frozen=True)
class RenderRequest:
    """What a renderer renders from."""

    views: list[ReportView]  # each report as the audience may see it
    not_run: list[float]  # per report: points of the checks that did not run (a `check`)
    path_prefix: str | None = None  # github: the submission's folder in the repository

    @property
    def reports(self) -> list[Report]:
        """The reports in full (only for a format whose platform applies visibility itself)."""
        return [v.report for v in self.views]


class Renderer(Protocol):
    def render(self, request: RenderRequest) -> str: ...


def format_help() -> str:
    """``name: what it writes`` for every format, for the CLI."""
    return "; ".join(f"{name}: {entry.help}" for name, entry in FORMATS.items()) + "."


def renderer(name: str) -> Renderer:
    if name not in FORMATS:
        raise UserError(f"unknown format '{name}' (known: {', '.join(FORMATS)})")
    return importlib.import_module(FORMATS[name].module).RENDERER


def render(name: str, reports: list[Report], audience: Audience,
           not_run: list[float] | None = None, path_prefix: str | None = None) -> str:
    """``reports`` in format ``name`` for ``audience``."""
    from autograder.report.audience import view

    chosen = renderer(name)
    request = RenderRequest([view(r, audience) for r in reports],
                            list(not_run or [0.0] * len(reports)), path_prefix)
    return chosen.render(request)
