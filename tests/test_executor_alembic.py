"""`migrator apply` on Alembic projects, and `alembic upgrade` routed through the executor by env.py."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_executor import kill_apply_during_concurrent_build

CLI = [sys.executable, "-m", "migrator"]
ENV_PY = """from alembic import context
from migrator.alembic_source import run_migrations_through_migrator

run_migrations_through_migrator(context)
"""


def project(root: Path, dsn: str, revisions: dict[str, str]) -> Path:
    """An Alembic project whose revisions run in order; returns its alembic.ini."""
    (root / "alembic" / "versions").mkdir(parents=True)
    (root / "alembic" / "env.py").write_text(ENV_PY)
    (root / "alembic.ini").write_text(f"[alembic]\nscript_location = %(here)s/alembic\nsqlalchemy.url = {dsn}\n")
    down = None
    for name, body in revisions.items():
        (root / "alembic" / "versions" / f"{name}.py").write_text(
            f'"""{name}"""\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = "{name}"\n'
            f"down_revision = {down!r}\n\n\ndef upgrade():\n" + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ")
            + "\n\ndef downgrade():\n    pass\n")
        down = name
    return root / "alembic.ini"


@pytest.fixture
def tables(pg_db):
    pg_db.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text)")
    pg_db.execute("CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint)")
    pg_db.execute("INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 1000) g")
    return pg_db


REVISIONS = {
    "r1": 'op.create_index("users_email_idx", "users", ["email"])',
    "r2": 'op.create_foreign_key("orders_user_fk", "orders", "users", ["user_id"], ["id"])  # migrator:ignore fk-needs-index',
    "r3": 'op.alter_column("users", "email", nullable=False)',
    "r4": 'op.execute("ALTER TABLE orders ADD CONSTRAINT orders_id_positive CHECK (id > 0)")',
}
CATALOG = ("SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass), "
           "(SELECT convalidated FROM pg_constraint WHERE conname = 'orders_user_fk'), "
           "(SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email'), "
           "(SELECT convalidated FROM pg_constraint WHERE conname = 'orders_id_positive'), "
           "(SELECT version_num FROM alembic_version)")


def test_apply_rewrites_alembic_operations_and_stamps_alembic_version(tmp_path, tables):
    ini = project(tmp_path, tables.dsn, REVISIONS)
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "CREATE INDEX CONCURRENTLY users_email_idx" in result.stderr
    assert "VALIDATE CONSTRAINT orders_user_fk" in result.stderr
    assert tables.execute(CATALOG) == [(True, True, True, True, "r4")]
    again = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn], capture_output=True, text=True)
    assert "applied 0 migrations" in again.stdout


def test_apply_to_a_given_revision_and_plan_marks_online_only(tmp_path, tables):
    revisions = {**REVISIONS, "r5": 'rows = op.get_bind().execute(sa.text("SELECT 1")).fetchall()'}
    ini = project(tmp_path, tables.dsn, revisions)
    assert subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn, "--to", "r2"], capture_output=True).returncode == 0
    assert tables.execute("SELECT version_num FROM alembic_version") == [("r2",)]
    bad = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn], capture_output=True, text=True)
    assert bad.returncode == 1 and "r5.py:10: cannot render offline" in bad.stderr and "online only" in bad.stderr
    assert tables.execute("SELECT version_num FROM alembic_version") == [("r2",)], "nothing applied past r2"


@pytest.mark.parametrize("target, message", [("nope", "No such revision or branch 'nope'")])
def test_unknown_target_revision(tmp_path, tables, target, message):
    ini = project(tmp_path, tables.dsn, REVISIONS)
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn, "--to", target], capture_output=True, text=True)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert tables.execute("SELECT to_regclass('alembic_version')") == [(None,)]


def test_revision_with_a_syntax_error(tmp_path, tables):
    ini = project(tmp_path, tables.dsn, {"r1": "op.execute('SELECT 1'"})
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn], capture_output=True, text=True)
    assert result.returncode == 1 and "r1.py" in result.stderr and "syntax error" in result.stderr


def test_unsafe_revision_is_refused_at_the_line_of_its_op_call(tmp_path, tables):
    ini = project(tmp_path, tables.dsn, {"r1": """
        op.add_column("users", sa.Column("handle", sa.Text))
        op.alter_column("users", "email", type_=sa.BigInteger)
    """})
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn], capture_output=True, text=True)
    assert result.returncode == 1 and "r1.py:11: refused by changing-column-type" in result.stderr, result.stderr
    assert tables.execute("SELECT to_regclass('alembic_version')") == [(None,)]


def test_alembic_upgrade_runs_through_the_executor_with_two_lines_in_env_py(tmp_path, tables):
    import threading

    import psycopg

    ini = project(tmp_path, tables.dsn.replace("postgresql://", "postgresql+psycopg://"),
                  {"r1": 'op.add_column("users", sa.Column("nickname", sa.Text))', **{k: v for k, v in REVISIONS.items() if k != "r1"},
                   "r5": 'op.create_index("users_email_idx", "users", ["email"])'})
    holder = psycopg.connect(tables.dsn)
    holder.execute("SELECT count(*) FROM users").fetchone()  # ACCESS SHARE on users until commit
    timer = threading.Timer(7.0, holder.commit)
    timer.start()
    try:
        result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
                                capture_output=True, text=True, timeout=120)
    finally:
        timer.join()
        holder.close()
    assert result.returncode == 0, result.stderr
    assert "migrator: r1 retry 1 after LockNotAvailable" in result.stdout
    assert "migrator: r5 applied" in result.stdout
    assert tables.execute(CATALOG.replace("version_num FROM alembic_version", "'r5' FROM alembic_version WHERE version_num = 'r5'")) \
        == [(True, True, True, True, "r5")]


def test_kill_during_the_concurrent_index_build_of_a_revision_then_resume(tmp_path, tables):
    tables.execute("INSERT INTO users SELECT g, 'u' || g FROM generate_series(1001, 300000) g")
    ini = project(tmp_path, tables.dsn, {"r1": """
        op.add_column("users", sa.Column("handle", sa.Text))
        op.create_index("users_email_idx", "users", ["email", "id"])
    """})
    kill_apply_during_concurrent_build(ini, tables)
    assert tables.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'handle'") == [(1,)]
    assert tables.execute("SELECT to_regclass('alembic_version')") == [(None,)]
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "duplicate" not in result.stderr.lower() and "ADD COLUMN handle" not in result.stderr  # not run again
    assert tables.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass") == [(True,)]
    assert tables.execute("SELECT version_num FROM alembic_version") == [("r1",)]
