import pytest

from lint_rules._testing import hits, lint, lint_alembic, rules_hit, run_alembic

RULE = "require-concurrent-reindex"


@pytest.mark.parametrize("sql, fixed", [
    ("REINDEX INDEX users_email_idx;", "REINDEX INDEX CONCURRENTLY users_email_idx"),
    ("REINDEX TABLE users;", "REINDEX TABLE CONCURRENTLY users"),
])
def test_plain_reindex_is_an_error_from_pg12(sql, fixed):
    [finding] = lint(sql, RULE, pg_version=12)
    assert fixed in finding.help


def test_before_pg12_there_is_no_concurrent_form():
    [finding] = lint("REINDEX INDEX i;", RULE, pg_version=11)
    assert "before 12" in finding.message and "CREATE INDEX CONCURRENTLY" in finding.help


@pytest.mark.parametrize("sql, fixed", [
    ("REINDEX (CONCURRENTLY false) INDEX i;", "REINDEX INDEX CONCURRENTLY i"),
    ("REINDEX (CONCURRENTLY off, VERBOSE) TABLE t;", "REINDEX TABLE CONCURRENTLY t"),
    ("REINDEX (CONCURRENTLY 0) TABLE t;", "REINDEX TABLE CONCURRENTLY t"),
])
def test_concurrently_false_is_not_concurrent(sql, fixed):
    [finding] = lint(sql, RULE)
    assert fixed in finding.help


@pytest.mark.parametrize("sql", ["REINDEX SYSTEM app;", "REINDEX (VERBOSE) SYSTEM;", "REINDEX (CONCURRENTLY false) SYSTEM app;"])
def test_reindex_system_is_not_told_to_go_concurrent(sql):
    """PostgreSQL refuses REINDEX SYSTEM CONCURRENTLY (system catalogs cannot be reindexed concurrently):
    its hazard is reindex-system's, whose help fits."""
    assert hits("-- migrator:no-transaction\n" + sql, RULE) == 0
    assert "reindex-system" in rules_hit("-- migrator:no-transaction\n" + sql)


def test_concurrent_reindex_passes():
    assert hits("-- migrator:no-transaction\nREINDEX INDEX CONCURRENTLY i;", RULE) == 0
    assert hits("-- migrator:no-transaction\nREINDEX (CONCURRENTLY) TABLE t;", RULE) == 0
    assert hits("-- migrator:no-transaction\nREINDEX (VERBOSE false, CONCURRENTLY true) TABLE t;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert hits("REINDEX INDEX i;", RULE, transaction=transaction) == 1


ORACLE = [  # tests/test_oracle.py
    "REINDEX (CONCURRENTLY false) INDEX users_email_idx;",
    "REINDEX (CONCURRENTLY off, VERBOSE) TABLE t;",
    "REINDEX (CONCURRENTLY) TABLE t;",
    "REINDEX SYSTEM oracle_template;",
]


def test_alembic_revision_gets_reindex_concurrently_in_autocommit_block_and_it_runs(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, 'op.execute("REINDEX INDEX users_email_idx")', RULE)
    assert finding.help == ('with op.get_context().autocommit_block():\n'
                            '    op.execute("REINDEX INDEX CONCURRENTLY users_email_idx")')
    setup = "CREATE TABLE users (email text); CREATE INDEX users_email_idx ON users (email); INSERT INTO users VALUES ('a')"
    pg_db.execute(setup)
    before = pg_db.execute("SELECT pg_relation_filenode('users_email_idx')")
    run_alembic(pg_db.dsn, "SELECT 1", finding.help)  # in the revision's transaction: no "cannot run inside a transaction block"
    assert pg_db.execute("SELECT pg_relation_filenode('users_email_idx')") != before
    assert pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass") == [(True,)]
    [old] = lint_alembic(tmp_path, 'op.execute("REINDEX TABLE users")', RULE, pg_version=11)
    assert "op.create_index(..., postgresql_concurrently=True)" in old.help and "CREATE INDEX" not in old.help


def test_the_help_says_how_the_files_migration_tool_runs_it_outside_a_transaction():
    [finding] = lint("REINDEX INDEX users_email_idx;", RULE, runner="goose")
    assert finding.help == ("REINDEX INDEX CONCURRENTLY users_email_idx;  -- outside a transaction block: move it to its "
                            "own migration that runs outside the transaction: `-- +goose NO TRANSACTION`")
