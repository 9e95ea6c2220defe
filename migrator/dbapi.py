"""The database session under SQLAlchemy as the guard talks to it, whichever driver holds it.

A project's env.py may connect with psycopg 3 or psycopg2 (a `postgresql://` URL means psycopg2
to SQLAlchemy), or, with Alembic's async template, with psycopg 3's AsyncConnection or asyncpg
behind SQLAlchemy's asyncio adapters. The guard reads the catalog and arms timeouts in that same
session and transaction; Session gives it the few calls it needs on any of these.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from enum import IntEnum


class Status(IntEnum):
    """libpq's PQtransactionStatus, which both drivers report."""

    IDLE = 0
    ACTIVE = 1
    INTRANS = 2
    INERROR = 3
    UNKNOWN = 4


class Session:
    """A DBAPI connection of psycopg 3 or psycopg2, or SQLAlchemy's asyncio adapter of a psycopg 3
    AsyncConnection or of an asyncpg connection. The adapters' calls wait the way the adapters' own
    do: inside the greenlet that SQLAlchemy runs an AsyncConnection.run_sync() function in, which is
    where env.py's statements go out."""

    def __init__(self, connection):
        import psycopg

        self.dbapi = self.connection = connection
        self._wait = lambda result: result
        inner = getattr(connection, "_connection", None)  # what SQLAlchemy's asyncio adapter wraps
        self.asyncpg = type(inner).__module__.startswith("asyncpg.")
        if isinstance(inner, psycopg.AsyncConnection) or self.asyncpg:
            from sqlalchemy.util import await_only

            self.connection, self._wait = inner, await_only
        self.psycopg3 = isinstance(self.connection, (psycopg.Connection, psycopg.AsyncConnection))

    @classmethod
    def under(cls, conn) -> "Session":
        """The DBAPI session under a SQLAlchemy connection."""
        return cls(conn.connection.dbapi_connection)

    @property
    def status(self) -> Status:
        if self.asyncpg:  # asyncpg tells in or out only; the adapter begins its transaction at its first statement
            return Status.INTRANS if self.connection.is_in_transaction() else Status.IDLE
        if self.psycopg3:
            return Status(self.connection.info.transaction_status)
        return Status(self.connection.get_transaction_status())

    @property
    def errors(self) -> type[Exception]:
        """The driver's base class of database errors."""
        if self.asyncpg:
            import asyncpg

            return asyncpg.PostgresError
        if self.psycopg3:
            import psycopg

            return psycopg.Error
        import psycopg2

        return psycopg2.Error

    @property
    def autocommit(self) -> bool:
        return bool(self.dbapi.autocommit)

    def rows(self, sql: str, params=None) -> list[tuple]:
        """The rows a query returns (its parameters bound the driver's way: %s / %(name)s)."""
        if self.asyncpg:
            self._begin()
            return [tuple(row) for row in self._wait(self.connection.fetch(*_numbered(sql, params)))]
        if self.psycopg3:
            return self._wait(self._wait(self.connection.execute(sql, params)).fetchall())
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def run(self, sql) -> None:
        """Statements without parameters (text, or psycopg's sql.Composed), several at once if need be."""
        if self.asyncpg:
            self._begin()
            self._wait(self.connection.execute(sql if isinstance(sql, str) else sql.as_string(None)))
            return
        if self.psycopg3:
            self._wait(self.connection.execute(sql))
            return
        with self.connection.cursor() as cursor:
            cursor.execute(sql if isinstance(sql, str) else sql.as_string(None))

    def mogrify(self, sql: str, params) -> str:
        """The statement with its parameters inlined as SQL literals."""
        if self.asyncpg:
            from psycopg.sql import Literal

            values = params or ()
            return replace_placeholders(sql, True, lambda number: Literal(values[number - 1]).as_string(None)) if values else sql
        if self.psycopg3:
            import psycopg

            client = psycopg.ClientCursor if isinstance(self.connection, psycopg.Connection) else psycopg.AsyncClientCursor
            return client(self.connection).mogrify(sql, params)  # only adapts the values: nothing to close on the server
        with self.connection.cursor() as cursor:
            return cursor.mogrify(sql, params).decode()

    def rollback(self) -> None:
        self.dbapi.rollback()  # an adapter's own, so that it knows its transaction is over

    def commit(self) -> None:
        self.dbapi.commit()  # an adapter's own, as rollback()

    def _begin(self) -> None:
        """asyncpg: open the adapter's transaction now, as its next statement would, so that what the
        guard reads and sets happens in it."""
        if not self.autocommit and not self.connection.is_in_transaction():
            self._wait(self.dbapi._start_transaction())

    @contextlib.contextmanager
    def rolled_back(self):
        """A probe that writes, undone after: in a savepoint of the transaction in progress, or in a
        transaction of its own on an autocommit session."""
        own = self.autocommit and self.status == Status.IDLE
        self.run("BEGIN" if own else "SAVEPOINT migrator_probe")
        try:
            yield
        finally:
            self.run("ROLLBACK" if own else "ROLLBACK TO SAVEPOINT migrator_probe; RELEASE SAVEPOINT migrator_probe")


# psycopg's and psycopg2's placeholders, read as the drivers read them: anywhere in the text (inside a
# quoted literal too: they do not parse SQL), %% standing for one %
_PYFORMAT = re.compile(r"%%|%\((\w+)\)s|%s")


def replace_placeholders(sql: str, numbered: bool, value) -> str:
    """The statement with each of its parameter placeholders replaced by value(its number, from 1).

    numbered: asyncpg's $1, $2 ..., which PostgreSQL itself reads, so only where its tokenizer finds one (not
    inside a quoted literal, a dollar-quoted body, an identifier or a comment: sqlglot's tokenizer decides);
    else psycopg's %s and %(name)s, counted in order as the drivers do (%% is one %)."""
    if not numbered:
        count = itertools.count(1)
        return _PYFORMAT.sub(lambda match: "%" if match[0] == "%%" else value(next(count)), sql)
    from sqlglot.tokens import TokenType

    from migrator.sqltext import tokenize

    tokens = tokenize(sql)
    pieces, done = [], 0
    for dollar, number in zip(tokens, tokens[1:]):
        if (dollar.token_type == TokenType.PARAMETER and dollar.text == "$" and number.token_type == TokenType.NUMBER
                and number.start == dollar.end + 1 and number.text.isdigit()):
            pieces += [sql[done:dollar.start], value(int(number.text))]
            done = number.end + 1
    return "".join(pieces) + sql[done:]


def _numbered(sql: str, params) -> tuple:
    """A query with psycopg's placeholders (%s, %(name)s) as asyncpg takes it: $1, $2 ... and the values in order."""
    values = []

    def number(match) -> str:
        if match[0] == "%%":
            return "%"
        values.append(params[match[1]] if match[1] else params[len(values)])
        return f"${len(values)}"

    return _PYFORMAT.sub(number, sql), *values
