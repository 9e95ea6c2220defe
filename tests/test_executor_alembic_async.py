"""`migrator apply` on an Alembic project whose env.py is Alembic's async template (`alembic init
-t async`: async_engine_from_config, AsyncConnection.run_sync, asyncio.run), as modern FastAPI
projects have it, connected through psycopg 3 async (sqlalchemy.url) or through asyncpg (a URL of
the application's own): the same guard, online forms, journal, retries and same-database check as
a sync env.py, and the schema `alembic upgrade` builds."""

import json
import subprocess

import psycopg
import pytest

from tests.real_histories.harness import create_database, drop_database, schema_dump
from tests.test_executor_alembic import BIG, CLI, add_revision, alembic, apply, one_line_error, project, steps

HISTORY = {  # name: (upgrade, downgrade)
    "r1": ('op.create_table("users", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("email", sa.Text))\n'
           'op.create_table("orders", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("user_id", sa.BigInteger))',
           'op.drop_table("orders")\nop.drop_table("users")'),
    "r2": ('op.execute("INSERT INTO users SELECT g, \'u\' || g FROM generate_series(1, 1000) g")\n'
           'op.execute("INSERT INTO orders SELECT g, g FROM generate_series(1, 1000) g")',
           'op.execute("DELETE FROM orders")\nop.execute("DELETE FROM users")'),
    "r3": ('op.create_index("users_email_idx", "users", ["email"])', 'op.drop_index("users_email_idx")'),
    "r4": ('op.create_foreign_key("orders_user_fk", "orders", "users", ["user_id"], ["id"])  # migrator:ignore fk-needs-index',
           'op.drop_constraint("orders_user_fk", "orders")'),
    "r5": ('op.alter_column("users", "email", nullable=False)', 'op.alter_column("users", "email", nullable=True)'),
    "r6": ('assert op.get_bind().execute(sa.text("SELECT count(*) FROM orders")).scalar() == 1000\n'
           'op.execute("ALTER TABLE orders ADD CHECK (id > 0)")',
           'op.execute("ALTER TABLE orders DROP CONSTRAINT orders_id_check")'),
}


def async_project(root, dsn: str, history: dict[str, tuple[str, str]], driver: str = "psycopg"):
    """A project made by `alembic init -t async`, its URL the database's through psycopg 3 (which
    SQLAlchemy runs async); with driver asyncpg, its env.py connects to the URL of the application's
    own settings instead (APP_DATABASE_URL), as FastAPI projects do. Returns its alembic.ini."""
    from alembic import command
    from alembic.config import Config

    ini = root / "alembic.ini"
    command.init(Config(str(ini)), str(root / "alembic"), template="async")
    url = dsn.replace("postgresql://", "postgresql+psycopg://")
    ini.write_text(ini.read_text().replace("sqlalchemy.url = driver://user:pass@localhost/dbname", f"sqlalchemy.url = {url}"))
    env = root / "alembic" / "env.py"
    assert "async_engine_from_config" in env.read_text()
    if driver == "asyncpg":
        env.write_text("import os\n" + env.read_text().replace("config.get_section(config.config_ini_section, {}),",
                                                              '{"sqlalchemy.url": os.environ["APP_DATABASE_URL"]},'))
        assert "APP_DATABASE_URL" in env.read_text()
    down = None
    for name, (upgrade, downgrade) in history.items():
        add_revision(ini, name, down, upgrade, downgrade)
        down = name
    return ini


def app_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://")


@pytest.fixture(params=["psycopg", "asyncpg"])
def driver(request, pg_db, monkeypatch):
    """How env.py connects: through sqlalchemy.url (psycopg 3 async), or through asyncpg to its own URL."""
    monkeypatch.setenv("APP_DATABASE_URL", app_url(pg_db.dsn))
    return request.param


@pytest.fixture
def alembic_dsn(pg_cluster, pg_db):
    """A second database, where plain Alembic runs the same project."""
    name = f"{pg_db.name}_alembic"
    yield create_database(pg_cluster, name)
    drop_database(pg_cluster, name)


