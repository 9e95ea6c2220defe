"""The statements the guard analyzes are the ones the server runs: a driver's parameters inlined where the
server (asyncpg) or the driver (psycopg) reads a placeholder, and nowhere else."""

from __future__ import annotations

import asyncio

import asyncpg
import psycopg
from sqlalchemy.ext.asyncio import create_async_engine

from migrator.alembic_source import inline
from migrator.dbapi import Session

# $1 inside a quoted literal, a dollar-quoted body, a quoted name and a comment is text: PostgreSQL reads one parameter
NUMBERED = """SELECT $1::int4range IS NOT NULL AS a, '$1' AS b, $$ $2 $$ AS c, s."$1" AS d FROM (SELECT 'x' AS "$1") s -- $3"""


def _through_asyncpg(dsn: str, work):
    """work(sync SQLAlchemy connection) run on an asyncpg connection, as an async env.py runs its statements."""
    async def main():
        engine = create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://"))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()
    return asyncio.run(main())


def test_asyncpg_parameters_are_inlined_where_postgresql_reads_them_only(pg_db):
    def work(connection):
        session = Session.under(connection)
        as_sent = connection.exec_driver_sql(NUMBERED, (asyncpg.Range(1, 5),)).one()
        mogrified = inline(session, NUMBERED, (5,))  # a value psycopg adapts: the literal
        fallback = inline(session, NUMBERED, (asyncpg.Range(1, 5),))  # one it cannot: NULL stands in
        dollar_body = inline(session, "DO $$ BEGIN PERFORM $1; END $$", (asyncpg.Range(1, 5),))
        return as_sent, mogrified, fallback, connection.exec_driver_sql(fallback).one(), dollar_body

    as_sent, mogrified, fallback, as_inlined, dollar_body = _through_asyncpg(pg_db.dsn, work)
    assert mogrified == NUMBERED.replace("$1::", "5::", 1)
    assert fallback == NUMBERED.replace("$1::", "NULL::", 1)
    assert tuple(as_sent)[1:] == tuple(as_inlined)[1:] == ("$1", " $2 ", "x")
    assert dollar_body == "DO $$ BEGIN PERFORM $1; END $$"


def test_psycopg_placeholders_are_read_as_the_driver_reads_them(pg_db):
    """psycopg does not parse SQL: its %s is a placeholder anywhere, and %% is one % (so %%s is the text %s)."""
    statement = "SELECT %(r)s AS a, 'x%%s' AS b, %s"
    with psycopg.connect(pg_db.dsn) as connection:
        as_sent = connection.execute("SELECT %(r)s AS a, 'x%%s' AS b", {"r": 1}).fetchone()
        inlined = inline(Session(connection), "SELECT %(r)s AS a, 'x%%s' AS b", {"r": object()})
        assert inlined == "SELECT NULL AS a, 'x%s' AS b"
        assert connection.execute(inlined).fetchone()[1] == as_sent[1] == "x%s"
        assert inline(Session(connection), statement, {"r": object()}) == "SELECT NULL AS a, 'x%s' AS b, NULL"
