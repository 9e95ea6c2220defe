import pytest

from lint_rules._testing import hits, lint

RULE = "add-exclusion-constraint"
SQL = "ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);"


def test_exclusion_constraint_on_existing_table_has_no_online_path():
    [finding] = lint(SQL, RULE)
    assert "no online form exists" in finding.message and "NOT VALID" in finding.message


def test_new_table_passes():
    assert hits("CREATE TABLE bookings (room int, during tstzrange);\n" + SQL, RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits(SQL, RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE events ADD CONSTRAINT one_id EXCLUDE USING btree (id WITH =);",
]
