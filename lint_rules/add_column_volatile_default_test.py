import pytest

from lint_rules._testing import hits, lint

RULE = "add-column-volatile-default"


@pytest.mark.parametrize("default, name", [
    ("random()", "random"),
    ("clock_timestamp()", "clock_timestamp"),
    ("gen_random_uuid()", "gen_random_uuid"),
    ("nextval('s')", "nextval"),
    ("my_function()", "my_function"),
])
def test_volatile_or_unknown_default_is_an_error(default, name):
    [finding] = lint(f"ALTER TABLE users ADD COLUMN x text DEFAULT {default};", RULE)
    assert name in finding.message
    assert "SET DEFAULT" in finding.help


@pytest.mark.parametrize("default, unknown", [("gen_random_uuid()", False), ("my_function()", True)])
def test_only_a_function_migrator_does_not_know_is_called_unknown(default, unknown):
    [finding] = lint(f"ALTER TABLE users ADD COLUMN x text DEFAULT {default};", RULE)
    assert ("not a function migrator knows" in finding.message) == unknown, finding.message


@pytest.mark.parametrize("default, call", [
    ("now(123)", "now with 1 argument"),  # sqlglot reads it as CURRENT_TIMESTAMP(123); PostgreSQL has no now(integer)
    ("statement_timestamp(1)", "statement_timestamp with 1 argument"),
    ("round(1, 2, 3)", "round with 3 arguments"),
    ("'x' || current_setting('a', true, 1)", "current_setting with 3 arguments"),
    ("app.lower('x')", "app.lower"),  # a function of the project's own schema, not pg_catalog's
])
def test_a_known_name_called_as_no_function_postgresql_has_is_unknown(default, call):
    [finding] = lint(f"ALTER TABLE users ADD COLUMN x text DEFAULT {default};", RULE)
    assert f"({call}: not a function migrator knows" in finding.message, finding.message


@pytest.mark.parametrize("default", [
    "0", "'free'", "now()", "CURRENT_TIMESTAMP", "'{}'::jsonb", "NULL", "timezone('utc', now())",
    "current_timestamp(3)", "localtimestamp(2)", "pg_catalog.now()", "date_trunc('day', now())",
    "to_char(now(), 'YYYY')", "txid_current()", "jsonb_build_object()", "extract(epoch from now())",
])
def test_non_volatile_default_passes_from_pg11(default):
    assert hits(f"ALTER TABLE users ADD COLUMN x text DEFAULT {default};", RULE, pg_version=11) == 0


def test_any_default_rewrites_before_pg11():
    [finding] = lint("ALTER TABLE users ADD COLUMN x int DEFAULT 0;", RULE, pg_version=10)
    assert "before PostgreSQL 11" in finding.message


def test_no_default_passes():
    assert hits("ALTER TABLE users ADD COLUMN x uuid;", RULE) == 0


def test_new_table_passes():
    assert hits("CREATE TABLE users (id int);\nALTER TABLE users ADD COLUMN x uuid DEFAULT gen_random_uuid();", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert hits("ALTER TABLE u ADD COLUMN x float DEFAULT random();", RULE, transaction=transaction) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE events ADD COLUMN token uuid DEFAULT gen_random_uuid();",
    "ALTER TABLE events ADD COLUMN seen timestamptz DEFAULT now();",
    "ALTER TABLE events ADD COLUMN r float8 DEFAULT random() NOT NULL;",
    "ALTER TABLE events ADD COLUMN xid bigint DEFAULT txid_current();",  # stable in pg_proc: no rewrite
    "ALTER TABLE events ADD COLUMN day timestamptz DEFAULT date_trunc('day', now());",
    "ALTER TABLE events ADD COLUMN at3 timestamp(3) DEFAULT localtimestamp(3);",
    ("CREATE FUNCTION app.f() RETURNS text LANGUAGE plpgsql AS 'BEGIN RETURN 1; END'",  # volatile by default
     "ALTER TABLE events ADD COLUMN mine text DEFAULT app.f();"),
]
