import pytest

from lint_rules import get_rule
from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "refresh-matview-concurrently"


def test_plain_refresh_is_an_error():
    [finding] = lint("REFRESH MATERIALIZED VIEW daily_totals;", RULE)
    assert "REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals" in finding.help


def test_concurrent_refresh_passes():
    assert hits("REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits("REFRESH MATERIALIZED VIEW mv WITH DATA;", RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "REFRESH MATERIALIZED VIEW mv;",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY mv;",
]


def test_alembic_revision_gets_op_execute_of_the_concurrent_refresh_and_it_runs_in_the_revision(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, 'op.execute("REFRESH MATERIALIZED VIEW mv")', RULE)
    code = finding.help.split("  #")[0]
    assert code == 'op.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY mv")' and "unique index" in finding.help
    setup = ("CREATE TABLE t (id int); CREATE MATERIALIZED VIEW mv AS SELECT id FROM t; CREATE UNIQUE INDEX mv_id ON mv (id);"
             "INSERT INTO t VALUES (1), (2); CREATE TABLE daily (day date); INSERT INTO daily VALUES ('2024-01-01');"
             "CREATE MATERIALIZED VIEW daily_totals AS SELECT day, count(*) FROM daily GROUP BY day")
    run_alembic(pg_db.dsn, setup, finding.help + "\n" + get_rule(RULE).instead_alembic)  # the explained recipe too
    assert pg_db.execute("SELECT count(*) FROM mv") == [(2,)]
    assert pg_db.execute("SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = 'daily_totals_day'::regclass") \
        == [(True, True)]
