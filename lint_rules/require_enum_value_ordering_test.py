import pytest

from lint_rules._testing import hits, lint

RULE = "require-enum-value-ordering"


def test_the_whole_finding():
    [finding] = lint("ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'packed';", RULE)
    assert (finding.line, finding.message, finding.help) == (
        1,
        "ALTER TYPE order_status ADD VALUE 'packed' has no BEFORE or AFTER: the value goes last, so it sorts after "
        "every existing value in ORDER BY, comparisons and min()/max()",
        "ALTER TYPE order_status ADD VALUE 'packed' BEFORE '<existing value>';  "
        "-- or AFTER, where it belongs; say AFTER the last value if last is meant",
    )


@pytest.mark.parametrize("sql", [
    "ALTER TYPE s ADD VALUE 'packed' AFTER 'paid';",
    "ALTER TYPE s ADD VALUE IF NOT EXISTS 'new' BEFORE 'paid';",
    "ALTER TYPE s RENAME VALUE 'a' TO 'b';",
])
def test_placed_values_and_other_forms_pass(sql):
    assert hits(sql, RULE) == 0


def test_off_by_default():
    assert "require-enum-value-ordering" not in [f.rule for f in lint("ALTER TYPE s ADD VALUE 'x';")]


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 19])
def test_every_model_and_version(transaction, pg_version):
    assert hits("ALTER TYPE s ADD VALUE 'x';", RULE, transaction=transaction, pg_version=pg_version) == 1


def test_postgresql_appends_an_unplaced_value(pg_db):
    pg_db.execute("CREATE TYPE s AS ENUM ('new', 'paid', 'shipped')")
    pg_db.execute("ALTER TYPE s ADD VALUE 'packed'")
    pg_db.execute("ALTER TYPE s ADD VALUE 'open' AFTER 'new'")
    assert pg_db.execute("SELECT enumlabel FROM pg_enum WHERE enumtypid = 's'::regtype ORDER BY enumsortorder") == [
        ("new",), ("open",), ("paid",), ("shipped",), ("packed",)]


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'sad';",
    "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'ok';",
]
