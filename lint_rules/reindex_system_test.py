import pytest

from lint_rules._testing import hits, lint

RULE = "reindex-system"


@pytest.mark.parametrize("sql", ["REINDEX SYSTEM app;", "REINDEX SYSTEM;", "REINDEX (VERBOSE) SYSTEM app;"])
def test_reindex_system_is_an_error_with_no_concurrent_help(sql):
    [finding] = lint("-- migrator:no-transaction\n" + sql, RULE)
    assert "cannot be reindexed concurrently" in finding.message
    assert "CONCURRENTLY" not in finding.help and "maintenance window" in finding.help


@pytest.mark.parametrize("sql", ["REINDEX DATABASE app;", "REINDEX SCHEMA app;", "REINDEX TABLE t;", "REINDEX INDEX i;"])
def test_other_reindex_targets_are_not_this_rule(sql):
    """They have a CONCURRENTLY form: require-concurrent-reindex's business."""
    assert hits("-- migrator:no-transaction\n" + sql, RULE) == 0


ORACLE = [  # tests/test_oracle.py: refused in a transaction block, as the analyzer says
    "REINDEX SYSTEM oracle_template;",
]
