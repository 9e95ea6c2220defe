import pytest

from lint_rules._testing import hits, lint, lint_alembic, run_alembic

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
    assert f"SET DEFAULT {default};" in finding.help, finding.help  # as written: sqlglot prints now(123) as CURRENT_TIMESTAMP


@pytest.mark.parametrize("default", [
    "0", "'free'", "now()", "CURRENT_TIMESTAMP", "'{}'::jsonb", "NULL", "timezone('utc', now())",
    "current_timestamp(3)", "localtimestamp(2)", "pg_catalog.now()", "date_trunc('day', now())",
    "to_char(now(), 'YYYY')", "txid_current()", "jsonb_build_object()", "extract(epoch from now())",
    "overlay('abc' placing 'x' from 1)", "position('a' in 'abc')", "strpos('abc', 'a')",
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


@pytest.mark.parametrize("declaration, call", [
    ("CREATE OR REPLACE FUNCTION bits(text) RETURNS int AS $$ SELECT length($1) $$ LANGUAGE sql IMMUTABLE STRICT;",
     "bits('read')"),  # DAViCal 1.2.6 declares privilege_to_bits() so, then adds columns defaulting to it
    ("CREATE FUNCTION app.tags() RETURNS text[] STABLE LANGUAGE sql AS 'SELECT ARRAY[''a'']';", "app.tags()"),
    ("CREATE FUNCTION tags() RETURNS text[] IMMUTABLE LANGUAGE sql AS 'SELECT ARRAY[''a'']';", "public.tags()"),
])
def test_a_function_the_migration_declared_non_volatile_is_no_rewrite(declaration, call):
    assert hits(f"{declaration}\nALTER TABLE users ADD COLUMN x int DEFAULT {call};", RULE) == 0


@pytest.mark.parametrize("declarations", [
    "CREATE FUNCTION bits() RETURNS int LANGUAGE sql AS 'SELECT 1';",  # VOLATILE when not said
    "CREATE FUNCTION bits() RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT 1';\n"
    "CREATE FUNCTION bits(int) RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 1';",  # an overload may be the one called
    "CREATE FUNCTION other.bits() RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT 1';",  # another schema's
])
def test_a_function_declared_volatile_or_elsewhere_still_counts(declarations):
    [finding] = lint(f"{declarations}\nALTER TABLE users ADD COLUMN x int DEFAULT bits();", RULE)
    assert "bits" in finding.message


def test_a_declared_function_does_not_excuse_a_volatile_one_beside_it():
    sql = ("CREATE FUNCTION bits() RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT 1';\n"
           "ALTER TABLE users ADD COLUMN x int DEFAULT bits() + (random() * 10)::int;")
    [finding] = lint(sql, RULE)
    assert "(random)" in finding.message


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE events ADD COLUMN token uuid DEFAULT gen_random_uuid();",
    "ALTER TABLE events ADD COLUMN seen timestamptz DEFAULT now();",
    "ALTER TABLE events ADD COLUMN r float8 DEFAULT random() NOT NULL;",
    "ALTER TABLE events ADD COLUMN xid bigint DEFAULT txid_current();",  # stable in pg_proc: no rewrite
    "ALTER TABLE events ADD COLUMN day timestamptz DEFAULT date_trunc('day', now());",
    "ALTER TABLE events ADD COLUMN at3 timestamp(3) DEFAULT localtimestamp(3);",
    ("CREATE FUNCTION app.f() RETURNS text LANGUAGE plpgsql AS 'BEGIN RETURN 1; END'",  # volatile by default
     "ALTER TABLE events ADD COLUMN mine text DEFAULT app.f();"),
    "CREATE FUNCTION app.bits(text) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT length($1)';\n"
    "ALTER TABLE events ADD COLUMN b int DEFAULT app.bits('read');",  # declared here: evaluated once, no rewrite
    "CREATE FUNCTION app.now2() RETURNS timestamptz LANGUAGE sql STABLE AS 'SELECT now()';\n"
    "ALTER TABLE events ADD COLUMN n timestamptz DEFAULT app.now2();",
    "CREATE FUNCTION app.r() RETURNS float8 LANGUAGE sql VOLATILE AS 'SELECT random()';\n"
    "ALTER TABLE events ADD COLUMN r2 float8 DEFAULT app.r();",
]


def test_alembic_revision_gets_the_column_then_its_server_default_and_they_run(tmp_path, pg_db):
    body = 'op.add_column("users", sa.Column("token", sa.Uuid(), server_default=sa.text("gen_random_uuid()")))'
    [finding] = lint_alembic(tmp_path, body, RULE)
    intro, code = finding.help.split(":\n", 1)
    assert code.splitlines()[:2] == ['op.add_column("users", sa.Column("token", sa.Uuid()))',
                                     'op.alter_column("users", "token", server_default=sa.text("gen_random_uuid()"))']
    run_alembic(pg_db.dsn, "CREATE TABLE users (id int); INSERT INTO users VALUES (1)", code)
    pg_db.execute("INSERT INTO users (id) VALUES (2)")
    assert pg_db.execute("SELECT id, token IS NOT NULL FROM users ORDER BY id") == [(1, False), (2, True)], \
        "existing rows are left to the backfill, new rows get the default"
