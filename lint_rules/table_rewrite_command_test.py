import pytest

from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "table-rewrite-command"


@pytest.mark.parametrize("sql, shown", [
    ("ALTER TABLE events SET LOGGED;", "SET LOGGED"),
    ("ALTER TABLE events SET UNLOGGED;", "SET UNLOGGED"),
    ("ALTER TABLE events SET TABLESPACE fast;", "SET TABLESPACE"),
    ("ALTER TABLE events SET ACCESS METHOD heap2;", "SET ACCESS METHOD"),
    ("VACUUM FULL events;", "VACUUM FULL"),
    ("VACUUM (FULL) events;", "VACUUM FULL"),
    ("VACUUM (FULL true, ANALYZE) events;", "VACUUM FULL"),
    ("CLUSTER events USING events_pkey;", "CLUSTER"),
    ("CLUSTER;", "every clustered table"),
])
def test_rewriting_commands_are_errors(sql, shown):
    [finding] = lint(sql, RULE, transaction="none")
    assert shown in finding.message


@pytest.mark.parametrize("sql", [
    "VACUUM events;", "VACUUM (ANALYZE) events;", "VACUUM (FULL false) events;", "VACUUM (FULL off, FREEZE) events;",
    "ALTER TABLE events SET (fillfactor = 80);",
])
def test_non_rewriting_forms_pass(sql):
    assert hits(sql, RULE, transaction="none") == 0


def test_new_table_passes():
    assert hits("CREATE TABLE events (id int);\nALTER TABLE events SET LOGGED;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits("ALTER TABLE e SET UNLOGGED;", RULE, transaction=transaction, pg_version=pg_version) == 1


@pytest.mark.parametrize("sql, help", [
    ("VACUUM FULL events;", "REPACK (CONCURRENTLY) events;  -- online: ACCESS EXCLUSIVE only for the final swap"),
    ("CLUSTER events USING events_pkey;", "REPACK (CONCURRENTLY) events USING INDEX;  -- online: ACCESS EXCLUSIVE only for the final swap"),
    ("REPACK events;", "REPACK (CONCURRENTLY) events;  -- online: ACCESS EXCLUSIVE only for the final swap"),
    ("REPACK (VERBOSE, CONCURRENTLY off) events;", "REPACK (CONCURRENTLY) events;  -- online: ACCESS EXCLUSIVE only for the final swap"),
])
def test_postgresql_19_offers_repack_concurrently(sql, help):
    [finding] = lint(sql, RULE, transaction="none", pg_version=19)
    assert finding.help == help
    assert finding.message.endswith("rewrites all of events under ACCESS EXCLUSIVE")


def test_repack_concurrently_is_the_online_form():
    assert hits("REPACK (CONCURRENTLY) events;", RULE, transaction="none", pg_version=19) == 0
    assert hits("REPACK (CONCURRENTLY) events;", "concurrently-in-transaction", pg_version=19) == 1
    assert hits("REPACK (CONCURRENTLY) events;", "unanalyzable-statement", pg_version=18) == 1


def test_before_19_the_help_is_pg_repack():
    [finding] = lint("VACUUM FULL events;", RULE, transaction="none", pg_version=18)
    assert "pg_repack" in finding.help


ORACLE = [  # tests/test_oracle.py
    "ALTER TABLE t SET UNLOGGED;",
    "CLUSTER t USING t_pkey;",
    "VACUUM (FULL) t;",
    "VACUUM (FULL false, ANALYZE) t;",
    "ALTER TABLE t SET (fillfactor = 80);",
]


def test_alembic_revision_gets_plain_vacuum_in_autocommit_block_and_it_runs(tmp_path, pg_db):
    body = 'with op.get_context().autocommit_block():\n    op.execute("VACUUM FULL users")'
    [finding] = lint_alembic(tmp_path, body, RULE)
    intro, code = finding.help.split(":\n", 1)
    assert "pg_repack" in intro and code == 'with op.get_context().autocommit_block():\n    op.execute("VACUUM (ANALYZE) users")'
    pg_db.execute("CREATE TABLE users (id int); INSERT INTO users VALUES (1)")
    before = pg_db.execute("SELECT pg_relation_filenode('users')")
    run_alembic(pg_db.dsn, "SELECT 1", code)
    assert pg_db.execute("SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables "
                         "WHERE relid = 'users'::regclass") == [(True,)]
    assert pg_db.execute("SELECT pg_relation_filenode('users')") == before, "plain VACUUM rewrites nothing"
    [repack] = lint_alembic(tmp_path, body, RULE, pg_version=19)  # PostgreSQL 19 is not here to run it
    assert repack.help.startswith('with op.get_context().autocommit_block():\n    op.execute("REPACK (CONCURRENTLY) users")')
