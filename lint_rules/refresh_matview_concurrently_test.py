import pytest

from lint_rules._testing import hits, lint

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
