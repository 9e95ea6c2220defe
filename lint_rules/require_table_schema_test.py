import pytest

from lint_rules._testing import hits, lint

RULE = "require-table-schema"


def test_the_whole_finding():
    [finding] = lint("ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES app.accounts (id) NOT VALID;", RULE)
    assert (finding.line, finding.message, finding.help) == (
        1,
        "table users is not schema-qualified: which table it means depends on the search_path of the session "
        "that runs the migration",
        "Name the schema: public.users (or the schema it lives in).",
    )


@pytest.mark.parametrize("sql", [
    "CREATE TABLE t (a int);",
    "CREATE INDEX i ON t (a);",
    "UPDATE t SET a = 1;",
    "DROP TABLE t;",
    "ALTER TABLE app.t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id) NOT VALID;",
    "CREATE TABLE t AS SELECT 1 AS a;",
    "SELECT 1 AS a INTO t;",
])
def test_unqualified_tables_are_flagged(sql):
    assert hits(sql, RULE) == 1


@pytest.mark.parametrize("sql", [
    "CREATE TABLE app.t (a int);",
    "CREATE TEMP TABLE scratch (a int);",
    "CREATE TEMP TABLE scratch AS SELECT 1 AS a;",
    "SELECT 1 AS a INTO TEMP scratch;",
    "CREATE TABLE app.t AS SELECT 1 AS a;",
    "CREATE INDEX i ON public.t (a);",
    'ALTER TABLE "App"."T" ADD COLUMN b int;',
    "SELECT 1;",
])
def test_qualified_and_temporary_tables_pass(sql):
    assert hits(sql, RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 19])
def test_every_model_and_version(transaction, pg_version):
    assert hits("ALTER TABLE t ADD COLUMN b int;", RULE, transaction=transaction, pg_version=pg_version) == 1


def test_postgresql_alters_whichever_t_the_search_path_finds_first(pg_db):
    import psycopg

    pg_db.execute("CREATE SCHEMA app; CREATE TABLE public.t (a int); CREATE TABLE app.t (b int)")
    with psycopg.connect(pg_db.dsn, autocommit=True) as connection:
        connection.execute("SET search_path = app, public")
        connection.execute("ALTER TABLE t ADD COLUMN c int")
    assert pg_db.execute("SELECT attrelid::regclass::text FROM pg_attribute WHERE attname = 'c'") == [("app.t",)]


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE public.orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES public.users (id) NOT VALID;",
    "CREATE INDEX i ON app.t (a);",
]
