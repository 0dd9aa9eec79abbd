"""Errors the user can act on: the CLI prints their message as one line, no traceback."""


class UserError(Exception):
    """A problem with what the user asked for (unknown assignment, missing path...)."""
