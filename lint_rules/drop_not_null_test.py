import pytest

from lint_rules._testing import hits, lint

RULE = "drop-not-null"


def test_the_whole_finding():
    [finding] = lint("ALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;", RULE)
    assert (finding.line, finding.message, finding.help) == (
        1,
        "users.nickname may hold NULL from now on, while the running code (and readers, reports, other services) "
        "may still assume it never does",
        "First ship code that handles NULL in this column everywhere it is read; then drop the constraint.",
    )


def test_new_tables_and_other_actions_pass():
    assert hits("CREATE TABLE t (a int NOT NULL);\nALTER TABLE t ALTER COLUMN a DROP NOT NULL;", RULE) == 0
    assert hits("ALTER TABLE t ALTER COLUMN a DROP DEFAULT;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 19])
def test_every_model_and_version(transaction, pg_version):
    assert hits("ALTER TABLE t ALTER a DROP NOT NULL;", RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE users ALTER COLUMN name DROP NOT NULL;",
]
