import pytest

from lint_rules._testing import hits, lint

RULE = "rollback-to-savepoint"


def test_rolling_back_to_a_savepoint_undoes_the_statements_since_it_on_every_run():
    sql = "ALTER TABLE t ADD COLUMN a int;\nSAVEPOINT s;\nALTER TABLE t ADD COLUMN b int;\nROLLBACK TO SAVEPOINT s;"
    [finding] = lint(sql, RULE)
    assert finding.line == 4 and finding.severity == "error"
    assert "undoes every statement since SAVEPOINT s (line 2)" in finding.message


@pytest.mark.parametrize("sql", [
    "SAVEPOINT s;\nALTER TABLE t ADD COLUMN a int;\nRELEASE SAVEPOINT s;",
    "SAVEPOINT s;\nALTER TABLE t ADD COLUMN a int;\nRELEASE s;\nSAVEPOINT s;",
])
def test_a_savepoint_released_undoes_nothing(sql):
    assert hits(sql, RULE) == 0


@pytest.mark.parametrize("sql, why", [
    ("SAVEPOINT s;\nRELEASE SAVEPOINT s;\nROLLBACK TO s;", "with no SAVEPOINT s before it in this transaction"),
    ("SAVEPOINT s;\nCOMMIT;\nBEGIN;\nROLLBACK TO s;", "with no SAVEPOINT s before it in this transaction"),
])
def test_a_savepoint_that_is_gone_is_refused_by_postgresql(sql, why):
    [finding] = lint(sql, RULE)
    assert why in finding.message


def test_outside_a_transaction_block_postgresql_refuses_it():
    [finding] = lint("SAVEPOINT s;\nROLLBACK TO SAVEPOINT s;", RULE, transaction="none")
    assert "outside a transaction block" in finding.message


def test_the_locks_and_set_locals_since_the_savepoint_are_undone_with_it():
    """PostgreSQL releases the locks taken since the savepoint (checked in tests/test_savepoints.py): work after it
    holds only the locks taken before."""
    sql = ("SAVEPOINT s;\nALTER TABLE users ADD COLUMN plan text;\n-- migrator:ignore rollback-to-savepoint -- a test\n"
           "ROLLBACK TO SAVEPOINT s;\nUPDATE orders SET note = 'x';")
    assert hits(sql, "work-while-holding-lock") == 0
    assert hits(sql.replace("ROLLBACK TO SAVEPOINT s", "RELEASE SAVEPOINT s"), "work-while-holding-lock") == 1
