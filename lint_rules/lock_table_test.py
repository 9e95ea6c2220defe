import pytest

from lint_rules._testing import hits, lint

RULE = "lock-table"


@pytest.mark.parametrize("sql, mode", [("LOCK TABLE users;", "ACCESS EXCLUSIVE"), ("LOCK users IN SHARE MODE;", "SHARE")])
def test_strong_explicit_locks_are_errors(sql, mode):
    [finding] = lint(sql, RULE)
    assert f"takes {mode} on users" in finding.message


def test_weak_lock_and_new_table_pass():
    assert hits("LOCK users IN ROW EXCLUSIVE MODE;", RULE) == 0
    assert hits("CREATE TABLE t (a int);\nLOCK TABLE t;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert hits("LOCK TABLE t IN EXCLUSIVE MODE;", RULE, transaction=transaction) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "LOCK TABLE users IN SHARE MODE;",
    "LOCK users, orders IN ACCESS EXCLUSIVE MODE;",
    "LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE NOWAIT;",
]
