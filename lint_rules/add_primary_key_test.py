import pytest

from lint_rules._testing import hits, lint

RULE = "add-primary-key"


@pytest.mark.parametrize("sql", [
    "ALTER TABLE items ADD PRIMARY KEY (id);",
    "ALTER TABLE items ADD CONSTRAINT items_pkey PRIMARY KEY (id);",
    "ALTER TABLE items ADD COLUMN id bigint PRIMARY KEY;",
])
def test_primary_key_built_under_lock_is_an_error(sql):
    [finding] = lint(sql, RULE)
    assert "PRIMARY KEY USING INDEX" in finding.help
    assert "NOT VALID" not in finding.help


def test_using_index_passes():
    assert hits("ALTER TABLE items ADD CONSTRAINT items_pkey PRIMARY KEY USING INDEX items_id_idx;", RULE) == 0


def test_new_table_passes():
    assert hits("CREATE TABLE items (id int);\nALTER TABLE items ADD PRIMARY KEY (id);", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [10, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits("ALTER TABLE i ADD PRIMARY KEY (id);", RULE, transaction=transaction, pg_version=pg_version) == 1
