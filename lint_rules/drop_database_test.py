import pytest

from lint_rules._testing import hits, lint

RULE = "drop-database"


def test_the_whole_finding():
    [finding] = lint("DROP DATABASE IF EXISTS legacy WITH (FORCE);", RULE, transaction="none")
    assert (finding.line, finding.message, finding.help) == (
        1,
        "DROP DATABASE in a migration destroys a whole database and every connection to it must be gone first: "
        "no migration should do that, and it cannot be undone",
        "Drop databases by hand, outside the migration history, after a backup.",
    )


def test_other_drops_pass():
    assert hits("DROP TABLESPACE t;\nDROP SCHEMA s;\nDROP ROLE r;", RULE, transaction="none") == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 19])
def test_every_model_and_version(transaction, pg_version):
    assert hits("DROP DATABASE x;", RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "DROP DATABASE IF EXISTS legacy WITH (FORCE);",
]
