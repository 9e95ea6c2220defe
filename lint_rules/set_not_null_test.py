import pytest

from lint_rules import get_rule
from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "set-not-null"
SET = "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
CHECK = "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n"
VALIDATE = "ALTER TABLE users VALIDATE CONSTRAINT email_nn;\n"


def test_bare_set_not_null_is_an_error_with_the_recipe():
    [finding] = lint(SET, RULE)
    assert "scans the whole table" in finding.message
    assert "CHECK (email IS NOT NULL) NOT VALID" in finding.help and "DROP CONSTRAINT" in finding.help


def test_validated_check_on_that_column_makes_it_safe():
    assert hits(CHECK + "COMMIT;\n" + VALIDATE + SET, RULE) == 0


def test_check_added_validated_makes_it_safe():
    assert hits("ALTER TABLE users ADD CONSTRAINT c CHECK ((email IS NOT NULL));\n" + SET, RULE) == 0


def test_unvalidated_check_proves_nothing():
    assert hits(CHECK + SET, RULE) == 1


def test_validated_check_on_another_column_proves_nothing():
    other = "ALTER TABLE users ADD CONSTRAINT n CHECK (name IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT n;\n"
    assert hits(other + SET, RULE) == 1


def test_validate_of_unrelated_constraint_proves_nothing():
    assert hits("ALTER TABLE users VALIDATE CONSTRAINT something;\n" + SET, RULE) == 1


def test_before_pg12_even_a_validated_check_does_not_help():
    [finding] = lint(CHECK + VALIDATE + SET, RULE, pg_version=11)
    assert "before PostgreSQL 12" in finding.message


def test_new_table_passes():
    assert hits("CREATE TABLE users (email text);\n" + SET, RULE) == 0


def test_check_from_earlier_migration_is_asserted_with_ignore():
    sql = "-- migrator:ignore set-not-null -- validated in 0042\n" + SET
    assert hits(sql, RULE) == 0


@pytest.mark.parametrize("helper", ["users_email_not_null", "email_not_null"])
def test_the_helper_an_earlier_migration_added_validated_here_then_dropped(helper):
    validate = f"ALTER TABLE users VALIDATE CONSTRAINT {helper};\n"
    drop = f"ALTER TABLE users DROP CONSTRAINT {helper};\n"
    assert hits(validate + SET + drop, RULE) == 0
    assert hits(validate + SET, RULE) == 1  # kept: nothing says it was only a NOT NULL helper
    assert hits(validate + "ALTER TABLE users ALTER COLUMN name SET NOT NULL;\n" + SET + drop, RULE) == 1  # name: no helper
    assert hits(validate + SET + drop, RULE, pg_version=11) == 1
    assert hits("ALTER TABLE users VALIDATE CONSTRAINT users_not_null;\n" + SET + "ALTER TABLE users DROP CONSTRAINT users_not_null;",
                RULE) == 1  # names the table, not a column


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert hits(SET, RULE, transaction=transaction) == 1
    assert hits(CHECK + VALIDATE + SET, RULE, transaction=transaction) == 0


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT email_nn;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;",
]


def test_alembic_revision_gets_the_recipe_as_ops_and_it_runs(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, 'op.alter_column("users", "email", nullable=False, schema="app")', RULE)
    assert "ALTER COLUMN" not in finding.help.replace('op.execute("ALTER TABLE app.users VALIDATE', "")
    assert 'op.alter_column("users", "email", nullable=False, schema="app")' in finding.help
    run_alembic(pg_db.dsn, "CREATE SCHEMA app; CREATE TABLE app.users (email text); INSERT INTO app.users VALUES ('a')",
                finding.help)
    assert pg_db.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'app.users'::regclass AND attname = 'email'") == [(True,)]
    assert pg_db.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'app.users'::regclass") == []


def test_a_revision_is_told_the_ignore_comment_it_can_write_and_that_comment_works(tmp_path):
    op = 'op.alter_column("users", "email", nullable=False)'
    [finding] = lint_alembic(tmp_path, op, RULE)
    assert "`# migrator:ignore set-not-null -- <where>` above this op" in finding.message
    assert "-- migrator" not in finding.message
    assert lint_alembic(tmp_path, f"# migrator:ignore set-not-null -- validated in r0\n{op}", RULE) == []


def test_explain_shows_the_alembic_form():
    assert "nullable=False" in get_rule(RULE).explain()


def test_postgresql_18_not_null_constraint_is_set_not_null_unless_not_valid():
    """ADD CONSTRAINT ... NOT NULL col scans as SET NOT NULL does; NOT VALID defers the scan to VALIDATE CONSTRAINT."""
    assert hits("ALTER TABLE users ADD CONSTRAINT users_age_nn NOT NULL age;", RULE, pg_version=18) == 1
    assert hits("ALTER TABLE users ADD CONSTRAINT users_age_nn NOT NULL age NOT VALID;", RULE, pg_version=18) == 0
