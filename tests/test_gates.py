"""Backfills that gate migrations (`-- migrator:requires-backfill NAME`), on the sandbox."""

import re
import subprocess
import sys
import threading

import psycopg

from backfill import BackfillSpec, Runner
from backfill.state import update_settings
from tests.test_executor_alembic import project
from tests.test_sandbox import poll

CLI = [sys.executable, "-m", "migrator"]
SET_NOT_NULL = "-- migrator:requires-backfill fill-b\nALTER TABLE items ALTER COLUMN b SET NOT NULL;\n"


def migrator(*arguments):
    return subprocess.run(CLI + list(arguments), capture_output=True, text=True, timeout=120)


def applied(pg_db):
    return [v for (v,) in pg_db.execute("SELECT version FROM migrator.schema_migrations ORDER BY version")]


def start_fill_b(pg_db, rows_per_sec: int, at_least: int) -> threading.Thread:
    """The backfill fill-b (b = a * 2 where b IS NULL) running in a thread, once it has filled at_least rows."""
    runner = Runner(BackfillSpec("fill-b", "items", {"b": "a * 2"}, where="b IS NULL"), pg_db.dsn,
                    settings={"batch_size": 500, "max_rows_per_sec": rows_per_sec})
    thread = threading.Thread(target=runner.run)
    thread.start()
    poll(lambda: pg_db.execute("SELECT count(*) FROM items WHERE b IS NOT NULL")[0][0] >= at_least, timeout=60)
    return thread


def test_a_backfill_gates_the_migration_that_needs_it_and_those_after_until_no_row_is_left(pg_db, tmp_path):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, a int NOT NULL)")
    pg_db.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 60000) g")
    pg_db.execute("ANALYZE items")
    (tmp_path / "0001_add_b.sql").write_text("ALTER TABLE items ADD COLUMN b int;\n")
    (tmp_path / "0002_b_not_null.sql").write_text(SET_NOT_NULL)
    (tmp_path / "0003_later.sql").write_text("CREATE TABLE later (id int);\n")
    gated = f"{tmp_path / '0002_b_not_null.sql'}:1: migration 0002_b_not_null requires backfill fill-b"

    never = migrator("apply", str(tmp_path), "--dsn", pg_db.dsn)
    assert never.returncode == 1
    assert never.stderr.splitlines()[-1].startswith(f"Error: {gated}: backfill fill-b has never run in this database")
    assert applied(pg_db) == ["0001_add_b"], "the migrations before the gate are applied, the gated one and later ones not"

    thread = start_fill_b(pg_db, 1000, at_least=1000)  # a minute's work at this pace: still running below, however slow the CLI
    try:
        running = migrator("apply", str(tmp_path), "--dsn", pg_db.dsn)
        assert running.returncode == 1 and running.stderr.count("\n") == 1, "nothing applied: the one line of the refusal"
        assert re.match(rf"Error: {re.escape(gated)}: backfill fill-b is running: [\d,]+ of ~60,000 rows, ~[\d,]+ left, "
                        r"ETA \d+(s|min); it and the migrations after it wait\n", running.stderr), running.stderr
        plan = migrator("plan", str(tmp_path), "--dsn", pg_db.dsn).stdout
        assert re.search(r"^0002_b_not_null waits: requires backfill fill-b \(.*0002_b_not_null.sql:1\): backfill fill-b is running: ",
                         plan, re.MULTILINE), plan
    finally:
        with psycopg.connect(pg_db.dsn, autocommit=True) as control:
            update_settings(control, "fill-b", {"max_rows_per_sec": 1_000_000})  # retuned to finish now
        thread.join(60)
    assert applied(pg_db) == ["0001_add_b"]

    pg_db.execute("INSERT INTO items (id, a) VALUES (100000, 7)")  # the app writes a row after the backfill's range
    left = migrator("apply", str(tmp_path), "--dsn", pg_db.dsn)
    assert left.returncode == 1
    assert "backfill fill-b is done, but 1 row of public.items still matches it" in left.stderr
    assert pg_db.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'b'") == [(False,)]

    pg_db.execute("UPDATE items SET b = a * 2 WHERE b IS NULL")
    assert "0002_b_not_null passes: requires backfill fill-b" in migrator("plan", str(tmp_path), "--dsn", pg_db.dsn).stdout
    passed = migrator("apply", str(tmp_path), "--dsn", pg_db.dsn)
    assert passed.returncode == 0, passed.stderr
    assert applied(pg_db) == ["0001_add_b", "0002_b_not_null", "0003_later"]
    assert pg_db.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'b'") == [(True,)]


def test_an_alembic_revision_is_gated_by_the_same_comment(pg_db, tmp_path):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, a int NOT NULL, b int)")
    pg_db.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 100) g")
    ini = project(tmp_path, pg_db.dsn, {
        "0001": 'op.create_table("other", sa.Column("id", sa.Integer, primary_key=True))',
        "0002": '# migrator:requires-backfill fill-b\nop.alter_column("items", "b", nullable=False)',
    })
    refused = migrator("apply", str(ini), "--dsn", pg_db.dsn)
    assert refused.returncode == 1 and "migration 0002 requires backfill fill-b: backfill fill-b has never run" in refused.stderr
    assert pg_db.execute("SELECT version_num FROM alembic_version") == [("0001",)]
    Runner(BackfillSpec("fill-b", "items", {"b": "a"}, where="b IS NULL"), pg_db.dsn).run()
    assert migrator("apply", str(ini), "--dsn", pg_db.dsn).returncode == 0
    assert pg_db.execute("SELECT version_num FROM alembic_version") == [("0002",)]


def test_the_linter_knows_the_directive_and_refuses_it_without_a_name(tmp_path):
    (tmp_path / "good.sql").write_text(SET_NOT_NULL)
    (tmp_path / "bad.sql").write_text("-- migrator:requires-backfill\nSELECT 1;\n")
    good = migrator("lint", "--select", "invalid-directive", str(tmp_path / "good.sql"))
    bad = migrator("lint", "--select", "invalid-directive", str(tmp_path / "bad.sql"))
    assert "invalid-directive" not in good.stdout
    assert "migrator:requires-backfill needs one backfill name" in bad.stdout


def test_lint_with_dsn_warns_about_columns_an_unfinished_backfill_of_that_database_uses(pg_db, tmp_path):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, a int NOT NULL, b int)")
    pg_db.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 30000) g")
    migration = tmp_path / "0002.sql"
    migration.write_text("ALTER TABLE items ALTER COLUMN b SET NOT NULL;\nALTER TABLE items DROP COLUMN a;\n")
    thread = start_fill_b(pg_db, 5000, at_least=1)
    try:
        assert migrator("backfill", "pause", "fill-b", "--dsn", pg_db.dsn).returncode == 0
        result = migrator("lint", "--select", "unfinished-backfill", "--dsn", pg_db.dsn, str(migration))
    finally:
        migrator("backfill", "cancel", "fill-b", "--dsn", pg_db.dsn)
        thread.join(60)
    assert "SET NOT NULL on items.b while backfill fill-b (paused) still writes it" in result.stdout
    assert "dropping items.a while backfill fill-b (paused) still reads it" in result.stdout
    quiet = migrator("lint", "--select", "unfinished-backfill", "--dsn", pg_db.dsn, str(migration))
    assert "unfinished-backfill" not in quiet.stdout, "a cancelled backfill is not waited for"
    refused = migrator("lint", "--dsn", "postgresql://app:s3cret@127.0.0.1:1/x", str(migration))
    assert refused.returncode == 2 and "connection refused" in refused.stderr and "s3cret" not in refused.stderr
