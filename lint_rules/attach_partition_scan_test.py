import pytest

from lint_rules._testing import hits, lint

RULE = "attach-partition-scan"
ATTACH = "ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
CHECK = "ALTER TABLE events_2025 ADD CONSTRAINT bound CHECK (at >= '2025-01-01' AND at < '2026-01-01') NOT VALID;\n"


def test_attach_without_a_validated_check_scans():
    [finding] = lint(ATTACH, RULE)
    assert "scans all of it" in finding.message and "VALIDATE CONSTRAINT" in finding.help


def test_validated_check_in_the_migration_passes():
    assert hits(CHECK + "ALTER TABLE events_2025 VALIDATE CONSTRAINT bound;\n" + ATTACH, RULE) == 0


def test_unvalidated_check_does_not_count():
    assert hits(CHECK + ATTACH, RULE) == 1


def test_partition_created_in_the_migration_passes():
    assert hits("CREATE TABLE events_2025 (at date);\n" + ATTACH, RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits(ATTACH, RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    ("CREATE TABLE m (id bigint, at date) PARTITION BY RANGE (at);\nCREATE TABLE m_all PARTITION OF m FOR VALUES FROM ('2000-01-01') TO ('2100-01-01');\nCREATE TABLE m_new (id bigint, at date);", "ALTER TABLE m DETACH PARTITION m_all;\nALTER TABLE m ATTACH PARTITION m_new FOR VALUES FROM ('2000-01-01') TO ('2100-01-01');"),
]
