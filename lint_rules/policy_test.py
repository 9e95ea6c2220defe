"""The off-by-default policy rules."""

import pytest

from lint_rules import all_rules
from lint_rules._testing import hits, lint

POLICY = ["ban-create-table", "prefer-bigint", "prefer-identity", "prefer-text", "prefer-timestamptz", "prefer-jsonb"]


@pytest.mark.parametrize("rule", POLICY)
def test_policy_rules_are_off_by_default(rule):
    assert not all_rules()[rule].default_enabled
    assert rule not in [f.rule for f in lint("CREATE TABLE t (id serial, a varchar(5), b timestamp, c json);")]


@pytest.mark.parametrize("rule, bad, good", [
    ("ban-create-table", "CREATE TABLE t (id bigint);", "ALTER TABLE t ADD COLUMN a int;"),
    ("prefer-bigint", "CREATE TABLE t (id integer);", "CREATE TABLE t (id bigint);"),
    ("prefer-bigint", "ALTER TABLE t ADD COLUMN n smallint;", "ALTER TABLE t ADD COLUMN n bigint;"),
    ("prefer-identity", "CREATE TABLE t (id bigserial);", "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY);"),
    ("prefer-text", "CREATE TABLE t (a varchar(40));", "CREATE TABLE t (a text);"),
    ("prefer-text", "ALTER TABLE t ADD COLUMN c char(2);", "ALTER TABLE t ADD COLUMN c varchar;"),
    ("prefer-timestamptz", "CREATE TABLE t (at timestamp);", "CREATE TABLE t (at timestamptz);"),
    ("prefer-jsonb", "CREATE TABLE t (doc json);", "CREATE TABLE t (doc jsonb);"),
])
def test_selected_policy_rule(rule, bad, good):
    assert hits(bad, rule) == 1
    assert hits(good, rule) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
@pytest.mark.parametrize("rule", POLICY)
def test_every_model_and_version(rule, transaction, pg_version):
    sql = "CREATE TABLE t (id serial, a varchar(5), b timestamp, c json);"
    assert hits(sql, rule, transaction=transaction, pg_version=pg_version) == 1
