import pytest

from lint_rules._testing import hits, lint, lint_alembic, run_alembic

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


def test_alembic_revision_gets_the_bound_check_validated_apart_then_the_attach_and_it_runs(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, f'op.execute("{ATTACH.rstrip(";")}")', RULE)
    code = finding.help.replace("<the partition bound>", "at >= '2025-01-01' AND at < '2026-01-01' AND at IS NOT NULL")
    assert 'op.create_check_constraint("events_2025_bound", "events_2025", ' in code and "postgresql_not_valid=True" in code
    assert code.splitlines()[-1] == 'op.drop_constraint("events_2025_bound", "events_2025", type_="check")'
    run_alembic(pg_db.dsn, "CREATE TABLE events (at date) PARTITION BY RANGE (at); CREATE TABLE events_2025 (at date);"
                           "INSERT INTO events_2025 VALUES ('2025-06-01')", code)
    assert pg_db.execute("SELECT count(*) FROM events") == [(1,)]
    assert pg_db.execute("SELECT count(*) FROM pg_constraint WHERE conname = 'events_2025_bound'") == [(0,)]
