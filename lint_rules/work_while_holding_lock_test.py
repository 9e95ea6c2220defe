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


def test_building_on_a_table_created_here_that_holds_no_rows_is_no_work():
    """Alembic's autogenerate: a column on an existing table, then a new table with its index and keys."""
    new = "CREATE TABLE plans (id int PRIMARY KEY, name text);\n"
    built = "CREATE INDEX plans_name ON plans (name);\nALTER TABLE plans ADD CONSTRAINT plans_name_check CHECK (name <> '');\n"
    assert rules_hit(ALTER + new + built + "ALTER TABLE plans ADD COLUMN tier int NOT NULL;", RULE) == []


@pytest.mark.parametrize("filled", [
    "INSERT INTO plans SELECT id, email FROM users;",
    "COPY plans FROM STDIN;",
    "SELECT fill_plans();",  # a function may write to it
    "DO $$ BEGIN EXECUTE 'INSERT INTO plans VALUES (1)'; END $$;",  # dynamic SQL may too
])
def test_but_once_rows_may_have_been_written_to_it_building_on_it_is_work(filled):
    sql = ALTER + "CREATE TABLE plans (id int, name text);\n" + filled + "\nCREATE INDEX plans_name ON plans (name);"
    findings = [f for f in lint(sql, RULE) if "CREATE INDEX" in (f.statement or "")]
    assert len(findings) == 1 and "scans or writes data" in findings[0].message


def test_a_table_created_with_rows_is_not_empty():
    sql = ALTER + "CREATE TABLE plans AS SELECT id FROM users;\nCREATE INDEX plans_id ON plans (id);"
    assert [f.line for f in lint(sql, RULE)] == [2, 3]


@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_version(pg_version):
    assert rules_hit(ALTER + "UPDATE users SET plan = 'x';", RULE, pg_version=pg_version) == [RULE]


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE users ADD COLUMN x int;\nUPDATE orders SET note = 'x';",
    "ALTER TABLE users ADD COLUMN x int;\nCREATE INDEX ON orders (note);",
]
