"""`migrator apply` / `plan` for SQL migration folders, on the sandbox cluster."""

import json
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from migrator.executor import ApplyError, Executor, Policy, load_sql_folder
from tests.test_sandbox import poll

CLI = [sys.executable, "-m", "migrator"]


def write(folder, name, sql):
    (folder / name).write_text(sql)


@pytest.fixture
def migrations(tmp_path, pg_db):
    pg_db.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text)")
    pg_db.execute("INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 1000) g")
    return tmp_path


class Reader(threading.Thread):
    """Reads the table every 50 ms and records the longest wait."""

    def __init__(self, dsn):
        super().__init__(daemon=True)
        self.dsn, self.longest, self.stop = dsn, 0.0, threading.Event()

    def run(self):
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            while not self.stop.is_set():
                started = time.monotonic()
                connection.execute("SELECT count(*) FROM users WHERE id < 10").fetchone()
                self.longest = max(self.longest, time.monotonic() - started)
                self.stop.wait(0.05)


def hold_access_share(dsn, seconds):
    """A transaction that reads users and keeps its ACCESS SHARE lock for `seconds`."""
    connection = psycopg.connect(dsn)
    connection.execute("SELECT count(*) FROM users").fetchone()
    timer = threading.Timer(seconds, connection.commit) if seconds else None
    if timer:
        timer.start()
    return connection, timer


def test_lock_holder_makes_apply_retry_without_stalling_readers(migrations, pg_db):
    write(migrations, "001_add.sql", "ALTER TABLE users ADD COLUMN nickname text;\n")
    holder, timer = hold_access_share(pg_db.dsn, 6)
    reader = Reader(pg_db.dsn)
    reader.start()
    events = []
    try:
        executor = Executor(pg_db.dsn, Policy(lock_timeout=1000, statement_timeout=1000, max_timeout=5000), events.append)
        assert executor.apply(load_sql_folder(migrations)) == ["001_add"]
    finally:
        reader.stop.set()
        reader.join()
        timer.join()
        holder.close()
    retries = [e for e in events if e["event"] == "retry"]
    assert retries and all(e["error"] == "LockNotAvailable" for e in retries)
    assert reader.longest <= 1.0 + 0.5, f"a reader waited {reader.longest:.2f} s"
    assert pg_db.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'") == [(1,)]
    assert executor.retries == len(retries) and executor.longest_wait >= 0.9


def test_holder_that_never_commits_exhausts_the_deadline_and_changes_nothing(migrations, pg_db):
    write(migrations, "001_add.sql", "ALTER TABLE users ADD COLUMN nickname text;\nCREATE TABLE audit (id int);\n")
    holder, _ = hold_access_share(pg_db.dsn, 0)
    try:
        result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--lock-timeout", "500ms",
                                       "--deadline", "3s"], capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert result.returncode == 1
    assert "001_add.sql:1: gave up after" in result.stderr and "nothing of this transaction was applied" in result.stderr
    assert "Traceback" not in result.stderr
    assert pg_db.execute("SELECT to_regclass('audit'), (SELECT count(*) FROM migrator.schema_migrations)") == [(None, 0)]


def test_concurrently_runs_outside_the_transaction_and_the_version_is_stamped_once(migrations, pg_db):
    write(migrations, "001_index.sql", "ALTER TABLE users ADD COLUMN handle text;\n"
                                       "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass") == [(True,)]
    again = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True, timeout=60)
    assert "applied 0 migrations" in again.stdout
    assert pg_db.execute("SELECT version FROM migrator.schema_migrations") == [("001_index",)]


