"""The errors migrator reports to people: one line, no traceback, no password."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or an operation that cannot go on; the message says what and where."""


def first_line(error: BaseException) -> str:
    """An error's first line of text, or its type's name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
