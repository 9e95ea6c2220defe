import pytest

from lint_rules._testing import hits, lint

RULE = "require-concurrent-detach"
SQL = "ALTER TABLE events DETACH PARTITION events_2023;"


def test_plain_detach_is_an_error_from_pg14():
    [finding] = lint(SQL, RULE, pg_version=14)
    assert "DETACH PARTITION events_2023 CONCURRENTLY" in finding.help


def test_before_pg14_there_is_no_concurrent_form():
    assert hits(SQL, RULE, pg_version=13) == 0


def test_concurrent_detach_and_new_table_pass():
    assert hits("-- migrator:no-transaction\nALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY;", RULE) == 0
    assert hits("CREATE TABLE events (at date) PARTITION BY RANGE (at);\n" + SQL, RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
def test_every_model(transaction):
    assert hits(SQL, RULE, transaction=transaction, pg_version=18) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    ("CREATE TABLE m (id bigint, at date) PARTITION BY RANGE (at);\nCREATE TABLE m_all PARTITION OF m FOR VALUES FROM ('2000-01-01') TO ('2100-01-01');", "ALTER TABLE m DETACH PARTITION m_all;"),
    ("CREATE TABLE m (id bigint, at date) PARTITION BY RANGE (at);\nCREATE TABLE m_all PARTITION OF m FOR VALUES FROM ('2000-01-01') TO ('2100-01-01');", "ALTER TABLE m DETACH PARTITION m_all CONCURRENTLY;"),
]
