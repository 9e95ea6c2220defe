"""The errors migrator reports to people: one line, no traceback, no password."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or an operation that cannot go on; the message says what and where."""


def first_line(error: BaseException) -> str:
    """An error's first line of text, or its type's name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def database_error(error: BaseException) -> str:
    """A database error's first line and, when PostgreSQL gave one, its DETAIL (which key is
    duplicated, which row fails): what the person fixing the data needs."""
    detail = getattr(getattr(error, "diag", None), "message_detail", None)  # psycopg 3 and psycopg2 alike
    return f"{first_line(error)}: {detail.splitlines()[0]}" if detail else first_line(error)
