import pytest

from lint_rules import get_rule
from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "add-unique-constraint"


@pytest.mark.parametrize("sql", [
    "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
    "ALTER TABLE users ADD UNIQUE (email);",
    "ALTER TABLE users ADD COLUMN handle text UNIQUE;",
    "ALTER TABLE users ADD COLUMN team_id bigint UNIQUE REFERENCES teams;",
    "ALTER TABLE users ADD COLUMN team_id bigint REFERENCES teams UNIQUE;",
])
def test_unique_built_under_lock_is_an_error(sql):
    [finding] = lint(sql, RULE)
    assert "ACCESS EXCLUSIVE" in finding.message
    assert "CREATE UNIQUE INDEX CONCURRENTLY" in finding.help and "UNIQUE USING INDEX" in finding.help
    assert "NOT VALID" not in finding.help


def test_using_index_passes():
    assert hits("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;", RULE) == 0


def test_new_table_passes():
    assert hits("CREATE TABLE users (email text);\nALTER TABLE users ADD UNIQUE (email);", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [10, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits("ALTER TABLE u ADD UNIQUE (e);", RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
    "ALTER TABLE users ADD COLUMN nick text UNIQUE;",
    "ALTER TABLE orders ADD COLUMN team_id bigint UNIQUE REFERENCES teams;",
]


def test_alembic_revision_gets_create_index_concurrently_then_using_index_and_it_runs(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, 'op.create_unique_constraint("users_email_key", "users", ["email"], schema="app")', RULE)
    assert finding.help == (
        'with op.get_context().autocommit_block():\n'
        '    op.create_index("users_email_key", "users", ["email"], unique=True, schema="app", postgresql_concurrently=True)\n'
        'op.execute("ALTER TABLE app.users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key")')
    run_alembic(pg_db.dsn, "CREATE SCHEMA app; CREATE TABLE app.users (id int, email text)", finding.help)
    assert pg_db.execute("SELECT contype FROM pg_constraint WHERE conname = 'users_email_key'") == [("u",)]


def test_explain_shows_the_alembic_form():
    assert "UNIQUE USING INDEX" in get_rule(RULE).explain().split("In an Alembic revision")[1]
