"""How a check says what is wrong."""

from __future__ import annotations


class CheckFailed(AssertionError):
    """A check failed; the message is the feedback a student reads.

    ``location`` optionally points at a line of the student's own file ("model.py", 42).
    """

    def __init__(self, message: str, location: tuple[str, int] | None = None) -> None:
        super().__init__(message)
        self.location = location