def test_two_applies_never_run_ddl_together(migrations, pg_db):
    write(migrations, "001_slow.sql", "SELECT pg_sleep(2);\nALTER TABLE users ADD COLUMN a int;\n")
    command = CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--log-format", "json"]
    first = subprocess.Popen(command + ["--lock-wait", "20s"], stdout=subprocess.PIPE, text=True)
    poll(lambda: pg_db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")[0][0] > 0)
    waiting = subprocess.Popen(command + ["--lock-wait", "20s"], stdout=subprocess.PIPE, text=True)
    impatient = subprocess.run(command + ["--lock-wait", "500ms"], capture_output=True, text=True, timeout=60)
    assert impatient.returncode == 1 and "another migrator apply holds the deploy lock (pid" in impatient.stderr
    out_first, _ = first.communicate(timeout=60)
    out_waiting, _ = waiting.communicate(timeout=60)
    summaries = [json.loads(out.splitlines()[-1]) for out in (out_first, out_waiting)]
    assert sorted(len(s["applied"]) for s in summaries) == [0, 1]
    assert pg_db.execute("SELECT count(*) FROM migrator.schema_migrations") == [(1,)]


def test_plan_lists_steps_with_locks_transactions_and_timeouts(migrations, pg_db):
    write(migrations, "001_a.sql", "ALTER TABLE users ADD COLUMN a int;\nCREATE INDEX CONCURRENTLY i ON users (a);\n")
    result = subprocess.run(CLI + ["plan", str(migrations), "--dsn", pg_db.dsn, "--format", "json"], capture_output=True, text=True)
    steps = json.loads(result.stdout)
    assert [(s["transaction"], s["locks"][0]["lock"], s["lock_timeout_ms"], s["statement_timeout_ms"]) for s in steps] == [
        ("transaction", "ACCESS EXCLUSIVE", 5000, 10000), ("autocommit", "SHARE UPDATE EXCLUSIVE", 0, 0)]
    assert pg_db.execute("SELECT to_regclass('migrator.schema_migrations')") == [(None,)]


@pytest.mark.parametrize("sql, message", [
    ("SELECT 1;\nSELECT 'unterminated;\n", "001_bad.sql:2: cannot tokenize"),
    ("ALTER TABLE users ADD COLUMN a int;\nFROBNICATE users;\n", "001_bad.sql:2: refusing a statement migrator cannot analyze"),
])
def test_bad_migration_is_refused_before_anything_runs(migrations, pg_db, sql, message):
    write(migrations, "001_bad.sql", sql)
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True)
    assert result.returncode == 1 and message in result.stderr
    assert pg_db.execute("SELECT to_regclass('migrator.schema_migrations')") == [(None,)]


def test_unreachable_database_and_bad_options(migrations):
    write(migrations, "001.sql", "SELECT 1;\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", "postgresql://u:pw@127.0.0.1:1/x"], capture_output=True, text=True)
    assert result.returncode == 1 and "cannot connect to 127.0.0.1:1/x" in result.stderr and ":pw@" not in result.stderr
    too_long = subprocess.run(CLI + ["apply", str(migrations), "--dsn", "postgresql://127.0.0.1:1/x", "--lock-timeout", "30s"],
                              capture_output=True, text=True)
    assert too_long.returncode == 1 and "above the configured maximum 5s" in too_long.stderr
    with pytest.raises(ApplyError, match="not a folder of .sql migrations"):
        load_sql_folder(migrations / "does-not-exist")
    (migrations / "empty").mkdir()
    with pytest.raises(ApplyError, match="no .sql migrations here"):
        load_sql_folder(migrations / "empty")


def test_unsafe_migration_is_refused_with_the_lint_message_unless_ignored(migrations, pg_db):
    write(migrations, "001_index.sql", "CREATE INDEX users_email_idx ON users (email);\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True)
    assert result.returncode == 1
    assert "001_index.sql:1: refused by require-concurrent-index" in result.stderr and "CONCURRENTLY" in result.stderr
    assert pg_db.execute("SELECT to_regclass('users_email_idx')") == [(None,)]
    write(migrations, "001_index.sql", "-- migrator:ignore require-concurrent-index -- 1000 rows\nCREATE INDEX users_email_idx ON users (email);\n")
    assert subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True).returncode == 0


def test_kill_during_concurrent_index_build_then_resume(migrations, pg_db):
    pg_db.execute("INSERT INTO users SELECT g, 'u' || g FROM generate_series(1001, 300000) g")
    write(migrations, "001_both.sql", "ALTER TABLE users ADD COLUMN handle text;\n"
                                      "CREATE INDEX CONCURRENTLY users_email_idx ON users (email, id);\n")
    blocker = psycopg.connect(pg_db.dsn)  # an old snapshot makes the concurrent build wait in its last phase
    blocker.execute("SELECT 1").fetchone()
    child = subprocess.Popen(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    poll(lambda: pg_db.execute("SELECT count(*) FROM pg_stat_progress_create_index")[0][0] > 0, timeout=30, interval=0.02)
    child.kill()
    child.wait()
    blocker.close()
    poll(lambda: pg_db.execute("SELECT count(*) FROM pg_stat_progress_create_index")[0][0] == 0, timeout=30)
    assert pg_db.execute("SELECT count(*) FROM migrator.schema_migrations") == [(0,)]
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "duplicate" not in result.stderr.lower()
    assert pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass") == [(True,)]
    assert pg_db.execute("SELECT version FROM migrator.schema_migrations") == [("001_both",)]
