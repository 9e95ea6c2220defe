"""Savepoints in a migration, with PostgreSQL as the judge: ROLLBACK TO SAVEPOINT undoes the statements since its
SAVEPOINT and releases their locks (what lint's rollback-to-savepoint and the migration context state), RELEASE
keeps both; apply refuses a SQL file that rolls back to a savepoint, before running any of it."""

from __future__ import annotations

import psycopg

from tests.test_executor_alembic import apply, one_line_error

UNDONE = ("ALTER TABLE users ADD COLUMN kept text;\nSAVEPOINT s;\nALTER TABLE orders ADD COLUMN undone text;\n"
          "{end} s;\n")
COLUMNS = "SELECT attname FROM pg_attribute WHERE attname IN ('kept', 'undone') ORDER BY 1"
ORDERS_LOCKED = ("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' "
                 "AND relation = 'orders'::regclass")


def _tables(pg_db) -> None:
    pg_db.execute("CREATE TABLE users (id bigint PRIMARY KEY); CREATE TABLE orders (id bigint PRIMARY KEY)")


def test_postgresql_undoes_the_statements_and_releases_the_locks_since_the_savepoint(pg_db):
    _tables(pg_db)
    for end, columns, locked in (("ROLLBACK TO SAVEPOINT", ["kept"], 0), ("RELEASE SAVEPOINT", ["kept", "undone"], 1)):
        with psycopg.connect(pg_db.dsn) as connection:
            for statement in UNDONE.format(end=end).split(";\n")[:-1]:
                connection.execute(statement)
            assert connection.execute(ORDERS_LOCKED).fetchone()[0] == locked
            assert [row[0] for row in connection.execute(COLUMNS)] == columns
            connection.rollback()


def test_apply_refuses_a_sql_migration_that_rolls_back_to_a_savepoint_and_runs_none_of_it(tmp_path, pg_db):
    _tables(pg_db)
    (tmp_path / "001_savepoint.sql").write_text(UNDONE.format(end="ROLLBACK TO SAVEPOINT"))
    error = one_line_error(apply(tmp_path, pg_db.dsn))
    assert "001_savepoint.sql:4: refused by rollback-to-savepoint: ROLLBACK TO SAVEPOINT s undoes every statement " \
           "since SAVEPOINT s (line 2)" in error, error
    assert pg_db.execute(COLUMNS) == []
    (tmp_path / "001_savepoint.sql").write_text(UNDONE.format(end="RELEASE SAVEPOINT"))
    result = apply(tmp_path, pg_db.dsn)
    assert result.returncode == 0, result.stderr
    assert pg_db.execute(COLUMNS) == [("kept",), ("undone",)]
