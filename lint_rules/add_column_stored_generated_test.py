import pytest

from lint_rules._testing import hits, lint

RULE = "add-column-stored-generated"
STORED = "ALTER TABLE users ADD COLUMN domain text GENERATED ALWAYS AS (split_part(email, '@', 2)) STORED;"
OMITTED = "ALTER TABLE users ADD COLUMN domain text GENERATED ALWAYS AS (split_part(email, '@', 2));"
VIRTUAL = "ALTER TABLE users ADD COLUMN domain text GENERATED ALWAYS AS (split_part(email, '@', 2)) VIRTUAL;"


def test_stored_generated_column_rewrites():
    [finding] = lint(STORED, RULE)
    assert "STORED generated column" in finding.message


def test_pg18_virtual_columns_pass_and_are_the_default_there():
    assert hits(VIRTUAL, RULE, pg_version=18) == 0
    assert hits(OMITTED, RULE, pg_version=18) == 0
    assert hits(OMITTED, RULE, pg_version=17) == 1  # before 18 every generated column is stored
    [finding] = lint(STORED, RULE, pg_version=18)
    assert "VIRTUAL" in finding.help


def test_new_table_passes():
    assert hits("CREATE TABLE users (email text);\n" + STORED, RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert hits(STORED, RULE, transaction=transaction) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE t ADD COLUMN a2 int GENERATED ALWAYS AS (a * 2) STORED;",
]