def same_schema(ini, dsn: str, other_dsn: str, *alembic_arguments: str) -> None:
    """`alembic ARGUMENTS` on the other database leaves the schema and alembic_version migrator left."""
    other = ini.with_name("other.ini")
    other.write_text(ini.read_text().replace(dsn.replace("postgresql://", "postgresql+psycopg://"),
                                             other_dsn.replace("postgresql://", "postgresql+psycopg://")))
    result = alembic(other, *alembic_arguments, env={"APP_DATABASE_URL": app_url(other_dsn)})
    assert result.returncode == 0, result.stderr
    assert schema_dump(dsn) == schema_dump(other_dsn)
    version = "SELECT array_agg(version_num ORDER BY version_num) FROM alembic_version"
    with psycopg.connect(dsn) as mine, psycopg.connect(other_dsn) as theirs:
        assert mine.execute(version).fetchall() == theirs.execute(version).fetchall()


def test_an_async_env_py_applies_with_online_forms_and_builds_what_alembic_builds(tmp_path, pg_db, alembic_dsn, driver):
    ini = async_project(tmp_path, pg_db.dsn, HISTORY, driver)
    first = apply(ini, pg_db.dsn, "--to", "r2")
    assert first.returncode == 0, first.stderr
    plan = subprocess.run(CLI + ["plan", str(ini), "--dsn", pg_db.dsn, *BIG], capture_output=True, text=True)
    assert plan.returncode == 0 and "r3 [after commit, autocommit 1] r3.py:10 follow-up 1: CREATE INDEX CONCURRENTLY users_email_idx" \
        in plan.stdout and "each statement is judged as it is sent" in plan.stdout, plan.stdout + plan.stderr
    result = apply(ini, pg_db.dsn, "--log-format", "json", *BIG)
    assert result.returncode == 0, result.stderr
    sent = [step["sql"] for step in steps(result)]
    for online in ("CREATE INDEX CONCURRENTLY users_email_idx ON users (email)",
                   "ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk",
                   "ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID",
                   "ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null",
                   "ALTER TABLE orders VALIDATE CONSTRAINT orders_id_check"):
        assert online in sent, sent
    assert pg_db.execute("SELECT array_agg(DISTINCT version), bool_and(status = 'done') FROM migrator.apply_journal") == [(["r3", "r4", "r5", "r6"], True)]
    same_schema(ini, pg_db.dsn, alembic_dsn, "upgrade", "head")
    down = apply(ini, pg_db.dsn, "--to", "r2", "--log-format", "json", *BIG)
    assert down.returncode == 0, down.stderr
    assert "DROP INDEX CONCURRENTLY IF EXISTS users_email_idx" in [step["sql"] for step in steps(down)]
    same_schema(ini, pg_db.dsn, alembic_dsn, "downgrade", "r2")


def test_a_failing_or_refused_revision_of_an_async_history_leaves_the_ones_before_it_committed(tmp_path, pg_db, driver):
    """Then a revision the guard refuses names its line, and its ignore directive lets it run."""
    ini = async_project(tmp_path, pg_db.dsn, {**{name: HISTORY[name] for name in ("r1", "r2", "r3")}, "r4": (
        'op.add_column("orders", sa.Column("note", sa.Text))\n'
        'op.create_foreign_key("orders_user_fk", "orders", "users", ["user_id"], ["email"])', "pass"),
        "r5": ('op.add_column("users", sa.Column("later", sa.Text))', "pass")}, driver)
    assert apply(ini, pg_db.dsn, "--to", "r2").returncode == 0
    error = one_line_error(apply(ini, pg_db.dsn, *BIG))
    assert f"{ini.parent}/alembic/versions/r4.py:11: there is no unique constraint matching given keys" in error, error
    assert error.endswith("(revision r4 was rolled back; committed before it: r3; not run: r5)"), error
    assert pg_db.execute("SELECT version_num FROM alembic_version") == [("r3",)]
    assert pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass") == [(True,)]
    assert pg_db.execute("SELECT count(*) FROM pg_attribute WHERE attname IN ('note', 'later') "
                         "AND attrelid IN ('users'::regclass, 'orders'::regclass)") == [(0,)]
    assert pg_db.execute("SELECT count(*) FROM migrator.apply_journal WHERE status <> 'done'") == [(0,)]
    body = ('n = op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar()\n'
            'op.alter_column("users", "email", type_=sa.Integer, postgresql_using="length(email)"){directive}')
    add_revision(ini, "r4", "r3", body.format(directive=""))
    error = one_line_error(apply(ini, pg_db.dsn, *BIG))
    assert error.startswith(f"Error: {ini.parent}/alembic/versions/r4.py:11: refused by changing-column-type"), error
    add_revision(ini, "r4", "r3", body.format(directive="  # migrator:ignore changing-column-type -- checked"))
    result = apply(ini, pg_db.dsn, *BIG)
    assert result.returncode == 0, result.stderr
    assert pg_db.execute("SELECT version_num, format_type(atttypid, atttypmod) FROM alembic_version, pg_attribute "
                         "WHERE attrelid = 'users'::regclass AND attname = 'email'") == [("r5", "integer")]


