"""Turn what happened in a check into a status and feedback a student can act on."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from autograder.checks.errors import CheckFailed
from autograder.report.model import SourceLocation, Status
from autograder.sandbox.client import StudentError, WorkerDied, WorkerTimeout, exhausted_resources
from autograder.sandbox.session import ImportFailed

MAX_FEEDBACK = 4000
# Said by every problem and feedback that blames the grader, not the submission (tests find
# grader failures by it).
GRADER_PROBLEM = "this is a grader problem"


@dataclass
class Outcome:
    status: Status
    feedback: str = ""
    location: SourceLocation | None = None


def cap(text: str, limit: int = MAX_FEEDBACK) -> str:
    return text if len(text) <= limit else text[: limit - 20].rstrip() + " ... (shortened)"


def _where(error: StudentError) -> tuple[str, SourceLocation | None]:
    if not error.frames:
        return "", None
    frame = error.frames[-1]
    code = f": `{frame['code']}`" if frame.get("code") else ""
    text = f" (at {frame['file']} line {frame['line']}, in {frame['function']}{code})"
    return text, SourceLocation(file=frame["file"], line=int(frame["line"]))


def describe_student_error(error: StudentError) -> tuple[str, SourceLocation | None]:
    where, location = _where(error)
    if error.info.get("fault"):
        return error.message + where, location
    if error.type == "SystemExit":
        return ("your code called sys.exit() or exit(); a submission must not end the "
                f"process{where}"), location
    if exhausted_resources(error.info):
        return (f"your code ran out of memory or another limit of the sandbox ({error.type}: "
                f"{error.message}){where}"), location
    return f"your code raised {error.type}: {error.message}{where}", location


def classify(exc: BaseException | None) -> Outcome:
    if exc is None:
        return Outcome("passed")
    if isinstance(exc, WorkerTimeout):
        # A timeout may carry its own feedback (a student's test that hangs, for instance).
        return Outcome("timeout", getattr(exc, "feedback", "") or
                       f"stopped: your code {exc}. Look for an endless loop or "
                       "work that grows with the input.")
    if isinstance(exc, ImportFailed):
        text, location = describe_student_error(exc)
        if isinstance(exc.cause, (WorkerTimeout, WorkerDied)):
            text = str(exc.cause)
        return Outcome("timeout" if isinstance(exc.cause, WorkerTimeout) else "error",
                       cap(f"{exc.file} could not be {'run' if exc.file.endswith('.ipynb') else 'imported'}: "
                           f"{text}"), location)
    if isinstance(exc, StudentError):
        text, location = describe_student_error(exc)
        return Outcome("error", cap(text), location)
    if isinstance(exc, WorkerDied):
        status = "timeout" if exc.cpu_limit else "error"
        return Outcome(status, f"the check could not finish: {exc}")
    if isinstance(exc, CheckFailed):
        location = SourceLocation(file=exc.location[0], line=exc.location[1]) if exc.location else None
        return Outcome("failed", cap(str(exc)), location)
    if isinstance(exc, AssertionError):
        message = str(exc).split("\nassert ")[0].strip() or "a check assertion failed"
        return Outcome("failed", cap(message))
    print(f"autograder: internal error in a check: {type(exc).__name__}: {exc}", file=sys.stderr)
    return Outcome("error", cap(f"the grader could not run this check ({type(exc).__name__}: "
                                f"{exc}); {GRADER_PROBLEM}, tell your instructor"))
