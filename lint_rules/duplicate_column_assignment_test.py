import psycopg
import pytest

from lint_rules._testing import hits, lint

RULE = "duplicate-column-assignment"


def test_the_whole_finding():
    [finding] = lint("UPDATE users SET email = lower(email), name = 'x', email = 'y';", RULE)
    assert (finding.line, finding.message, finding.help) == (
        1,
        "column email is assigned 2 times in one UPDATE: PostgreSQL refuses the statement "
        "(multiple assignments to same column)",
        "Assign email once; combine the expressions into one if both are meant.",
    )


REFUSED = [
    "UPDATE t SET a = 1, a = 2;",
    "UPDATE t AS x SET (a, b) = (1, 2), a = 3 WHERE b > 0;",
    'UPDATE t SET "a" = 1, A = 2;',
    "INSERT INTO t (a, b, a) VALUES (1, 2, 3);",
    "INSERT INTO t AS x (b, b) SELECT 1, 2;",
    "INSERT INTO u VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 1, b = 2;",
    "MERGE INTO t USING u ON t.a = u.a WHEN MATCHED THEN UPDATE SET b = 1, b = 2;",
    "MERGE INTO t USING u ON t.a = u.a WHEN NOT MATCHED THEN INSERT (a, a) VALUES (1, 2);",
    "UPDATE t SET c = '{1}', c[2] = 2;",
    f"CREATE TABLE n ({'x' * 63}a int, {'x' * 63}b int);",
    "CREATE TABLE n (a int, b int, A text);",
    "CREATE TABLE n AS SELECT a, b AS a FROM t;",
    "CREATE TABLE n (x, x) AS SELECT a, b FROM t;",
    "SELECT t.a, u.a INTO n FROM t JOIN u USING (b);",
    "CREATE VIEW n AS SELECT 1, 'two';",
    "CREATE VIEW n (x, x) AS SELECT a, b FROM t;",
]
ACCEPTED = [
    "UPDATE t SET a = 1, b = 2 FROM u WHERE t.a = u.a;",
    "UPDATE t SET c[1] = 1, c[2] = 2;",
    "INSERT INTO t (c[1], c[2]) VALUES (1, 2);",
    "INSERT INTO t VALUES (1, 2);",
    "UPDATE t SET a = (SELECT a FROM u WHERE u.b = 1 AND u.b = 2);",
    "INSERT INTO u VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 1 WHERE u.b = 2 AND u.b = 3;",
    "MERGE INTO t USING u ON t.a = u.a WHEN MATCHED THEN UPDATE SET b = 1 WHEN NOT MATCHED THEN INSERT (a, b) VALUES (1, 2);",
    "CREATE TABLE n (x, y) AS SELECT a, a FROM t;",
    "CREATE VIEW n (x, y) AS SELECT 1, 2;",
    "CREATE VIEW n AS SELECT a, b, now() FROM t;",
    "SELECT t.a, t.b INTO n FROM t;",
    "CREATE TABLE w (a int, b int, c int, d int);\nINSERT INTO w (SELECT 1, b, b, 2 FROM u);",  # a query in parentheses, not a column list (zitadel)
]


@pytest.mark.parametrize("sql", REFUSED)
def test_postgresql_refuses_what_the_rule_flags(sql, pg_db):
    assert hits(sql, RULE) == 1
    pg_db.execute("CREATE TABLE t (a int, b int, c int[]); CREATE TABLE u (a int UNIQUE, b int)")
    with pytest.raises((psycopg.errors.SyntaxError, psycopg.errors.DuplicateColumn)):
        pg_db.execute(sql)


@pytest.mark.parametrize("sql", ACCEPTED)
def test_postgresql_accepts_what_passes(sql, pg_db):
    assert hits(sql, RULE) == 0
    pg_db.execute("CREATE TABLE t (a int, b int, c int[]); CREATE TABLE u (a int UNIQUE, b int)")
    pg_db.execute(sql)


def test_a_foreign_table_defines_its_columns_as_a_table_does():
    assert hits("CREATE FOREIGN TABLE f (a int, a text) SERVER s;", RULE) == 1
    assert hits("CREATE FOREIGN TABLE f (a int, b text) SERVER s;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 19])
def test_every_model_and_version(transaction, pg_version):
    assert hits("UPDATE t SET a = 1, a = 2;", RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "UPDATE users SET email = lower(email), name = 'x';",  # PostgreSQL itself refuses a column assigned twice
    "INSERT INTO teams (id, name) VALUES (10, 'a');",
]
