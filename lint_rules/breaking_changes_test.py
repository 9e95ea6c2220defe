"""rename-column, rename-table, drop-column, drop-table and ban-truncate."""

import pytest

from lint_rules._testing import hits, lint, lint_alembic, run_alembic

CASES = [
    ("rename-column", "ALTER TABLE users RENAME COLUMN name TO full_name;", "renaming users.name to full_name"),
    ("rename-column", "ALTER TABLE users RENAME name TO full_name;", "renaming users.name to full_name"),
    ("rename-table", "ALTER TABLE users RENAME TO accounts;", "renaming table users to accounts"),
    ("drop-column", "ALTER TABLE users DROP COLUMN legacy;", "dropping column users.legacy"),
    ("drop-table", "DROP TABLE IF EXISTS sessions, tokens;", "dropping table sessions"),
    ("ban-truncate", "TRUNCATE sessions;", "TRUNCATE sessions"),
]


@pytest.mark.parametrize("rule, sql, message", CASES)
def test_breaking_change_on_existing_objects(rule, sql, message):
    findings = lint(sql, rule)
    assert findings and message in findings[0].message


@pytest.mark.parametrize("rule, sql, message", CASES)
def test_fine_on_objects_created_in_the_same_migration(rule, sql, message):
    create = "CREATE TABLE users (name text, legacy int);\nCREATE TABLE sessions (id int);\nCREATE TABLE tokens (id int);\n"
    assert hits(create + sql, rule) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
@pytest.mark.parametrize("rule, sql, message", CASES)
def test_every_model_and_version(rule, sql, message, transaction, pg_version):
    assert hits(sql, rule, transaction=transaction, pg_version=pg_version) >= 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE users RENAME COLUMN name TO full_name;",
    "ALTER TABLE teams RENAME TO squads;",
    "ALTER TABLE users DROP COLUMN doc;",
]


def test_on_a_revision_rename_table_leaves_a_view_under_the_old_name_that_the_old_code_still_uses(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, 'op.rename_table("users", "members", schema="app")', "rename-table")
    code = finding.help.split(":\n", 1)[1]
    assert code == ('op.rename_table("users", "members", schema="app")\n'
                    'op.execute("CREATE VIEW app.users AS SELECT * FROM app.members")')
    run_alembic(pg_db.dsn, "CREATE SCHEMA app; CREATE TABLE app.users (id int, email text)", code)
    pg_db.execute("INSERT INTO app.users VALUES (1, 'a')")  # the old code's write goes through the view
    assert pg_db.execute("SELECT id, email FROM app.members") == [(1, "a")]


@pytest.mark.parametrize("rule, sql", [
    ("drop-table", "DROP TABLE IF EXISTS pg_temp.staging;"),
    ("drop-column", "ALTER TABLE pg_temp.staging DROP COLUMN a;"),
    ("rename-table", "ALTER TABLE pg_temp.staging RENAME TO staged;"),
])
def test_fine_on_temporary_tables(rule, sql):
    """No other session sees a temporary table, and a migration's session has none before it runs."""
    assert hits(sql, rule) == 0
