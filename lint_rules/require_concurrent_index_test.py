import pytest

from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "require-concurrent-index"


def test_plain_create_index_on_existing_table_is_an_error():
    [finding] = lint("CREATE INDEX users_email_idx ON users (email);", RULE)
    assert finding.severity == "error"
    assert "SHARE lock" in finding.message
    assert "CREATE INDEX CONCURRENTLY users_email_idx ON users (email)" in finding.help


@pytest.mark.parametrize("sql", [
    "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON public.users USING btree (lower(email));",
    "CREATE INDEX events_at_idx ON ONLY events (at);",  # partitioned parent: builds nothing
])
def test_safe_forms_pass(sql):
    assert hits(sql, RULE, transaction="none") == 0


def test_index_on_table_created_in_same_migration_passes():
    assert hits("CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);", RULE) == 0


@pytest.mark.parametrize("created", [
    "CREATE TABLE t AS SELECT * FROM users;",
    "CREATE TABLE IF NOT EXISTS t (id, email) AS SELECT id, email FROM users WITH NO DATA;",
    "CREATE UNLOGGED TABLE t AS TABLE users;",
    "CREATE TEMP TABLE t AS SELECT 1 AS a;",
    "CREATE TEMPORARY TABLE t ON COMMIT DROP AS SELECT 1 AS a;",
    "SELECT id, email INTO t FROM users;",
    "SELECT * INTO TEMPORARY TABLE t FROM users;",
    "DO $$ BEGIN CREATE TABLE t AS SELECT * FROM users; END $$;",
    "CREATE TABLE app.t (a int);\nSET search_path = app, public;",
    "SELECT set_config('search_path', 'app', true);\nCREATE TABLE t (a int);\nSET search_path TO app;",
    "CREATE TABLE IF NOT EXISTS @extschema@.t (a int);",  # an extension script runs with its schema as search_path
    "CREATE MATERIALIZED VIEW t AS SELECT id AS a FROM users;",  # pgstac: CREATE UNIQUE INDEX ON partitions (partition)
    "CREATE MATERIALIZED VIEW IF NOT EXISTS app.t AS SELECT 1 AS a WITH NO DATA;\nSET search_path = app;",
])
def test_tables_made_from_a_query_are_new(created):
    """CREATE TABLE ... AS and SELECT INTO fill a table nobody else uses yet: indexing it blocks nobody."""
    assert hits(created + "\nCREATE INDEX t_a ON t (a);", RULE) == 0


@pytest.mark.parametrize("sql", [
    "CREATE TABLE app.t (a int);\nCREATE INDEX t_a ON t (a);",
    "CREATE TABLE app.t (a int);\nCREATE INDEX t_a ON public.t (a);",
    "CREATE TABLE t (a int);\nCREATE INDEX t_a ON app.t (a);",
    "SET search_path = app;\nCREATE TABLE t (a int);\nRESET search_path;\nCREATE INDEX t_a ON t (a);",
    "CREATE TEMP TABLE t (a int);\nCREATE INDEX t_a ON public.t (a);",
    "SELECT a INTO x FROM t;\nCREATE INDEX t_a ON t (a);",
    "CREATE MATERIALIZED VIEW app.t AS SELECT 1 AS a;\nCREATE INDEX t_a ON t (a);",
])
def test_a_new_table_in_another_schema_does_not_make_the_existing_one_new(sql):
    """Relations are schema-qualified facts, resolved with the migration's search_path."""
    assert hits(sql, RULE) == 1


