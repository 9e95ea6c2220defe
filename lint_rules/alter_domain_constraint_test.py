import pytest

from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "alter-domain-constraint"


@pytest.mark.parametrize("sql", [
    "ALTER DOMAIN email ADD CONSTRAINT has_at CHECK (VALUE LIKE '%@%');",
    "ALTER DOMAIN email ADD CHECK (length(VALUE) < 300);",
    "ALTER DOMAIN email SET NOT NULL;",
    "ALTER DOMAIN app.email ADD CONSTRAINT email_nn NOT NULL;",
])
def test_a_checked_domain_constraint_is_an_error_with_the_not_valid_recipe(sql):
    [finding] = lint(sql, RULE)
    assert "every table that uses" in finding.message and "SHARE" in finding.message
    assert "NOT VALID" in finding.help and "VALIDATE CONSTRAINT" in finding.help


@pytest.mark.parametrize("sql", [
    "ALTER DOMAIN email ADD CONSTRAINT has_at CHECK (VALUE LIKE '%@%') NOT VALID;",
    "ALTER DOMAIN email DROP NOT NULL;",
    "ALTER DOMAIN email RENAME TO mail;",
    "ALTER DOMAIN email SET DEFAULT '';",
    "CREATE DOMAIN email AS text;\nALTER DOMAIN email ADD CONSTRAINT has_at CHECK (VALUE LIKE '%@%');",
])
def test_safe_forms_pass(sql):
    assert hits(sql, RULE) == 0


def test_validate_still_locks_the_tables_it_checks():
    """The domain's tables are not named, but the lock-timeout rule still sees the SHARE lock."""
    assert "require-lock-timeout" in [f.rule for f in lint("ALTER DOMAIN email VALIDATE CONSTRAINT has_at;")]


def test_an_alter_domain_form_not_understood_is_reported():
    assert [f.rule for f in lint("ALTER DOMAIN email FROBNICATE;")] == ["unanalyzable-statement"]


ORACLE = [  # tests/test_oracle.py: SHARE on users, the table with an email column
    "ALTER DOMAIN email ADD CONSTRAINT has_v CHECK (VALUE LIKE 'v%');",
    "ALTER DOMAIN email ADD CHECK (length(VALUE) < 300) NOT VALID;",
    "ALTER DOMAIN email SET NOT NULL;",
    "ALTER DOMAIN email DROP NOT NULL;",
]


def test_alembic_revision_gets_op_execute_not_valid_then_validate_apart_and_it_runs(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, 'op.execute("ALTER DOMAIN email SET NOT NULL")', RULE)
    assert finding.help.splitlines()[:2] == ['op.execute("ALTER DOMAIN email ADD CONSTRAINT email_check CHECK '
                                             '(VALUE IS NOT NULL) NOT VALID")', "with op.get_context().autocommit_block():"]
    run_alembic(pg_db.dsn, "CREATE DOMAIN email AS text; CREATE TABLE users (e email); INSERT INTO users VALUES ('a')",
                finding.help)
    assert pg_db.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'email_check'") == [(True,)]
