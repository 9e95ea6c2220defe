import pytest

from lint_rules._testing import hits, lint

RULE = "concurrently-in-transaction"

NEEDS_AUTOCOMMIT = [
    "CREATE INDEX CONCURRENTLY i ON t (a);",
    "DROP INDEX CONCURRENTLY i;",
    "REINDEX INDEX CONCURRENTLY i;",
    "REINDEX (VERBOSE, CONCURRENTLY) TABLE t;",
    "ALTER TABLE t DETACH PARTITION p CONCURRENTLY;",
    "VACUUM t;",
]


@pytest.mark.parametrize("sql", NEEDS_AUTOCOMMIT)
def test_flagged_inside_the_wrapping_transaction(sql):
    [finding] = lint(sql, RULE)
    assert "cannot run inside a transaction block" in finding.message
    assert "migrator:no-transaction" in finding.help


@pytest.mark.parametrize("sql", ["REINDEX (CONCURRENTLY false) INDEX i;", "REINDEX (CONCURRENTLY off) TABLE t;"])
def test_concurrently_false_runs_in_a_transaction(sql):
    assert hits(sql, RULE) == 0


@pytest.mark.parametrize("sql", NEEDS_AUTOCOMMIT)
def test_passes_in_a_no_transaction_file(sql):
    assert hits("-- migrator:no-transaction\n" + sql, RULE) == 0


def test_explicit_begin_in_autocommit_file_is_flagged_and_commit_ends_it():
    sql = "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;\nCREATE INDEX CONCURRENTLY j ON t (b);"
    findings = lint(sql, RULE, transaction="none")
    assert [f.line for f in findings] == [2]
    assert "explicit BEGIN" in findings[0].message


def test_commit_in_wrapped_file_ends_the_transaction():
    assert hits("COMMIT;\nCREATE INDEX CONCURRENTLY i ON t (a);", RULE) == 0


def test_on_new_table_still_fails_at_run_time():
    assert hits("CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY i ON t (a);", RULE) == 1


def test_plain_statements_pass():
    assert hits("CREATE INDEX i ON t (a);\nALTER TABLE t ADD COLUMN b int;", RULE) == 0


@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_version(pg_version):
    assert hits("CREATE INDEX CONCURRENTLY i ON t (a);", RULE, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "CREATE INDEX CONCURRENTLY i ON t (a);",
    "DROP INDEX CONCURRENTLY users_email_idx;",
    "REINDEX INDEX CONCURRENTLY users_email_idx;",
    "VACUUM t;",
]
