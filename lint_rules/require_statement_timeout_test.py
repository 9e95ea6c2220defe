import pytest

from lint_rules import get_rule
from lint_rules._testing import hits, lint, alembic_timeout_in_force, lint_alembic

RULE = "require-statement-timeout"
ALTER = "ALTER TABLE users DROP COLUMN legacy;\n"


def test_lock_taking_statement_without_timeout_is_an_error():
    [finding] = lint(ALTER, RULE)
    assert "statement_timeout" in finding.message


@pytest.mark.parametrize("setting", ["SET LOCAL statement_timeout = '5s';", "SET statement_timeout = 5000;"])
def test_timeout_set_before_passes(setting):
    assert hits(setting + "\n" + ALTER, RULE) == 0


def test_lock_timeout_alone_is_not_enough():
    assert hits("SET LOCAL lock_timeout = '5s';\n" + ALTER, RULE) == 1


def test_online_statements_need_none():
    assert hits("-- migrator:no-transaction\nCREATE INDEX CONCURRENTLY i ON users (a);", RULE) == 0


def test_new_table_passes():
    assert hits("CREATE TABLE users (legacy int);\n" + ALTER, RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [10, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits(ALTER, RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "SET statement_timeout = '1s';\nCREATE INDEX i ON t (a);\nRESET statement_timeout;",
]


def test_alembic_revision_is_told_about_migrator_apply_and_op_execute(tmp_path, pg_db):
    assert alembic_timeout_in_force(tmp_path, pg_db.dsn, RULE, "statement_timeout") == "5s"


def test_alembic_revision_applied_by_migrator_is_not_flagged(tmp_path):
    assert lint_alembic(tmp_path, 'op.add_column("users", sa.Column("nickname", sa.Text()))', RULE, runner="migrator") == []


def test_explain_shows_the_alembic_form():
    assert "op.execute(\"SET LOCAL statement_timeout" in get_rule(RULE).explain()
