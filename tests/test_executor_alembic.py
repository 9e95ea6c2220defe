"""`migrator apply` on Alembic projects, and `alembic upgrade` routed through the executor by env.py."""

import json
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
        add_revision(root / "alembic.ini", name, down, body)
        down = name
    return root / "alembic.ini"


def add_revision(ini: Path, name: str, down: str | tuple[str, ...] | None, body: str) -> None:
    """A revision file `name` following `down` (a tuple of revisions: a merge revision)."""
    (ini.parent / "alembic" / "versions" / f"{name}.py").write_text(
        f'"""{name}"""\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = "{name}"\n'
        f"down_revision = {down!r}\n\n\ndef upgrade():\n" + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ")
        + "\n\ndef downgrade():\n    pass\n")


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


LIVE = """
    rows = op.get_bind().execute(sa.text("SELECT id FROM users WHERE id <= :n ORDER BY id"), {"n": 3}).fetchall()
    for (user_id,) in rows:
        op.execute(sa.text("UPDATE users SET email = 'vip' || id WHERE id = :i").bindparams(i=user_id))
    op.add_column("orders", sa.Column("flag", sa.Boolean))
"""


def test_a_revision_that_reads_the_database_runs_live_after_the_rendered_ones(tmp_path, tables):
    ini = project(tmp_path, tables.dsn, {**REVISIONS, "r5": LIVE})
    assert subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn, "--to", "r2"], capture_output=True).returncode == 0
    assert tables.execute("SELECT version_num FROM alembic_version") == [("r2",)]
    plan = subprocess.run(CLI + ["plan", str(ini), "--dsn", tables.dsn], capture_output=True, text=True)
    assert plan.returncode == 0 and "r5 [transaction 0] step 0: -- upgrade() of r5.py runs live" in plan.stdout, plan.stdout
    assert "online only: each statement is planned" in plan.stdout
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn, "--log-format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    live = [e for e in events if e.get("event") == "step" and e["migration"] == "r5"]
    assert [e["sql"].split()[0] for e in live] == ["SELECT", "UPDATE", "UPDATE", "UPDATE", "ALTER"], live
    assert "WHERE id = 2" in live[2]["sql"], "parameters inlined in what is checked and shown"
    alter = live[-1]
    assert (alter["lock_timeout_ms"], alter["statement_timeout_ms"]) == (100, 5100), "armed like a SQL step's first try"
    assert tables.execute("SELECT string_agg(email, ',' ORDER BY id) FROM users WHERE id <= 4") == [("vip1,vip2,vip3,u4",)]
    assert tables.execute("SELECT version_num FROM alembic_version") == [("r5",)]
    assert tables.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'flag'") == [(1,)]


def test_a_live_revision_retries_a_lock_timeout_from_its_start(tmp_path, tables):
    import threading

    import psycopg

    ini = project(tmp_path, tables.dsn, {"r1": LIVE})
    holder = psycopg.connect(tables.dsn)
    holder.execute("SELECT count(*) FROM orders").fetchone()  # ACCESS SHARE on orders until commit
    timer = threading.Timer(2.0, holder.commit)
    timer.start()
    try:
        result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn, "--lock-timeout", "300ms"],
                                capture_output=True, text=True, timeout=120)
    finally:
        timer.join()
        holder.close()
    assert result.returncode == 0, result.stderr
    assert "retry" in result.stderr and "LockNotAvailable" in result.stderr, result.stderr
    assert tables.execute("SELECT count(*) FROM users WHERE left(email, 3) = 'vip'") == [(3,)]
    assert tables.execute("SELECT version_num FROM alembic_version") == [("r1",)]


def test_a_live_revision_is_linted_as_a_whole_so_far(tmp_path, tables):
    """Statements come one at a time, but the linter sees the revision up to each: an index on a
    table the revision created a moment ago is no index on a live table."""
    ini = project(tmp_path, tables.dsn, {"r1": """
        op.get_bind().execute(sa.text("SELECT 1")).scalar()
        op.create_table("tags", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("name", sa.Text))
        op.create_index("tags_name_idx", "tags", ["name"])
    """})
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert tables.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'tags_name_idx'::regclass") == [(True,)]


