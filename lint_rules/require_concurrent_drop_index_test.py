import pytest

from lint_rules import get_rule
from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "require-concurrent-drop-index"


def test_plain_drop_index_is_an_error_with_one_statement_per_index():
    [finding] = lint("DROP INDEX a_idx, b_idx;", RULE)
    assert "ACCESS EXCLUSIVE" in finding.message
    assert "DROP INDEX CONCURRENTLY IF EXISTS a_idx;" in finding.help
    assert "DROP INDEX CONCURRENTLY IF EXISTS b_idx;" in finding.help


def test_concurrent_drop_passes():
    assert hits("-- migrator:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS a_idx;", RULE) == 0


def test_index_created_in_same_migration_may_be_dropped_plainly():
    assert hits("CREATE INDEX CONCURRENTLY tmp_idx ON t (a);\nDROP INDEX tmp_idx;", RULE, transaction="none") == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_flagged_in_every_model_and_version(transaction, pg_version):
    assert hits("DROP INDEX IF EXISTS public.a_idx CASCADE;", RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "DROP INDEX users_email_idx;",
    "DROP INDEX IF EXISTS users_email_idx, mv_id;",
]


def test_alembic_revision_gets_drop_index_concurrently_and_it_runs(tmp_path, pg_db):
    body = 'op.drop_index("users_email_idx", table_name="users")\nop.drop_index("t_a", schema="app")'
    [first, second] = lint_alembic(tmp_path, body, RULE)
    assert first.help == ('with op.get_context().autocommit_block():\n'
                          '    op.drop_index("users_email_idx", if_exists=True, postgresql_concurrently=True)')
    assert 'op.drop_index("t_a", schema="app", if_exists=True, postgresql_concurrently=True)' in second.help
    run_alembic(pg_db.dsn, "CREATE TABLE users (email text); CREATE INDEX users_email_idx ON users (email);"
                           "CREATE SCHEMA app; CREATE TABLE app.t (a int); CREATE INDEX t_a ON app.t (a);",
                first.help + "\n" + second.help)
    assert pg_db.execute("SELECT indexname FROM pg_indexes WHERE indexname IN ('users_email_idx', 't_a')") == []


def test_explain_shows_the_alembic_form():
    assert "postgresql_concurrently=True" in get_rule(RULE).explain()
