import pytest

from lint_rules._testing import hits, lint

RULE = "table-rewrite-command"


@pytest.mark.parametrize("sql, shown", [
    ("ALTER TABLE events SET LOGGED;", "SET LOGGED"),
    ("ALTER TABLE events SET UNLOGGED;", "SET UNLOGGED"),
    ("ALTER TABLE events SET TABLESPACE fast;", "SET TABLESPACE"),
    ("ALTER TABLE events SET ACCESS METHOD heap2;", "SET ACCESS METHOD"),
    ("VACUUM FULL events;", "VACUUM FULL"),
    ("CLUSTER events USING events_pkey;", "CLUSTER"),
    ("CLUSTER;", "every clustered table"),
])
def test_rewriting_commands_are_errors(sql, shown):
    [finding] = lint(sql, RULE, transaction="none")
    assert shown in finding.message


@pytest.mark.parametrize("sql", ["VACUUM events;", "VACUUM (ANALYZE) events;", "ALTER TABLE events SET (fillfactor = 80);"])
def test_non_rewriting_forms_pass(sql):
    assert hits(sql, RULE, transaction="none") == 0


def test_new_table_passes():
    assert hits("CREATE TABLE events (id int);\nALTER TABLE events SET LOGGED;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits("ALTER TABLE e SET UNLOGGED;", RULE, transaction=transaction, pg_version=pg_version) == 1
