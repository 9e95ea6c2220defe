import pytest

from lint_rules._testing import hits, lint

RULE = "add-column-required"


def test_not_null_without_default_is_an_error():
    [finding] = lint("ALTER TABLE users ADD COLUMN plan text NOT NULL;", RULE)
    assert "fails on any non-empty" in finding.message


@pytest.mark.parametrize("sql", [
    "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';",
    "ALTER TABLE users ADD COLUMN plan text;",
    "ALTER TABLE users ADD COLUMN n int NOT NULL GENERATED ALWAYS AS IDENTITY;",
])
def test_safe_forms_pass(sql):
    assert hits(sql, RULE) == 0


def test_new_table_passes():
    assert hits("CREATE TABLE users (id int);\nALTER TABLE users ADD COLUMN plan text NOT NULL;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [10, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits("ALTER TABLE u ADD COLUMN p text NOT NULL;", RULE, transaction=transaction, pg_version=pg_version) == 1


def test_a_table_truncated_earlier_in_the_transaction_passes():
    """powa 4.1.0 truncates its staging table, then adds NOT NULL columns to it: no row to refuse them."""
    sql = "TRUNCATE TABLE public.users;\nALTER TABLE users RENAME a TO b;\nALTER TABLE users ADD COLUMN plan text NOT NULL;"
    assert hits(sql, RULE) == 0


@pytest.mark.parametrize("sql, transaction", [
    ("TRUNCATE users;\nALTER TABLE users ADD COLUMN plan text NOT NULL;", "none"),  # others may write in between
    ("TRUNCATE users;\nCOMMIT;\nBEGIN;\nALTER TABLE users ADD COLUMN plan text NOT NULL;", "wrapped"),
    ("TRUNCATE users;\nINSERT INTO users (id) VALUES (1);\nALTER TABLE users ADD COLUMN plan text NOT NULL;", "wrapped"),
    ("TRUNCATE users;\nSELECT fill_users();\nALTER TABLE users ADD COLUMN plan text NOT NULL;", "wrapped"),
    ("TRUNCATE orders;\nALTER TABLE users ADD COLUMN plan text NOT NULL;", "wrapped"),
])
def test_a_truncated_table_that_may_have_rows_again_is_flagged(sql, transaction):
    assert hits(sql, RULE, transaction=transaction) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE events ADD COLUMN n int NOT NULL DEFAULT 0;",
    "TRUNCATE events;\nALTER TABLE events ADD COLUMN req int NOT NULL;",  # refused on the filled table without the TRUNCATE
]