def test_an_async_env_py_connecting_elsewhere_is_refused(tmp_path, pg_db):
    ini = async_project(tmp_path, pg_db.dsn, {"r1": HISTORY["r1"]})
    env = ini.parent / "alembic" / "env.py"
    other = pg_db.dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/postgres"
    env.write_text(env.read_text().replace('config.get_section(config.config_ini_section, {}),',
                                           f'{{"sqlalchemy.url": {other!r}}},'))
    assert "env.py connected to another database than the one being migrated" in one_line_error(apply(ini, pg_db.dsn))
    assert pg_db.execute("SELECT to_regclass('users')") == [(None,)]


def apply_while_orders_is_locked(ini, dsn: str) -> list[dict]:
    """`apply` (300 ms lock timeout) while a transaction holds a lock on orders until apply's first retry."""
    holder = psycopg.connect(dsn.replace("+psycopg2", ""))
    holder.execute("SELECT count(*) FROM orders").fetchone()  # ACCESS SHARE on orders until commit
    child = subprocess.Popen(CLI + ["apply", str(ini), "--dsn", dsn, "--lock-timeout", "300ms", "--log-format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    for line in child.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "retry":
            holder.commit()  # the lock is free once the first try has timed out
    holder.close()
    assert child.wait(timeout=60) == 0, child.stderr.read()
    assert [e["migration"] for e in events if e["event"] == "retry"] == ["r4"]
    assert [e["migration"] for e in events if e["event"] == "done"] == ["r3", "r4"], "r3 committed once, r4 retried"
    return events


def test_a_lock_timeout_in_an_async_env_py_retries_the_revision_in_flight(tmp_path, pg_db, driver):
    """And a statement env.py's own async code sends is judged at its line."""
    ini = async_project(tmp_path, pg_db.dsn, {name: HISTORY[name] for name in ("r1", "r2")}, driver)
    env = ini.parent / "alembic" / "env.py"
    own = '        await connection.exec_driver_sql("SET search_path TO public")\n'
    env.write_text(env.read_text().replace("        await connection.run_sync(",
                                           own + "        await connection.commit()\n        await connection.run_sync("))
    own_line = env.read_text().splitlines().index(own.rstrip("\n")) + 1
    assert apply(ini, pg_db.dsn).returncode == 0
    add_revision(ini, "r3", "r2", 'op.add_column("users", sa.Column("a", sa.Text))')
    add_revision(ini, "r4", "r3", 'op.add_column("orders", sa.Column("flag", sa.Boolean))')
    events = apply_while_orders_is_locked(ini, pg_db.dsn)
    assert pg_db.execute("SELECT version_num FROM alembic_version") == [("r4",)]
    lines = {e["step"] for e in events if e["event"] == "step" and e["sql"] == "SET search_path TO public"}
    assert lines == {own_line}, "each run of env.py (heads read, first try, retry) judges it at its line"


def test_a_lock_timeout_through_psycopg2_retries_the_revision_in_flight(tmp_path, pg_db):
    """A lock timeout is known by its SQLSTATE, whichever driver's error class carries it."""
    ini = project(tmp_path, pg_db.dsn, {name: HISTORY[name][0] for name in ("r1", "r2")})
    add_revision(ini, "r3", "r2", 'op.add_column("users", sa.Column("a", sa.Text))')
    add_revision(ini, "r4", "r3", 'op.add_column("orders", sa.Column("flag", sa.Boolean))')
    assert apply(ini, pg_db.dsn, "--to", "r2").returncode == 0
    apply_while_orders_is_locked(ini, pg_db.dsn.replace("postgresql://", "postgresql+psycopg2://"))
    assert pg_db.execute("SELECT version_num FROM alembic_version") == [("r4",)]


def test_env_py_connecting_through_a_driver_the_guard_cannot_talk_through_is_refused_at_its_line(tmp_path, pg_db):
    """(sqlite: the one other driver every Python has) the error names env.py's configure() line and the way out."""
    ini = project(tmp_path, pg_db.dsn, {"r1": HISTORY["r1"][0]})
    env = ini.parent / "alembic" / "env.py"
    env.write_text(env.read_text().replace('config.get_section(config.config_ini_section, {})', '{"sqlalchemy.url": "sqlite://"}'))
    error = one_line_error(apply(ini, pg_db.dsn))
    assert error.startswith(f"Error: {env}:13: env.py connects through sqlite+pysqlite, and migrator judges statements on "
                            "psycopg 3 (sync or async), psycopg2 and asyncpg connections only"), error
    assert pg_db.execute("SELECT to_regclass('users')") == [(None,)]


def test_alembic_upgrade_through_the_env_py_hook_of_an_async_env_py_on_asyncpg(tmp_path, pg_db):
    """The ini's own asyncpg URL (the hook applies to the database it names); --dsn may not name asyncpg."""
    ini = async_project(tmp_path, pg_db.dsn, {name: HISTORY[name] for name in ("r1", "r2")})
    ini.write_text(ini.read_text().replace(pg_db.dsn.replace("postgresql://", "postgresql+psycopg://"), app_url(pg_db.dsn)))
    env = ini.parent / "alembic" / "env.py"
    env.write_text(env.read_text().replace("    run_migrations_online()\n", "    from migrator.alembic_source import "
                                           "run_migrations_through_migrator\n    run_migrations_through_migrator(context, "
                                           "run_migrations_online)\n"))
    upgraded = alembic(ini, "upgrade", "head")
    assert upgraded.returncode == 0 and "migrator: r2 applied" in upgraded.stderr, upgraded.stderr
    assert pg_db.execute("SELECT version_num, (SELECT count(*) FROM orders) FROM alembic_version") == [("r2", 1000)]
    assert one_line_error(apply(ini, app_url(pg_db.dsn))) == ("Error: --dsn: migrator connects env.py through psycopg 3 "
                                                              "(postgresql+psycopg://, which SQLAlchemy runs async too) or "
                                                              "psycopg2 (postgresql+psycopg2://), not asyncpg")


def test_an_async_env_py_handing_over_its_connection_inside_a_transaction_is_refused_at_its_line(tmp_path, pg_db):
    """A statement env.py's coroutine sends before run_sync (SQLAlchemy autobegins) would put every
    revision in one transaction nobody commits (alembic upgrade exits 0 having applied nothing): refused
    at configure()'s line, found on the stack of the greenlet run_sync runs it in."""
    ini = async_project(tmp_path, pg_db.dsn, {name: HISTORY[name] for name in ("r1", "r2")})
    env = ini.parent / "alembic" / "env.py"
    env.write_text(env.read_text().replace("        await connection.run_sync(", '        await connection.exec_driver_sql('
                                           '"SET search_path TO public")\n        await connection.run_sync('))
    configure_line = env.read_text().splitlines().index("    context.configure(connection=connection, "
                                                        "target_metadata=target_metadata)") + 1
    error = one_line_error(apply(ini, pg_db.dsn))
    assert error.startswith(f"Error: {env}:{configure_line}: env.py handed Alembic a connection inside a transaction"), error
    assert pg_db.execute("SELECT to_regclass('users'), to_regclass('alembic_version')") == [(None, None)]
