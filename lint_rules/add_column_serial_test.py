import pytest

from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "add-column-serial"


@pytest.mark.parametrize("column_type", ["serial", "bigserial", "smallserial", "serial2", "serial4", "serial8", "SERIAL8"])
def test_serial_column_on_existing_table_rewrites(column_type):
    [finding] = lint(f"ALTER TABLE events ADD COLUMN seq {column_type};", RULE)
    assert "rewrites all of events" in finding.message and "CREATE SEQUENCE" in finding.help


def test_safe_alternative_and_new_table_pass():
    assert hits("ALTER TABLE events ADD COLUMN seq bigint;", RULE) == 0
    assert hits("CREATE TABLE events (id int);\nALTER TABLE events ADD COLUMN seq bigserial;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits("ALTER TABLE e ADD COLUMN s bigserial;", RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # tests/test_oracle.py
    "ALTER TABLE events ADD COLUMN n serial8;",
    "ALTER TABLE events ADD COLUMN n serial2;",
]


def test_alembic_revision_gets_column_sequence_and_default_and_they_run(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, 'op.execute("ALTER TABLE users ADD COLUMN n bigserial")', RULE)
    assert finding.help.splitlines()[:3] == [
        'op.add_column("users", sa.Column("n", sa.BigInteger()))', 'op.execute("CREATE SEQUENCE users_n_seq OWNED BY users.n")',
        'op.alter_column("users", "n", server_default=sa.text("nextval(\'users_n_seq\')"))']
    run_alembic(pg_db.dsn, "CREATE TABLE users (id int); INSERT INTO users VALUES (1)", finding.help)
    pg_db.execute("INSERT INTO users (id) VALUES (2)")
    assert pg_db.execute("SELECT id, n FROM users ORDER BY id") == [(1, None), (2, 1)]
