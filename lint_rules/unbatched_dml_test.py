import pytest

from lint_rules._testing import hits, lint

RULE = "unbatched-dml"


@pytest.mark.parametrize("sql", ["UPDATE users SET plan = 'free' WHERE plan IS NULL;", "DELETE FROM sessions WHERE expired;"])
def test_update_and_delete_of_existing_tables_belong_in_a_backfill(sql):
    [finding] = lint(sql, RULE)
    assert finding.severity == "warning" and "migrator backfill run" in finding.help


def test_insert_and_new_tables_pass():
    assert hits("INSERT INTO plans VALUES ('free');", RULE) == 0
    assert hits("CREATE TABLE t (a int);\nUPDATE t SET a = 1;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits("UPDATE t SET a = 1;", RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "UPDATE users SET name = 'x';",
    "DELETE FROM events;",
    "INSERT INTO teams SELECT id + 10 FROM teams;",
]
