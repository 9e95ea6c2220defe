"""`migrator apply` on an Alembic project whose env.py hands Alembic a connection inside its own
transaction: `with connectable.begin() as connection:` (sync), or `async with connectable.begin()`
around `run_sync` (async), as many published env.py files do. Under `alembic upgrade` every revision
runs in that one transaction, which the block commits at its end; under migrator each revision
still commits on its own, with its timeouts, retries and online forms, and the schema and version
table are the ones `alembic upgrade` builds. What env.py ran in the transaction before configure()
(CREATE SCHEMA, SET search_path, SET LOCAL search_path) holds for every revision, as it does under
Alembic."""

import json

import psycopg
import pytest

from tests.real_histories.harness import create_database, drop_database, schema_dump
from tests.test_executor_alembic import BIG, add_revision, alembic, apply, one_line_error, project, steps
from tests.test_executor_alembic_async import apply_while_orders_is_locked, async_project

# env.py's online part: its own transaction, and what it runs in it before configure() ({preamble}).
SYNC_ENV_PY = """from alembic import context
from sqlalchemy import engine_from_config, pool, text

config = context.config


def run_migrations_online():
    connectable = engine_from_config(config.get_section(config.config_ini_section, {{}}), prefix="sqlalchemy.",
                                     poolclass=pool.NullPool)
    with connectable.{opening}() as connection:
{preamble}
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""
# Each revision's tables land in the schema the preamble put first on the search_path.
HISTORY = {
    "r1": 'op.create_table("users", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("email", sa.Text))\n'
          'op.create_table("orders", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("user_id", sa.BigInteger))',
    "r2": 'op.execute("INSERT INTO users SELECT g, \'u\' || g FROM generate_series(1, 1000) g")\n'
          'op.execute("INSERT INTO orders SELECT g, g FROM generate_series(1, 1000) g")',
    "r3": 'op.create_index("users_email_idx", "users", ["email"])',
    "r4": 'op.create_foreign_key("orders_user_fk", "orders", "users", ["user_id"], ["id"])  # migrator:ignore fk-needs-index',
    "r5": 'op.create_table("audit", sa.Column("id", sa.BigInteger, primary_key=True))',
}
DOWNGRADES = {"r1": 'op.drop_table("orders")\nop.drop_table("users")', "r2": 'op.execute("DELETE FROM orders")',
              "r3": 'op.drop_index("users_email_idx")', "r4": 'op.drop_constraint("orders_user_fk", "orders")',
              "r5": 'op.drop_table("audit")'}
PREAMBLES = {  # as public env.py files write them, each run in env.py's transaction
    "set": 'connection.execute(text("CREATE SCHEMA IF NOT EXISTS app"))\nconnection.execute(text("SET search_path TO app"))',
    "set-local": 'connection.execute(text("CREATE SCHEMA IF NOT EXISTS app"))\n'
                 'connection.execute(text("SET LOCAL search_path TO app"))',
    "set-config": 'connection.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS app")\n'
                  'connection.execute(text("SELECT set_config(\'search_path\', \'app\', true)"))',
    # Alembic's cookbook (schema per tenant), on engine.connect(): committed before configure()
    "cookbook-connect": 'connection.execute(text("CREATE SCHEMA IF NOT EXISTS app"))\n'
                        'connection.execute(text("SET search_path TO app"))\nconnection.commit()',
}


def begin_project(root, dsn: str, history: dict[str, str], preamble: str = "pass"):
    ini = project(root, dsn, history)
    indented = "\n".join("        " + line for line in preamble.splitlines())
    opening = "connect" if preamble.endswith("connection.commit()") else "begin"
    (ini.parent / "alembic" / "env.py").write_text(SYNC_ENV_PY.format(preamble=indented, opening=opening))
    return ini


@pytest.fixture
def alembic_dsn(pg_cluster, pg_db):
    """A second database, where plain `alembic upgrade` runs the same project."""
    name = f"{pg_db.name}_alembic"
    yield create_database(pg_cluster, name)
    drop_database(pg_cluster, name)


def alembic_builds_the_same(ini, dsn: str, other_dsn: str, version_table: str = "alembic_version", env=None,
                            arguments=("upgrade", "head")) -> None:
    """`alembic ARGUMENTS` of the same project on the other database leaves the schema and the version table migrator left."""
    url = dsn.replace("postgresql://", "postgresql+psycopg://")
    other = ini.with_name("other.ini")
    other.write_text(ini.read_text().replace(url, other_dsn.replace("postgresql://", "postgresql+psycopg://")))
    result = alembic(other, *arguments, env=env)
    assert result.returncode == 0, result.stderr
    assert schema_dump(dsn) == schema_dump(other_dsn)
    with psycopg.connect(dsn) as mine, psycopg.connect(other_dsn) as theirs:
        query = f"SELECT array_agg(version_num) FROM {version_table}"
        assert mine.execute(query).fetchall() == theirs.execute(query).fetchall()


@pytest.mark.parametrize("preamble", PREAMBLES, ids=list(PREAMBLES))
def test_env_py_inside_its_own_transaction_applies_each_revision_on_its_own_as_alembic_would(tmp_path, pg_db, alembic_dsn,
                                                                                            preamble):
    """The preamble's schema and search_path hold for every revision and for the follow-ups, which
    run on apply's own session (SET LOCAL too, which ends with the transaction it was made in); each revision's tables are created by a transaction of
    their own (xmin of r1's table, r2's rows, r5's table); the index on the big table is built CONCURRENTLY after r3 commits."""
    ini = begin_project(tmp_path, pg_db.dsn, HISTORY, PREAMBLES[preamble])
    assert apply(ini, pg_db.dsn, "--to", "r2").returncode == 0  # users is then a table of the database's, and big
    result = apply(ini, pg_db.dsn, "--log-format", "json", *BIG)
    assert result.returncode == 0, result.stderr
    assert "CREATE INDEX CONCURRENTLY users_email_idx ON users (email)" in [step["sql"] for step in steps(result)]
    assert pg_db.execute("SELECT version_num FROM app.alembic_version") == [("r5",)]
    assert pg_db.execute("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace") == []
    assert pg_db.execute("SELECT count(DISTINCT xmin::text) FROM (SELECT xmin FROM pg_class WHERE oid IN ('app.users'::regclass, "
                         "'app.audit'::regclass) UNION ALL (SELECT xmin FROM app.users LIMIT 1)) AS made") == [(3,)]  # r1, r5; r2
    assert pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'app.users_email_idx'::regclass") == [(True,)]
    assert pg_db.execute("SELECT count(*) FROM migrator.apply_journal WHERE status <> 'done'") == [(0,)]
    alembic_builds_the_same(ini, pg_db.dsn, alembic_dsn, "app.alembic_version")
    assert "applied 0 migrations" in apply(ini, pg_db.dsn).stdout


def test_a_failing_revision_rolls_back_alone_and_a_lock_timeout_retries_it(tmp_path, pg_db):
    """Under alembic upgrade a failure rolls the whole run back; under migrator the revisions before
    it stay committed, as with any env.py, and the failing one leaves nothing behind."""
    ini = begin_project(tmp_path, pg_db.dsn, {"r1": HISTORY["r1"], "r2": HISTORY["r2"],
                                              "r3": 'op.create_table("audit", sa.Column("id", sa.BigInteger))\n'
                                                    'op.execute("SELECT 1 / 0")'})
    error = one_line_error(apply(ini, pg_db.dsn))
    assert f"{ini.parent}/alembic/versions/r3.py:11: division by zero" in error, error
    assert error.endswith("(revision r3 was rolled back; committed before it: r1, r2)"), error
    assert pg_db.execute("SELECT version_num, to_regclass('audit'), (SELECT count(*) FROM orders) FROM alembic_version") \
        == [("r2", None, 1000)]
    add_revision(ini, "r3", "r2", 'op.add_column("users", sa.Column("a", sa.Text))')
    add_revision(ini, "r4", "r3", 'op.add_column("orders", sa.Column("flag", sa.Boolean))')
    # through psycopg2 (--dsn postgresql+psycopg2://): r3 commits once, r4 times out and runs again
    apply_while_orders_is_locked(ini, pg_db.dsn.replace("postgresql://", "postgresql+psycopg2://"))
    assert pg_db.execute("SELECT version_num FROM alembic_version") == [("r4",)]


def test_an_async_env_py_inside_its_own_transaction_applies_as_alembic_would(tmp_path, pg_db, alembic_dsn, monkeypatch):
    """`async with connectable.begin() as connection: await connection.run_sync(do_run_migrations)`
    through asyncpg, alembic_version made before configure() (seen in public env.py files); down
    again to r2 as `alembic downgrade r2` goes, DROP INDEX CONCURRENTLY on the big table."""
    from tests.test_executor_alembic_async import app_url

    monkeypatch.setenv("APP_DATABASE_URL", app_url(pg_db.dsn))
    ini = async_project(tmp_path, pg_db.dsn, {name: (body, DOWNGRADES[name]) for name, body in HISTORY.items()}, "asyncpg")
    env = ini.parent / "alembic" / "env.py"
    text = env.read_text().replace("connectable.connect() as connection", "connectable.begin() as connection")
    env.write_text(text.replace("    context.configure(", '    connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS '
                                "alembic_version (version_num varchar(255) PRIMARY KEY)\")\n    context.configure("))
    assert apply(ini, pg_db.dsn, "--to", "r2").returncode == 0
    result = apply(ini, pg_db.dsn, "--log-format", "json", *BIG)
    assert result.returncode == 0, result.stderr
    assert "CREATE INDEX CONCURRENTLY users_email_idx ON users (email)" in [step["sql"] for step in steps(result)]
    assert pg_db.execute("SELECT version_num, format_type(atttypid, atttypmod) FROM alembic_version, pg_attribute "
                         "WHERE attrelid = 'alembic_version'::regclass AND attname = 'version_num'") == [("r5", "character varying(255)")]
    alembic_builds_the_same(ini, pg_db.dsn, alembic_dsn, env={"APP_DATABASE_URL": app_url(alembic_dsn)})
    down = apply(ini, pg_db.dsn, "--to", "r2", "--log-format", "json", *BIG)
    assert down.returncode == 0, down.stderr
    assert "DROP INDEX CONCURRENTLY IF EXISTS users_email_idx" in [step["sql"] for step in steps(down)]
    alembic_builds_the_same(ini, pg_db.dsn, alembic_dsn, env={"APP_DATABASE_URL": app_url(alembic_dsn)},
                            arguments=("downgrade", "r2"))
    assert pg_db.execute("SELECT version_num, to_regclass('audit') FROM alembic_version") == [("r2", None)]


def test_autocommit_block_inside_env_pys_transaction_is_refused_at_its_line(tmp_path, pg_db):
    """Alembic cannot leave env.py's transaction for it (alembic upgrade fails on an assertion):
    refused at the revision's line, the revisions before it committed, nothing of it run."""
    ini = begin_project(tmp_path, pg_db.dsn, {**{name: HISTORY[name] for name in ("r1", "r2")}, "r3": """
        op.add_column("users", sa.Column("a", sa.Text))
        with op.get_context().autocommit_block():
            op.create_index("users_a_idx", "users", ["a"], postgresql_concurrently=True)
    """})
    error = one_line_error(apply(ini, pg_db.dsn))
    assert error.startswith(f"Error: {ini.parent}/alembic/versions/r3.py:11: autocommit_block() needs a connection outside "
                            "a transaction"), error
    assert error.endswith("(revision r3 was rolled back; committed before it: r1, r2)"), error
    assert pg_db.execute("SELECT version_num, (SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass "
                         "AND attname = 'a') FROM alembic_version") == [("r2", 0)]
    assert alembic(ini, "upgrade", "head").returncode != 0


def test_a_transaction_env_py_begins_after_configure_applies_each_revision_on_its_own(tmp_path, pg_db, alembic_dsn):
    """`context.configure(connection=connection)` then `with connection.begin(): context.run_migrations()`
    (Alembic's early template, in a block): plain Alembic runs every revision in that transaction;
    under migrator's transaction_per_migration Alembic commits it with the first revision and gives
    each next one its own, env.py's block then ending with nothing left to do."""
    ini = begin_project(tmp_path, pg_db.dsn, {name: HISTORY[name] for name in ("r1", "r2", "r5")})
    env = ini.parent / "alembic" / "env.py"
    env.write_text(env.read_text().replace("connectable.begin()", "connectable.connect()").replace(
        "        with context.begin_transaction():", "        with connection.begin():"))
    result = apply(ini, pg_db.dsn, "--log-format", "json")
    assert result.returncode == 0, result.stderr
    assert [e["migration"] for e in map(json.loads, result.stdout.splitlines()) if e["event"] == "done"] == ["r1", "r2", "r5"]
    assert pg_db.execute("SELECT count(DISTINCT xmin::text) FROM (SELECT xmin FROM pg_class WHERE oid IN ('users'::regclass, "
                         "'audit'::regclass) UNION ALL (SELECT xmin FROM users LIMIT 1)) AS made") == [(3,)]
    alembic_builds_the_same(ini, pg_db.dsn, alembic_dsn)
