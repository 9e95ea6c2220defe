"""fk-needs-index and concurrent-index-if-not-exists."""

import pytest

from lint_rules._testing import hits, lint

FK = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n"


def test_foreign_key_without_an_index_is_a_warning():
    [finding] = lint(FK, "fk-needs-index")
    assert finding.severity == "warning" and "CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id)" in finding.help


@pytest.mark.parametrize("index", [
    "CREATE INDEX CONCURRENTLY orders_user ON orders (user_id);\n",
    "CREATE INDEX CONCURRENTLY orders_user_at ON orders (user_id, created_at);\n",
])
def test_index_leading_with_the_columns_passes_before_or_after(index):
    assert hits(index + FK, "fk-needs-index", transaction="none") == 0
    assert hits(FK + index, "fk-needs-index", transaction="none") == 0


def test_index_on_other_leading_column_does_not_count():
    assert hits("CREATE INDEX CONCURRENTLY o ON orders (created_at, user_id);\n" + FK, "fk-needs-index", transaction="none") == 1


def test_inline_references_in_create_table():
    assert hits("CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));", "fk-needs-index") == 1
    assert hits("CREATE TABLE orders (user_id bigint PRIMARY KEY REFERENCES users (id));", "fk-needs-index") == 0


@pytest.mark.parametrize("sql, expected", [
    ("CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, FOREIGN KEY (user_id) REFERENCES users (id));", 1),
    ("CREATE TABLE orders (id bigint, user_id bigint, CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users);", 1),
    ("CREATE TABLE orders (user_id bigint, n int, PRIMARY KEY (user_id, n), FOREIGN KEY (user_id) REFERENCES users);", 0),
    ("CREATE TABLE orders (user_id bigint, n int, CONSTRAINT u UNIQUE (user_id), FOREIGN KEY (user_id) REFERENCES users);", 0),
    ("CREATE TABLE orders (user_id bigint, n int, PRIMARY KEY (n, user_id), FOREIGN KEY (user_id) REFERENCES users);", 1),
    ("CREATE TABLE orders (user_id bigint, FOREIGN KEY (user_id) REFERENCES users);\n"
     "CREATE INDEX orders_user_idx ON orders (user_id);", 0),
])
def test_table_level_constraints_in_create_table(sql, expected):
    assert hits(sql, "fk-needs-index") == expected


def test_concurrent_if_not_exists_is_info():
    [finding] = lint("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", "concurrent-index-if-not-exists", transaction="none")
    assert finding.severity == "info" and "INVALID" in finding.message
    assert hits("CREATE INDEX CONCURRENTLY i ON t (a);", "concurrent-index-if-not-exists", transaction="none") == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits(FK, "fk-needs-index", transaction=transaction, pg_version=pg_version) == 1
    sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);"
    assert hits(sql, "concurrent-index-if-not-exists", transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\nCREATE INDEX CONCURRENTLY orders_user ON orders (user_id);",
]
