import psycopg
import pytest

from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "prefer-robust-stmts"
AUTOCOMMIT = "-- migrator:no-transaction\n"


def test_the_whole_finding():
    [finding] = lint(AUTOCOMMIT + "ALTER TABLE users ADD COLUMN nickname text;", RULE)
    assert (finding.line, finding.message, finding.help) == (
        2,
        "ADD COLUMN nickname without IF NOT EXISTS: if the migration fails after it, running it again fails here",
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS nickname ...;",
    )


@pytest.mark.parametrize("sql", [
    "CREATE TABLE t (a int);",
    "CREATE INDEX i ON t (a);",
    "DROP TABLE t;",
    "DROP INDEX CONCURRENTLY i;",
    "DROP TYPE mood;",
    "ALTER TABLE t DROP COLUMN a;",
    "ALTER TABLE t DROP CONSTRAINT c;",
    "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;",
    "ALTER TYPE mood ADD VALUE 'sad';",
    "CREATE INDEX CONCURRENTLY i ON t (a);",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);",  # keeps an INVALID index: not robust either
    "CREATE TEMP TABLE t (a int);",  # a retry on the same connection finds it
    "CREATE TEMP TABLE t (a int) ON COMMIT DELETE ROWS;",
    "CREATE TABLE t (a int) ON COMMIT DROP;",  # PostgreSQL refuses ON COMMIT on a permanent table
])
def test_statements_a_rerun_trips_on(sql):
    assert hits(AUTOCOMMIT + sql, RULE) == 1


@pytest.mark.parametrize("sql", [
    "CREATE TABLE IF NOT EXISTS t (a int);",
    "CREATE INDEX IF NOT EXISTS i ON t (a);",
    "DROP TABLE IF EXISTS t;",
    "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int, DROP COLUMN IF EXISTS b;",
    "ALTER TABLE t DROP CONSTRAINT IF EXISTS c;\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;",
    "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'sad';",
    "DROP INDEX CONCURRENTLY IF EXISTS i;\nCREATE INDEX CONCURRENTLY i ON t (a);",
    "ALTER TABLE t VALIDATE CONSTRAINT c;\nUPDATE t SET a = 1;",
    "CREATE TEMPORARY TABLE t (a int) ON COMMIT DROP;",
])
def test_rerunnable_forms_pass(sql):
    assert hits(AUTOCOMMIT + sql, RULE) == 0


def test_a_transaction_makes_any_statement_rerunnable():
    assert hits("CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int;", RULE) == 0
    assert hits(AUTOCOMMIT + "BEGIN;\nDROP TABLE t;\nCOMMIT;\nDROP TABLE u;", RULE) == 1


def test_one_drop_clears_the_way_for_one_add(pg_db):
    twice = ("ALTER TABLE t DROP CONSTRAINT IF EXISTS c;\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);\n"
             "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);")
    [finding] = lint(AUTOCOMMIT + twice, RULE)
    assert finding.line == 4
    pg_db.execute("CREATE TABLE t (a int)")
    with pytest.raises(psycopg.errors.DuplicateObject):  # the second ADD fails even on the first run
        pg_db.execute(twice)
    index_twice = "DROP INDEX CONCURRENTLY IF EXISTS i;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCREATE INDEX CONCURRENTLY i ON t (a);"
    assert hits(AUTOCOMMIT + index_twice, RULE) == 1


def test_an_index_without_a_name_is_built_again_by_a_rerun(pg_db):
    """PostgreSQL names it anew each time: the re-run succeeds, with a second identical index."""
    for sql in ("CREATE INDEX ON t (a);", "CREATE INDEX CONCURRENTLY ON t (a);"):
        [finding] = lint(AUTOCOMMIT + sql, RULE)
        assert finding.message.startswith("CREATE INDEX without a name cannot be re-run: a second run builds a second")
        assert finding.help.endswith("IF NOT EXISTS <name> ON t ...")
    pg_db.execute("CREATE TABLE t (a int)")
    for _ in range(2):
        pg_db.execute("CREATE INDEX ON t (a)")
    assert pg_db.execute("SELECT indexname FROM pg_indexes WHERE tablename = 't' ORDER BY 1") == [("t_a_idx",), ("t_a_idx1",)]


def test_a_temporary_table_dropped_at_commit_leaves_nothing_for_a_rerun(pg_db):
    with psycopg.connect(pg_db.dsn, autocommit=True) as retry_on_one_connection:
        for _ in range(2):
            retry_on_one_connection.execute("CREATE TEMPORARY TABLE t (a int) ON COMMIT DROP")
        retry_on_one_connection.execute("CREATE TEMPORARY TABLE u (a int)")
        with pytest.raises(psycopg.errors.DuplicateTable):
            retry_on_one_connection.execute("CREATE TEMPORARY TABLE u (a int)")


@pytest.mark.parametrize("pg_version", [11, 19])
def test_every_version(pg_version):
    assert hits(AUTOCOMMIT + "DROP TABLE t;", RULE, pg_version=pg_version) == 1


def test_postgresql_reruns_the_robust_concurrent_build_and_not_the_other(pg_db):
    """A failed CONCURRENTLY build leaves an INVALID index: IF NOT EXISTS keeps it, DROP ... IF EXISTS clears it."""
    pg_db.execute("CREATE TABLE t (a int); INSERT INTO t VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        pg_db.execute("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)")
    pg_db.execute("DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t)")
    pg_db.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)")
    assert pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'i'::regclass") == [(False,)]
    with pytest.raises(psycopg.errors.DuplicateTable):
        pg_db.execute("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)")
    pg_db.execute("DROP INDEX CONCURRENTLY IF EXISTS i")
    pg_db.execute("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)")
    assert pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'i'::regclass") == [(True,)]


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE users ADD COLUMN IF NOT EXISTS nickname text;",
    "DROP INDEX IF EXISTS users_email_idx;\nCREATE INDEX IF NOT EXISTS users_email_idx ON users (email);",
    "ALTER TABLE users DROP COLUMN IF EXISTS nope;",
]


def test_on_a_revision_the_if_exists_forms_are_alembic_keywords_that_run_twice(tmp_path, pg_db):
    ops = ['op.drop_column("t", "n")', 'op.drop_constraint("t_n", "t")', 'op.execute("ALTER TYPE mood ADD VALUE \'x\'")']
    helps = [lint_alembic(tmp_path, "with op.get_context().autocommit_block():\n    " + op, RULE)[0].help for op in ops]
    assert helps[:2] == ['op.drop_column("t", "n", if_exists=True)  # Alembic 1.16+',
                         'op.drop_constraint("t_n", "t", if_exists=True)  # Alembic 1.16+']
    assert helps[2] == 'op.execute("ALTER TYPE mood ADD VALUE IF NOT EXISTS \'x\'")'
    twice = "\n".join(helps * 2)
    run_alembic(pg_db.dsn, "CREATE TYPE mood AS ENUM ('x'); CREATE TABLE t (n int CONSTRAINT t_n CHECK (n > 0))", twice)
    assert pg_db.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'n'") == [(0,)]
