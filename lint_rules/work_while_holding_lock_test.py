import pytest

from lint_rules._testing import lint, rules_hit

RULE = "work-while-holding-lock"
ALTER = "ALTER TABLE users ADD COLUMN plan text;\n"


@pytest.mark.parametrize("follow_up", [
    "UPDATE users SET plan = 'free';",
    "CREATE INDEX users_plan ON users (plan);",
    "ALTER TABLE orders ADD COLUMN note text;",
    "INSERT INTO audit SELECT 1;",
])
def test_work_after_access_exclusive_in_the_same_transaction(follow_up):
    [finding] = lint(ALTER + follow_up, RULE)
    assert "still holds ACCESS EXCLUSIVE on users (taken on line 1)" in finding.message
    assert finding.line == 2


def test_commit_releases_the_lock():
    assert rules_hit("BEGIN;\n" + ALTER + "COMMIT;\nUPDATE users SET plan = 'free';", RULE, transaction="none") == []


def test_autocommit_statements_hold_nothing():
    assert rules_hit(ALTER + "UPDATE users SET plan = 'free';", RULE, transaction="none") == []


def test_harmless_follow_ups_pass():
    assert rules_hit(ALTER + "ALTER TABLE users ALTER COLUMN plan SET DEFAULT 'free';\nCOMMENT ON COLUMN users.plan IS 'x';", RULE) == []


def test_new_tables_do_not_count():
    assert rules_hit("CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int;\nINSERT INTO t VALUES (1);", RULE) == []


@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_version(pg_version):
    assert rules_hit(ALTER + "UPDATE users SET plan = 'x';", RULE, pg_version=pg_version) == [RULE]


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE users ADD COLUMN x int;\nUPDATE orders SET note = 'x';",
    "ALTER TABLE users ADD COLUMN x int;\nCREATE INDEX ON orders (note);",
]
