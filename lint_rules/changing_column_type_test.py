import pytest

from lint_rules._testing import lint

RULE = "changing-column-type"


def severities(sql, **options):
    return [finding.severity for finding in lint(sql, RULE, **options)]


def change(old, new):
    return f"ALTER TABLE users ADD COLUMN c {old};\nALTER TABLE users ALTER COLUMN c TYPE {new};"


@pytest.mark.parametrize("old, new", [
    ("varchar(100)", "varchar(200)"),
    ("varchar(100)", "text"),
    ("varchar(255)", "text USING c::text"),
    ("varchar(255)", "text USING (c)::varchar(300)::text"),
    ("varchar(100)", "varchar"),
    ("text", "varchar"),
    ("numeric(10,2)", "numeric(12,2)"),
    ("numeric(10,2)", "numeric(12,2) USING c::numeric(12,2)"),
    ("numeric(10,2)", "numeric"),
    ("cidr", "inet"),
    ("float", "float(53)"),
    ("double precision", "float8"),
    ("boolean", "boolean"),
    ("int4", "pg_catalog.int4"),
    ("bit(3)", "bit varying"),
    ("varbit(3)", "bit varying(5)"),
    ("timestamp(3)", "timestamp"),
    ("time(2)", "time(4)"),
    ("int[]", "integer[]"),
])
def test_a_change_that_keeps_the_table_passes(old, new):
    assert severities(change(old, new)) == []


@pytest.mark.parametrize("old, new", [
    ("varchar(200)", "varchar(100)"),
    ("varchar", "varchar(255)"),
    ("text", "varchar(10)"),
    ("int", "bigint"),
    ("numeric(10,2)", "numeric(12,3)"),
    ("char(10)", "text"),
    ("varchar(10)[]", "text[]"),
    ("varchar(10)", "text USING c::int::text"),
])
def test_a_rewriting_change_with_known_old_type_is_an_error(old, new):
    [finding] = lint(change(old, new), RULE)
    assert finding.severity == "error" and "rewrites all of users" in finding.message
    assert "(and any foreign key c is in, at either end: the table at the key's other end is locked ACCESS EXCLUSIVE too)" \
        in finding.message


@pytest.mark.parametrize("target", ["text", "varchar(300)", "numeric(20,2)", "text USING c::text"])
def test_unknown_old_type_with_reachable_target_says_what_is_unknown(target):
    [finding] = lint(f"ALTER TABLE users ALTER COLUMN c TYPE {target};", RULE)
    assert finding.severity == "warning"
    assert "current type of users.c is not known" in finding.message


@pytest.mark.parametrize("target", ["bigint", "uuid", "jsonb", "text[]"])
def test_unknown_old_type_with_unreachable_target_is_an_error(target):
    assert severities(f"ALTER TABLE users ALTER c SET DATA TYPE {target};") == ["error"]


def test_a_using_expression_rewrites_whatever_the_old_type():
    [finding] = lint("ALTER TABLE users ALTER COLUMN c TYPE text USING c || '';", RULE)
    assert "USING an expression" in finding.message and finding.severity == "error"


def test_timestamp_to_timestamptz_depends_on_timezone_from_pg12():
    sql = "ALTER TABLE e ADD COLUMN at timestamp;\nALTER TABLE e ALTER COLUMN at TYPE timestamptz;"
    [finding] = lint(sql, RULE, pg_version=12)
    assert "TimeZone is UTC" in finding.message
    assert severities(sql, pg_version=11) == ["error"]


def test_a_user_type_says_the_cast_decides():
    [finding] = lint(change("varchar(20)", "citext"), RULE)
    assert finding.severity == "warning" and "casts" in finding.message


def test_the_type_known_in_another_schema_is_not_used():
    sql = "ALTER TABLE app.users ADD COLUMN c varchar(10);\nALTER TABLE users ALTER COLUMN c TYPE text;"
    assert severities(sql) == ["warning"]
    assert severities("SET search_path = app;\n" + sql) == []


def test_new_table_passes():
    assert severities("CREATE TABLE users (c int);\nALTER TABLE users ALTER COLUMN c TYPE bigint;") == []


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert severities("ALTER TABLE u ALTER COLUMN c TYPE bigint;", transaction=transaction) == ["error"]


# Run on a live server by tests/test_oracle.py: the type decisions above are PostgreSQL's.
ORACLE = [
    change(old, new).replace(" c ", " x ").replace("COLUMN c ", "COLUMN x ").replace("c::", "x::").replace("(c)", "(x)")
    for old, new in [
        ("varchar(100)", "varchar(200)"), ("varchar(255)", "text USING c::text"), ("varchar", "varchar(255)"),
        ("float", "float(53)"), ("boolean", "boolean"), ("numeric(10,2)", "numeric(12,2) USING c::numeric(12,2)"),
        ("char(10)", "text"), ("varchar(10)[]", "text[]"), ("int[]", "integer[]"), ("bit(3)", "bit varying"),
        ("timestamp(3)", "timestamp"), ("int", "bigint"), ("varchar(10)", "text USING c::int::text"),
    ]
] + [
    "ALTER TABLE users ALTER COLUMN ratio TYPE float(53)",
    "ALTER TABLE users ALTER COLUMN flag TYPE boolean",
    "ALTER TABLE users ALTER COLUMN score TYPE numeric(12,2) USING score::numeric(12,2)",
    "ALTER TABLE users ALTER COLUMN code TYPE bpchar(10)",
    'ALTER TABLE users ALTER COLUMN code TYPE "char" USING code::text::"char"',  # the one-byte type: a rewrite
    'ALTER TABLE users ADD COLUMN kind "char";\nALTER TABLE users ALTER COLUMN kind TYPE "char"',
]
