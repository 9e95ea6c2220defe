import pytest

from lint_rules._testing import lint

RULE = "changing-column-type"


def severities(sql, **options):
    return [finding.severity for finding in lint(sql, RULE, **options)]


@pytest.mark.parametrize("old, new", [
    ("varchar(100)", "varchar(200)"),
    ("varchar(100)", "text"),
    ("varchar(100)", "varchar"),
    ("text", "varchar"),
    ("numeric(10,2)", "numeric(12,2)"),
    ("numeric(10,2)", "numeric"),
    ("cidr", "inet"),
])
def test_binary_coercible_change_with_known_old_type_passes(old, new):
    sql = f"ALTER TABLE users ADD COLUMN c {old};\nALTER TABLE users ALTER COLUMN c TYPE {new};"
    assert severities(sql) == []


@pytest.mark.parametrize("old, new", [
    ("varchar(200)", "varchar(100)"),
    ("text", "varchar(10)"),
    ("int", "bigint"),
    ("numeric(10,2)", "numeric(12,3)"),
])
def test_rewriting_change_with_known_old_type_is_an_error(old, new):
    sql = f"ALTER TABLE users ADD COLUMN c {old};\nALTER TABLE users ALTER COLUMN c TYPE {new};"
    assert severities(sql) == ["error"]


@pytest.mark.parametrize("target", ["text", "varchar(300)", "numeric(20,2)"])
def test_unknown_old_type_with_reachable_target_is_a_warning(target):
    assert severities(f"ALTER TABLE users ALTER COLUMN c TYPE {target};") == ["warning"]


@pytest.mark.parametrize("target", ["bigint", "uuid", "jsonb"])
def test_unknown_old_type_with_unreachable_target_is_an_error(target):
    assert severities(f"ALTER TABLE users ALTER c SET DATA TYPE {target};") == ["error"]


def test_using_clause_always_rewrites():
    sql = "ALTER TABLE users ADD COLUMN c varchar(10);\nALTER TABLE users ALTER COLUMN c TYPE text USING c || '';"
    assert severities(sql) == ["error"]


def test_timestamp_to_timestamptz_depends_on_timezone_from_pg12():
    sql = "ALTER TABLE e ADD COLUMN at timestamp;\nALTER TABLE e ALTER COLUMN at TYPE timestamptz;"
    [finding] = lint(sql, RULE, pg_version=12)
    assert "TimeZone is UTC" in finding.message
    assert severities(sql, pg_version=11) == ["error"]


def test_new_table_passes():
    assert severities("CREATE TABLE users (c int);\nALTER TABLE users ALTER COLUMN c TYPE bigint;") == []


def test_old_type_known_from_create_table_is_not_used_because_new_table_is_exempt():
    sql = "CREATE TABLE t (c varchar(5));\nALTER TABLE t ALTER COLUMN c TYPE int;"
    assert severities(sql) == []


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert severities("ALTER TABLE u ALTER COLUMN c TYPE bigint;", transaction=transaction) == ["error"]
