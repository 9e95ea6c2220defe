import pytest

from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "add-foreign-key"


def test_validated_foreign_key_is_an_error_with_not_valid_recipe():
    [finding] = lint("ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);", RULE)
    assert "SHARE ROW EXCLUSIVE" in finding.message
    assert "NOT VALID" in finding.help and "VALIDATE CONSTRAINT orders_user_fk" in finding.help


def test_unnamed_foreign_key_gets_a_generated_name():
    [finding] = lint("ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users;", RULE)
    assert "orders_user_id_fkey" in finding.help


@pytest.mark.parametrize("sql", [
    "ALTER TABLE orders ADD COLUMN user_id bigint DEFAULT 1 REFERENCES users (id);",
    "ALTER TABLE orders ADD COLUMN user_id bigint DEFAULT NULL REFERENCES users (id);",
    "ALTER TABLE orders ADD COLUMN user_id bigserial REFERENCES users (id);",
])
def test_add_column_references_with_a_default_in_the_statement_is_flagged(sql):
    [finding] = lint(sql, RULE)
    assert "REFERENCES" in finding.message
    assert "ADD COLUMN user_id bigint" in finding.help or "ADD COLUMN user_id bigserial" in finding.help


@pytest.mark.parametrize("sql", [
    "ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);",
    "ALTER TABLE orders ADD COLUMN user_id bigint UNIQUE REFERENCES users ON DELETE SET NULL;",
    "ALTER TABLE orders ADD COLUMN user_id bigint CONSTRAINT fk REFERENCES users (id) MATCH FULL ON UPDATE CASCADE NOT NULL;",
    "ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id), ADD COLUMN n int DEFAULT 0;",
])
def test_add_column_references_without_default_is_not_validated(sql):
    """Every row holds NULL: PostgreSQL marks the key valid without reading the table."""
    assert hits(sql, RULE) == 0


@pytest.mark.parametrize("sql", [
    "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
    "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID, VALIDATE CONSTRAINT other;",
    "ALTER TABLE orders VALIDATE CONSTRAINT fk;",
])
def test_safe_forms_pass(sql):
    assert hits(sql, RULE) == 0


def test_new_table_passes():
    sql = "CREATE TABLE orders (id int, user_id int);\nALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);"
    assert hits(sql, RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    sql = "ALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id);"
    assert hits(sql, RULE, transaction=transaction, pg_version=pg_version) == 1


ORACLE = [  # tests/test_oracle.py: no validation scan without a default, a scan with one
    "ALTER TABLE orders ADD COLUMN team_id bigint REFERENCES teams (id);",
    "ALTER TABLE orders ADD COLUMN team_id bigint UNIQUE REFERENCES teams ON DELETE SET NULL;",
    "ALTER TABLE orders ADD COLUMN team_id bigint DEFAULT 1 REFERENCES teams (id);",
    "ALTER TABLE orders ADD COLUMN team_id bigint REFERENCES teams (id), ADD COLUMN n int DEFAULT 0;",
    "ALTER TABLE orders ADD COLUMN n int DEFAULT 0, ADD COLUMN team_id bigint REFERENCES teams (id);",
    "ALTER TABLE orders ADD COLUMN team_id bigint DEFAULT NULL REFERENCES teams (id);",
    "ALTER TABLE orders ADD COLUMN team_id bigserial REFERENCES teams (id);",
    "ALTER TABLE users ADD CONSTRAINT users_team_fk FOREIGN KEY (team_id) REFERENCES teams (id);",
]


ALEMBIC_SETUP = ("CREATE TABLE users (id bigint PRIMARY KEY); CREATE TABLE teams (id bigint PRIMARY KEY);"
                 "CREATE TABLE orders (id bigint, user_id bigint, team_id bigint);")


def _validated(pg_db, name: str) -> list:
    return pg_db.execute("SELECT convalidated FROM pg_constraint WHERE conname = %s", (name,))


def test_alembic_revision_gets_postgresql_not_valid_and_it_runs(tmp_path, pg_db):
    [finding] = lint_alembic(tmp_path, 'op.create_foreign_key("orders_user_id_fkey", "orders", "users", ["user_id"], ["id"])', RULE)
    intro, code = finding.help.split(":\n", 1)
    assert "postgresql_not_valid=True" in intro and "NOT VALID;" not in finding.help
    assert code == (
        'op.create_foreign_key("orders_user_id_fkey", "orders", "users", ["user_id"], ["id"], postgresql_not_valid=True)\n'
        'with op.get_context().autocommit_block():\n'
        '    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey")')
    run_alembic(pg_db.dsn, ALEMBIC_SETUP, code)
    assert _validated(pg_db, "orders_user_id_fkey") == [(True,)]


def test_alembic_added_column_with_a_foreign_key_and_a_default(tmp_path, pg_db):
    body = 'op.add_column("orders", sa.Column("team_id", sa.BigInteger(), sa.ForeignKey("teams.id"), server_default="1"))'
    [finding] = lint_alembic(tmp_path, body, RULE)
    code = finding.help.split(":\n", 1)[1]
    assert 'op.create_foreign_key("orders_team_id_fkey", "orders", "teams", ["team_id"], ["id"], postgresql_not_valid=True)' in code
    run_alembic(pg_db.dsn, ALEMBIC_SETUP, code)
    assert _validated(pg_db, "orders_team_id_fkey") == [(True,)]


def test_explain_shows_the_alembic_form():
    from lint_rules import get_rule

    assert "postgresql_not_valid=True" in get_rule(RULE).explain()
