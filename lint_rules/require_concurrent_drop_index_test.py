import pytest

from lint_rules._testing import hits, lint

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
