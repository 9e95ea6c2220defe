import pytest

from lint_rules._testing import hits, lint, lint_alembic

RULE = "timeout-exceeds-limit"
ALTER = "ALTER TABLE users ADD COLUMN x int;\n"


@pytest.mark.parametrize("setting, shown", [
    ("SET LOCAL lock_timeout = '30s';", "30s"),
    ("SET statement_timeout = 0;", "0 (no limit)"),
    ("SET LOCAL lock_timeout = '1min';", "1min"),
])
def test_timeout_above_limit_is_an_error(setting, shown):
    [finding] = lint(setting + "\n" + ALTER, RULE)
    assert shown in finding.message and "set on line 1" in finding.message


def test_at_the_limit_passes():
    assert hits("SET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = 5000;\n" + ALTER, RULE) == 0


def test_limit_is_configurable():
    assert hits("SET LOCAL lock_timeout = '10s';\n" + ALTER, RULE, max_timeout_ms=10_000) == 0
    assert hits("SET LOCAL lock_timeout = '10s';\n" + ALTER, RULE, max_timeout_ms=2_000) == 1


def test_long_timeout_for_concurrent_statements_is_fine():
    sql = "-- migrator:no-transaction\nSET statement_timeout = 0;\nCREATE INDEX CONCURRENTLY i ON users (a);"
    assert hits(sql, RULE) == 0


def test_new_table_passes():
    assert hits("SET lock_timeout = '1h';\nCREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert hits("SET lock_timeout = '30s';\n" + ALTER, RULE, transaction=transaction) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "SELECT set_config('lock_timeout', '1min', true);\nALTER TABLE t ADD COLUMN x int;",
]


def test_on_a_revision_the_help_sets_the_limit_with_op_execute_set_local_in_the_transaction_and_set_outside(tmp_path):
    add = 'op.add_column("users", sa.Column("n", sa.Text()))'
    [inside] = lint_alembic(tmp_path, f'op.execute("SET LOCAL lock_timeout = \'1min\'")\n{add}', RULE)
    assert inside.help.startswith('op.execute("SET LOCAL lock_timeout = \'5s\'")  # before this op')
    outside = 'with op.get_context().autocommit_block():\n    op.execute("SET lock_timeout = 0")\n    ' + add
    [autocommit] = lint_alembic(tmp_path, outside, RULE)  # SET LOCAL would end with its own statement's transaction
    assert autocommit.help.startswith('op.execute("SET lock_timeout = \'5s\'")')
