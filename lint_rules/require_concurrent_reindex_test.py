import pytest

from lint_rules._testing import hits, lint

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


def test_concurrent_reindex_passes():
    assert hits("-- migrator:no-transaction\nREINDEX INDEX CONCURRENTLY i;", RULE) == 0
    assert hits("-- migrator:no-transaction\nREINDEX (CONCURRENTLY) TABLE t;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert hits("REINDEX INDEX i;", RULE, transaction=transaction) == 1
