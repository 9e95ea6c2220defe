import pytest

from lint_rules._testing import hits, lint

RULE = "create-domain-with-constraint"


def test_the_whole_finding():
    [finding] = lint("CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');", RULE)
    assert (finding.line, finding.message, finding.help) == (
        1,
        "domain email carries a constraint: changing it later checks every column of every table that uses the "
        "domain at once, with no way to do it table by table",
        "Create the domain without constraints and put CHECK constraints on the tables, where they can be added "
        "NOT VALID and validated online.",
    )


@pytest.mark.parametrize("sql", [
    "CREATE DOMAIN d AS int NOT NULL;",
    "CREATE DOMAIN d int CONSTRAINT positive CHECK (VALUE > 0);",
])
def test_constraints_are_flagged(sql):
    assert hits(sql, RULE) == 1


@pytest.mark.parametrize("sql", [
    "CREATE DOMAIN d AS text DEFAULT 'not null check';",
    "CREATE DOMAIN d AS int NULL;",
    "CREATE TABLE t (a int CHECK (a > 0));",
])
def test_plain_domains_pass(sql):
    assert hits(sql, RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 19])
def test_every_model_and_version(transaction, pg_version):
    assert hits("CREATE DOMAIN d int CHECK (VALUE > 0);", RULE, transaction=transaction, pg_version=pg_version) == 1


def test_postgresql_locks_every_table_using_the_domain_to_add_a_constraint(pg_db):
    import psycopg

    pg_db.execute("CREATE DOMAIN d AS int; CREATE TABLE a (x d); CREATE TABLE b (y d)")
    with psycopg.connect(pg_db.dsn) as connection:
        connection.execute("ALTER DOMAIN d ADD CONSTRAINT positive CHECK (VALUE > 0)")
        held = connection.execute(
            "SELECT relation::regclass::text, mode FROM pg_locks WHERE pid = pg_backend_pid() "
            "AND relation IN ('a'::regclass, 'b'::regclass) ORDER BY 1").fetchall()
    assert held == [("a", "ShareLock"), ("b", "ShareLock")]


ORACLE = [  # run on a live server by tests/test_oracle.py
    "CREATE DOMAIN positive AS int CHECK (VALUE > 0);",
    "CREATE DOMAIN d AS int NOT NULL;",
]
