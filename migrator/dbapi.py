"""The database session under SQLAlchemy as the guard talks to it, whichever driver holds it.

A project's env.py may connect with psycopg 3 or psycopg2 (a `postgresql://` URL means psycopg2
to SQLAlchemy). The guard reads the catalog and arms timeouts in that same session and
transaction; Session gives it the few calls it needs on either driver.
"""

from __future__ import annotations

import contextlib
from enum import IntEnum


class Status(IntEnum):
    """libpq's PQtransactionStatus, which both drivers report."""

    IDLE = 0
    ACTIVE = 1
    INTRANS = 2
    INERROR = 3
    UNKNOWN = 4


class Session:
    """A DBAPI connection of psycopg 3 or psycopg2."""

    def __init__(self, connection):
        import psycopg

        self.connection = connection
        self.psycopg3 = isinstance(connection, psycopg.Connection)

    @property
    def status(self) -> Status:
        if self.psycopg3:
            return Status(self.connection.info.transaction_status)
        return Status(self.connection.get_transaction_status())

    @property
    def autocommit(self) -> bool:
        return bool(self.connection.autocommit)

    def rows(self, sql: str, params=None) -> list[tuple]:
        """The rows a query returns (its parameters bound the driver's way: %s / %(name)s)."""
        if self.psycopg3:
            return self.connection.execute(sql, params).fetchall()
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def run(self, sql) -> None:
        """Statements without parameters (text, or psycopg's sql.Composed), several at once if need be."""
        if self.psycopg3:
            self.connection.execute(sql)
            return
        with self.connection.cursor() as cursor:
            cursor.execute(sql if isinstance(sql, str) else sql.as_string(None))

    def mogrify(self, sql: str, params) -> str:
        """The statement with its parameters inlined as SQL literals."""
        if self.psycopg3:
            import psycopg

            with psycopg.ClientCursor(self.connection) as cursor:
                return cursor.mogrify(sql, params)
        with self.connection.cursor() as cursor:
            return cursor.mogrify(sql, params).decode()

    def rollback(self) -> None:
        self.connection.rollback()

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