def test_unique_index_and_schema_qualified_names_are_flagged():
    [finding] = lint('CREATE UNIQUE INDEX i ON app."Users" (a);', RULE)
    assert 'app."Users"' in finding.message


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 15, 18])
def test_flagged_in_every_transaction_model_and_version(transaction, pg_version):
    assert hits("CREATE INDEX i ON t (a);", RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # tests/test_oracle.py: new tables from queries, and schema-qualified names
    "CREATE TABLE n AS SELECT * FROM t;\nCREATE INDEX n_a ON n (a);",
    "SELECT id, email INTO n FROM users;\nCREATE INDEX n_email ON n (email);",
    "CREATE TEMP TABLE n AS SELECT 1 AS a;\nCREATE INDEX n_a ON n (a);",
    "DO $$ BEGIN CREATE TABLE n AS SELECT * FROM t; END $$;\nCREATE INDEX n_a ON n (a);",
    "CREATE TABLE app.users (id bigint, email text);\nCREATE INDEX u_email ON users (email);",
    "SET search_path = app;\nCREATE INDEX t_a ON t (a);",
    "CREATE MATERIALIZED VIEW n AS SELECT id, a FROM t;\nCREATE UNIQUE INDEX ON n (id);",
]


@pytest.mark.parametrize("runner, sql, where", [
    (None, "CREATE INDEX i ON users (a);", "its own migration whose first line is `-- migrator:no-transaction`"),
    ("prisma", "ALTER TABLE users ADD COLUMN a int;\nCREATE INDEX i ON users (a);",
     "a migration file of its own with no other statement (prisma then sends it alone"),
    ("goose", "CREATE INDEX i ON users (a);", "`-- +goose NO TRANSACTION`"),
    ("psql", "CREATE INDEX i ON users (a);", "outside a transaction block, as this statement runs"),
    ("psql", "BEGIN;\nCREATE INDEX i ON users (a);\nCOMMIT;", "COMMIT the transaction before it"),
    ("prisma", "CREATE INDEX i ON users (a);", "outside a transaction block, as this statement runs"),
])
def test_the_help_says_how_the_files_migration_tool_runs_it_outside_a_transaction(runner, sql, where):
    """A Prisma user told to write `-- migrator:no-transaction` changes nothing: Prisma still sends the file as one
    string, which PostgreSQL runs as one transaction block."""
    [finding] = lint(sql, RULE, runner=runner)
    assert where in finding.help.split("  -- ", 1)[1]
    assert runner is None or "migrator:no-transaction" not in finding.help


def test_alembic_revision_gets_the_alembic_form_and_it_runs(tmp_path, pg_db):
    """The help of a finding on an Alembic revision is op.* calls that PostgreSQL accepts as pasted."""
    [finding] = lint_alembic(tmp_path, 'op.create_index("users_email_idx", "users", ["email"], unique=True)', RULE)
    assert "CREATE INDEX" not in finding.help and "no-transaction" not in finding.help
    code = finding.help.split(":\n", 1)[1]
    assert code == ('with op.get_context().autocommit_block():\n'
                    '    op.create_index("users_email_idx", "users", ["email"], unique=True, postgresql_concurrently=True)')
    run_alembic(pg_db.dsn, "CREATE TABLE users (id int, email text)", code)
    assert pg_db.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'users_email_idx'") == [
        ("CREATE UNIQUE INDEX users_email_idx ON public.users USING btree (email)",)]


def test_alembic_index_on_an_expression_gets_the_advice_without_a_call(tmp_path):
    [finding] = lint_alembic(tmp_path, 'op.create_index("i", "users", [sa.text("lower(email)")], schema="app")', RULE)
    assert "postgresql_concurrently=True" in finding.help and "autocommit_block()" in finding.help
    assert "op.create_index(" not in finding.help.replace("op.create_index(...)", "")


def test_explain_shows_both_forms():
    from lint_rules import get_rule

    text = get_rule(RULE).explain()
    assert "CREATE INDEX CONCURRENTLY" in text and "postgresql_concurrently=True" in text


def test_an_index_built_by_a_routine_the_migration_creates_and_calls_is_flagged_at_the_call():
    sql = ("CREATE OR REPLACE FUNCTION add_indexes() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n"
           "  IF NOT EXISTS (SELECT FROM pg_class WHERE relname = 'users_email_idx') THEN\n"
           "    CREATE INDEX users_email_idx ON users (email);\n  END IF;\nEND $$;\nSELECT add_indexes();")
    [finding] = lint(sql, RULE)
    assert finding.line == 7 and "CREATE INDEX CONCURRENTLY users_email_idx" in finding.help
