import pytest

from lint_rules import get_rule
from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "constraint-missing-not-valid"


@pytest.mark.parametrize("sql", [
    "ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total >= 0);",
    "ALTER TABLE orders ADD CHECK (total >= 0);",
])
def test_validated_check_is_an_error(sql):
    [finding] = lint(sql, RULE)
    assert "ACCESS EXCLUSIVE" in finding.message
    assert "NOT VALID" in finding.help and "VALIDATE CONSTRAINT" in finding.help


@pytest.mark.parametrize("sql", [
    "ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total >= 0) NOT VALID;",
    "ALTER TABLE orders ADD CHECK (total IS NOT NULL) NOT VALID;",
    "ALTER TABLE orders ADD CONSTRAINT c CHECK (total > 0) NOT VALID, ADD COLUMN x int;",
])
def test_not_valid_passes(sql):
    assert hits(sql, RULE) == 0


def test_new_table_passes():
    assert hits("CREATE TABLE orders (total int);\nALTER TABLE orders ADD CHECK (total >= 0);", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits("ALTER TABLE o ADD CHECK (a > 0);", RULE, transaction=transaction, pg_version=pg_version) == 1


@pytest.mark.parametrize("sql", [
    "ALTER TABLE orders ADD COLUMN total int CHECK (total >= 0);",
    "ALTER TABLE orders ADD COLUMN total int NOT NULL DEFAULT 0 CONSTRAINT positive CHECK (total >= 0);",
])
def test_add_column_with_check_scans_under_access_exclusive(sql):
    [finding] = lint(sql, RULE)
    assert "ADD COLUMN total" in finding.message and "ACCESS EXCLUSIVE" in finding.message
    assert "NOT VALID" in finding.help


def test_add_column_check_on_new_table_passes():
    assert hits("CREATE TABLE orders (id int);\nALTER TABLE orders ADD COLUMN total int CHECK (total >= 0);", RULE) == 0


ORACLE = [  # tests/test_oracle.py
    "ALTER TABLE orders ADD COLUMN points int CHECK (points >= 0);",
    "ALTER TABLE orders ADD COLUMN points int NOT NULL DEFAULT 0 CONSTRAINT positive CHECK (points >= 0);",
    "ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total >= 0) NOT VALID;",
]


def test_alembic_revision_gets_create_check_constraint_not_valid_and_it_runs(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, 'op.create_check_constraint("orders_total_positive", "orders", "total >= 0")', RULE)
    code = finding.help.split(":\n", 1)[1]
    assert code.startswith('op.create_check_constraint("orders_total_positive", "orders", "total >= 0", '
                           'postgresql_not_valid=True)\nwith op.get_context().autocommit_block():')
    run_alembic(pg_db.dsn, "CREATE TABLE orders (total int); INSERT INTO orders VALUES (1)", code)
    assert pg_db.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'orders_total_positive'") == [(True,)]


def test_explain_shows_the_alembic_form():
    assert "postgresql_not_valid=True" in get_rule(RULE).explain()