@pytest.mark.parametrize("body, message", [
    ('op.get_bind().execute(sa.text("SELECT 1")).scalar()\nop.create_index("users_email_idx", "users", ["email"])',
     "r1.py:12: refused by require-concurrent-index"),
    ('op.get_bind().execute(sa.text("SELECT 1")).scalar()\nwith op.get_context().autocommit_block():\n    op.execute("VACUUM users")',
     "autocommit_block() cannot run in a revision that reads the database"),
    ('op.get_bind().execute(sa.text("SELECT 1")).scalar()\nop.add_column("users", sa.Column("n", sa.Integer))\n'
     'op.execute("UPDATE users SET n = 1")', "r1.py:13: refused by work-while-holding-lock"),
    ('op.get_bind().execute(sa.text("SELECT 1")).scalar()\nop.execute("UPDATE users SET id = 7 WHERE id = 8")',
     "r1.py:12: duplicate key value violates unique constraint"),
    ('op.get_bind().execute(sa.text("SELECT 1")).scalar()\nraise ValueError("no such tenant")',
     "r1.py:12: upgrade() failed (ValueError: no such tenant); nothing of it was applied"),
])
def test_a_live_revision_is_refused_or_fails_statement_by_statement_and_rolls_back(tmp_path, tables, body, message):
    ini = project(tmp_path, tables.dsn, {"r0": 'op.add_column("orders", sa.Column("note", sa.Text))',
                                         "r1": 'op.execute("UPDATE users SET email = NULL WHERE id = 1")\n' + body})
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and message in result.stderr.strip().splitlines()[-1], result.stderr
    assert "Traceback" not in result.stderr
    assert tables.execute("SELECT version_num FROM alembic_version") == [("r0",)], "r0 applied, r1 not"
    assert tables.execute("SELECT email FROM users WHERE id = 1") == [("u1",)], "r1's first statement rolled back"


@pytest.mark.parametrize("target, message", [("nope", "No such revision or branch 'nope'")])
def test_unknown_target_revision(tmp_path, tables, target, message):
    ini = project(tmp_path, tables.dsn, REVISIONS)
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn, "--to", target], capture_output=True, text=True)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert tables.execute("SELECT to_regclass('alembic_version')") == [(None,)]


def test_branched_history_and_its_merge_revision_keep_alembic_version_as_alembic_does(tmp_path, tables):
    """alembic_version holds one row per head: a branch point adds a row, a merge revision folds them."""
    ini = project(tmp_path, tables.dsn, {"root": 'op.add_column("users", sa.Column("handle", sa.Text))'})
    add_revision(ini, "left", "root", 'op.create_index("users_handle_idx", "users", ["handle"])')
    add_revision(ini, "right", "root", 'op.add_column("orders", sa.Column("note", sa.Text))')

    def apply(*target):
        return subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn, *target], capture_output=True, text=True, timeout=120)

    two_heads = apply()
    assert two_heads.returncode == 1 and "several heads (left, right)" in two_heads.stderr, two_heads.stderr
    assert "Traceback" not in two_heads.stderr and len(two_heads.stderr.strip().splitlines()) == 1
    assert tables.execute("SELECT to_regclass('alembic_version')") == [(None,)], "nothing applied"
    assert apply("--to", "left").returncode == 0
    assert tables.execute("SELECT version_num FROM alembic_version") == [("left",)]
    both = apply("--to", "heads")
    assert both.returncode == 0, both.stderr
    assert tables.execute("SELECT version_num FROM alembic_version ORDER BY 1") == [("left",), ("right",)]
    add_revision(ini, "merged", ("left", "right"), 'op.create_index("orders_note_idx", "orders", ["note"])')
    plan = subprocess.run(CLI + ["plan", str(ini), "--dsn", tables.dsn], capture_output=True, text=True)
    assert plan.returncode == 0 and "merged" in plan.stdout and "left" not in plan.stdout, plan.stdout
    merged = apply()
    assert merged.returncode == 0, merged.stderr
    assert "CREATE INDEX CONCURRENTLY orders_note_idx" in merged.stderr
    assert tables.execute("SELECT version_num FROM alembic_version") == [("merged",)]
    assert tables.execute("SELECT count(*) FROM pg_index WHERE indexrelid IN ('users_handle_idx'::regclass, "
                          "'orders_note_idx'::regclass) AND indisvalid") == [(2,)]
    assert "applied 0 migrations" in apply().stdout


def test_a_custom_version_table_is_refused_not_guessed_at(tmp_path, tables):
    ini = project(tmp_path, tables.dsn, REVISIONS)
    env = tmp_path / "alembic" / "env.py"
    env.write_text(PLAIN_ENV_WITH_VERSION_TABLE)
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn], capture_output=True, text=True)
    assert result.returncode == 1 and f"{env}:5: env.py configures its own version table" in result.stderr, result.stderr
    assert tables.execute("SELECT to_regclass('alembic_version'), to_regclass('my_versions')") == [(None, None)]


PLAIN_ENV_WITH_VERSION_TABLE = """from alembic import context
from sqlalchemy import create_engine

with create_engine(context.config.get_main_option("sqlalchemy.url")).connect() as connection:
    context.configure(connection=connection, version_table="my_versions")
    with context.begin_transaction():
        context.run_migrations()
"""


def test_a_revision_named_like_an_alembic_keyword_is_a_clear_error(tmp_path, tables):
    ini = project(tmp_path, tables.dsn, {"base": 'op.add_column("users", sa.Column("n", sa.Integer))',
                                         "r2": 'op.add_column("users", sa.Column("m", sa.Integer))'})
    result = subprocess.run(CLI + ["apply", str(ini), "--dsn", tables.dsn], capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "base.py:5: revision id 'base' is one of Alembic's keywords" in result.stderr


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
