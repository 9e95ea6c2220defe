import pytest

from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "require-concurrent-detach"
SQL = "ALTER TABLE events DETACH PARTITION events_2023;"


def test_plain_detach_is_an_error_from_pg14():
    [finding] = lint(SQL, RULE, pg_version=14)
    assert "DETACH PARTITION events_2023 CONCURRENTLY" in finding.help


def test_before_pg14_there_is_no_concurrent_form():
    assert hits(SQL, RULE, pg_version=13) == 0


def test_concurrent_detach_and_new_table_pass():
    assert hits("-- migrator:no-transaction\nALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY;", RULE) == 0
    assert hits("CREATE TABLE events (at date) PARTITION BY RANGE (at);\n" + SQL, RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert hits(SQL, RULE, transaction=transaction, pg_version=18) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    ("CREATE TABLE m (id bigint, at date) PARTITION BY RANGE (at);\nCREATE TABLE m_all PARTITION OF m FOR VALUES FROM ('2000-01-01') TO ('2100-01-01');", "ALTER TABLE m DETACH PARTITION m_all;"),
    ("CREATE TABLE m (id bigint, at date) PARTITION BY RANGE (at);\nCREATE TABLE m_all PARTITION OF m FOR VALUES FROM ('2000-01-01') TO ('2100-01-01');", "ALTER TABLE m DETACH PARTITION m_all CONCURRENTLY;"),
]


def test_alembic_revision_gets_detach_concurrently_in_autocommit_block_and_it_runs(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, 'op.execute("ALTER TABLE app.events DETACH PARTITION app.events_2023")', RULE)
    assert finding.help == ('with op.get_context().autocommit_block():\n'
                            '    op.execute("ALTER TABLE app.events DETACH PARTITION app.events_2023 CONCURRENTLY")')
    run_alembic(pg_db.dsn, "CREATE SCHEMA app; CREATE TABLE app.events (at date) PARTITION BY RANGE (at);"
                           "CREATE TABLE app.events_2023 PARTITION OF app.events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')",
                finding.help)
    assert pg_db.execute("SELECT count(*) FROM pg_inherits WHERE inhrelid = 'app.events_2023'::regclass") == [(0,)]


def test_the_help_says_how_the_files_migration_tool_runs_it_outside_a_transaction():
    [finding] = lint("ALTER TABLE events DETACH PARTITION e1;", RULE, runner="psql")
    assert finding.help == "ALTER TABLE events DETACH PARTITION e1 CONCURRENTLY;  -- outside a transaction block, as this statement runs"
