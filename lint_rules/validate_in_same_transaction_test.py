import pytest

from lint_rules._testing import hits, lint

RULE = "validate-in-same-transaction"
ADD = "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n"
VALIDATE = "ALTER TABLE orders VALIDATE CONSTRAINT fk;\n"


def test_validate_in_the_wrapping_transaction_is_an_error():
    [finding] = lint(ADD + VALIDATE, RULE)
    assert "transaction that added it" in finding.message
    assert finding.line == 2


def test_validate_after_commit_passes():
    assert hits("BEGIN;\n" + ADD + "COMMIT;\nBEGIN;\n" + VALIDATE + "COMMIT;", RULE, transaction="none") == 0


def test_autocommit_file_runs_them_in_separate_transactions():
    assert hits(ADD + VALIDATE, RULE, transaction="none") == 0


def test_validate_of_constraint_from_earlier_migration_passes():
    assert hits(VALIDATE, RULE) == 0


def test_check_constraint_too():
    sql = "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;"
    assert hits(sql, RULE) == 1


def test_new_table_passes():
    assert hits("CREATE TABLE orders (user_id int);\n" + ADD + VALIDATE, RULE) == 0


@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_version(pg_version):
    assert hits(ADD + VALIDATE, RULE, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE orders ADD CONSTRAINT total_pos CHECK (total >= 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT total_pos;",
]
