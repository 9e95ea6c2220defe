"""`migrator apply` / `plan` for SQL migration folders, on the sandbox cluster."""

import contextlib
import json
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from migrator.executor import ApplyError, Executor, Policy, load_sql_folder
from tests.pgbouncer import pgbouncer
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
    """Reads the table every 50 ms and records when each read started and ended."""

    def __init__(self, dsn):
        super().__init__(daemon=True)
        self.dsn, self.reads, self.stop = dsn, [], threading.Event()

    def run(self):
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            while not self.stop.is_set():
                started = time.monotonic()
                connection.execute("SELECT count(*) FROM users WHERE id < 10").fetchone()
                self.reads.append((started, time.monotonic()))
                self.stop.wait(0.05)

    @property
    def longest(self) -> float:
        return max(end - start for start, end in self.reads)

    def served(self, start: float, end: float) -> int:
        """Reads that ended between start and end."""
        return sum(start < ended < end for _, ended in self.reads)


def hold_access_share(dsn, seconds):
    """A transaction that reads users and keeps its ACCESS SHARE lock for `seconds`."""
    connection = psycopg.connect(dsn)
    connection.execute("SELECT count(*) FROM users").fetchone()
    timer = threading.Timer(seconds, connection.commit) if seconds else None
    if timer:
        timer.start()
    return connection, timer


@contextlib.contextmanager
def reading_while_held(dsn, seconds):
    """A transaction holding ACCESS SHARE on users for `seconds`, and a Reader of users meanwhile."""
    holder, timer = hold_access_share(dsn, seconds)
    reader = Reader(dsn)
    reader.start()
    try:
        yield reader
    finally:
        reader.stop.set()
        reader.join()
        timer.join()
        holder.close()


def test_lock_holder_makes_apply_retry_without_stalling_readers(migrations, pg_db):
    write(migrations, "001_add.sql", "ALTER TABLE users ADD COLUMN nickname text;\n")
    events = []
    with reading_while_held(pg_db.dsn, 20) as reader:
        executor = Executor(pg_db.dsn, Policy(lock_timeout=1000, statement_timeout=1000, max_timeout=5000,
                                              attempts=100, deadline=60_000), events.append)
        assert executor.apply(load_sql_folder(migrations)) == ["001_add"]
    retries = [e for e in events if e["event"] == "retry"]
    assert retries and all(e["error"] == "LockNotAvailable" for e in retries)
    assert reader.longest <= 1.0 + 0.5, f"a reader waited {reader.longest:.2f} s"
    assert pg_db.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'") == [(1,)]
    assert executor.retries == len(retries) and executor.longest_wait >= 0.9


def test_while_a_long_transaction_holds_the_table_reads_get_through_between_tries(migrations, pg_db):
    """With the default 5 s lock timeout, a holder of ACCESS SHARE for 8 s must not block readers for
    most of that time: tries start short and each pause is 5x the next try's wait."""
    write(migrations, "001_add.sql", "ALTER TABLE users ADD COLUMN nickname text;\n")
    events = []
    with reading_while_held(pg_db.dsn, 8) as reader:
        poll(lambda: len(reader.reads) >= 20)  # the reader's pace with nothing in its way
        idle_rate = 19 / (reader.reads[19][1] - reader.reads[0][1])
        executor = Executor(pg_db.dsn, Policy(), lambda event: events.append((time.monotonic(), event)))
        started = time.monotonic()
        assert executor.apply(load_sql_folder(migrations)) == ["001_add"]
        finished = time.monotonic()
    share = reader.served(started, finished) / (idle_rate * (finished - started))
    assert share >= 0.6, f"readers got {share:.0%} of their reads while apply retried"
    tries = [(at, e["lock_timeout_ms"]) for at, e in events if e["event"] == "step"]
    retries = [at for at, e in events if e["event"] == "retry"]
    assert len(tries) == len(retries) + 1 >= 3
    assert [timeout for _, timeout in tries][:3] == [100, 200, 400]
    for (try_started, timeout), retried, (next_try, next_timeout) in zip(tries, retries, tries[1:]):
        assert next_try - retried >= 5 * next_timeout / 1000  # the pause before a try: 5x its lock timeout
        assert reader.served(retried, next_try) >= 1, "no read got through between two tries"


def test_holder_that_never_commits_exhausts_the_deadline_and_changes_nothing(migrations, pg_db):
    write(migrations, "001_add.sql", "ALTER TABLE users ADD COLUMN nickname text;\nCREATE TABLE audit (id int);\n")
    holder, _ = hold_access_share(pg_db.dsn, 0)
    try:
        result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--lock-timeout", "1s",
                                       "--attempts", "1000", "--deadline", "5s"], capture_output=True, text=True, timeout=90)
    finally:
        holder.close()
    assert result.returncode == 1
    assert "001_add.sql:1: gave up after" in result.stderr and "nothing of this transaction was applied" in result.stderr
    assert "Traceback" not in result.stderr
    assert pg_db.execute("SELECT to_regclass('audit'), (SELECT count(*) FROM migrator.schema_migrations)") == [(None, 0)]


def test_a_blocking_statement_that_runs_too_long_is_cancelled_and_rolled_back(migrations, pg_db):
    pg_db.execute("CREATE FUNCTION slow_positive(n bigint) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.01) IS NOT NULL'")
    write(migrations, "001_slow.sql", "CREATE TABLE audit (id int);\n"
                                      "-- migrator:ignore constraint-missing-not-valid\n"
                                      "ALTER TABLE users ADD CONSTRAINT users_slow CHECK (slow_positive(id));\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--no-rewrite", "--lock-timeout", "1s",
                                   "--statement-timeout", "1s"], capture_output=True, text=True, timeout=60)
    # the check alone would take 10 s (1,000 rows x 10 ms); it gets lock timeout + statement timeout
    assert result.returncode == 1 and "001_slow.sql:3: canceling statement due to statement timeout" in result.stderr
    assert pg_db.execute("SELECT to_regclass('audit'), (SELECT count(*) FROM pg_constraint WHERE conname = 'users_slow')") == [(None, 0)]


def test_concurrently_runs_outside_the_transaction_and_the_version_is_stamped_once(migrations, pg_db):
    write(migrations, "001_index.sql", "ALTER TABLE users ADD COLUMN handle text;\n"
                                       "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass") == [(True,)]
    again = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True, timeout=60)
    assert "applied 0 migrations" in again.stdout
    assert pg_db.execute("SELECT version FROM migrator.schema_migrations") == [("001_index",)]


def test_a_concurrent_build_behind_an_open_read_transaction_reports_that_wait(migrations, pg_db):
    write(migrations, "001_index.sql", "CREATE INDEX CONCURRENTLY users_email ON users (email);\n")
    reader = psycopg.connect(pg_db.dsn)  # an open read transaction with its snapshot, older than the build
    reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    reader.execute("SELECT count(*) FROM users").fetchone()
    apply = subprocess.Popen(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--log-format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'virtualxid' AND starts_with(query, 'CREATE INDEX')"
    poll(lambda: pg_db.execute(waiting) == [(1,)], timeout=30)
    held = time.monotonic()
    # the reader keeps its transaction open 1.5 s more: apply samples the wait every 50 ms, and its sampler
    # may see the wait begin (and end) a little later than this test did on a busy machine
    poll(lambda: time.monotonic() - held >= 1.5)
    reader.commit()
    out, err = apply.communicate(timeout=60)
    assert apply.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    [summary] = [e for e in events if e["event"] == "summary"]
    [done] = [e for e in events if e["event"] == "step_done"]
    assert summary["longest_lock_wait_s"] == 0 and summary["retries"] == 0, "no lock timeout ended a try"
    assert 1.0 <= summary["older_transactions_wait_s"] <= done["seconds"], (summary, done)
    assert done["older_transactions_wait_s"] == summary["older_transactions_wait_s"]
    reader.close()


def test_two_applies_never_run_ddl_together(migrations, pg_db):
    # the first apply holds the deploy lock until the test opens the gate (however slowly the
    # other two start on a busy machine)
    pg_db.execute("CREATE TABLE gate ()")
    write(migrations, "001_slow.sql", "DO $$ BEGIN WHILE NOT EXISTS (SELECT FROM gate) LOOP PERFORM pg_sleep(0.05); "
                                      "END LOOP; END $$;\nALTER TABLE users ADD COLUMN a int;\n")
    command = CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--log-format", "json"]
    first = subprocess.Popen(command + ["--lock-wait", "60s"], stdout=subprocess.PIPE, text=True)
    poll(lambda: pg_db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")[0][0] > 0)
    waiting = subprocess.Popen(command + ["--lock-wait", "60s"], stdout=subprocess.PIPE, text=True)
    impatient = subprocess.run(command + ["--lock-wait", "500ms"], capture_output=True, text=True, timeout=60)
    pg_db.execute("INSERT INTO gate DEFAULT VALUES")
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
    text = subprocess.run(CLI + ["plan", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True).stdout
    assert "lock_timeout up to 5s, statement_timeout up to 10s" in text, "tries start shorter (the lock-wait schedule)"
    assert pg_db.execute("SELECT to_regclass('migrator.schema_migrations')") == [(None,)]


def test_plan_shows_every_step_past_a_refusal_marks_each_refused_one_and_exits_1(migrations, pg_db):
    write(migrations, "001_index.sql", "CREATE INDEX users_email ON users (email);\n")
    write(migrations, "002_type.sql", "ALTER TABLE users ALTER COLUMN id TYPE integer;\nALTER TABLE users DROP COLUMN email;\n")
    write(migrations, "003_nn.sql", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n")
    plan = CLI + ["plan", str(migrations), "--dsn", pg_db.dsn, "--small-table", "64kB"]
    result = subprocess.run(plan + ["--format", "json"], capture_output=True, text=True)
    assert result.returncode == 1, "CI gates on plan: apply would refuse"
    assert "apply would refuse 2 steps of this plan" in result.stderr and "Traceback" not in result.stderr
    steps = json.loads(result.stdout)
    assert [s["migration"] for s in steps][-1] == "003_nn", "the migrations after the refused one are planned"
    refused = {(s["migration"], s["step"]): s["refusals"] for s in steps if s["refusals"]}
    assert list(refused) == [("002_type", 0), ("002_type", 1)]
    assert refused[("002_type", 0)][0].startswith(f"{migrations}/002_type.sql:1: refused by changing-column-type")
    assert "002_type.sql:2: refused by drop-column" in refused[("002_type", 1)][0]
    assert any(s["migration"] == "001_index" and "CONCURRENTLY" in s["sql"] for s in steps), "online forms still planned"
    text = subprocess.run(plan, capture_output=True, text=True)
    assert text.returncode == 1 and text.stdout.count("    REFUSED: ") == 2
    assert "003_nn [transaction 0] step 0" in text.stdout
    apply = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--small-table", "64kB"], capture_output=True, text=True)
    assert apply.returncode == 1 and "002_type.sql:1: refused by changing-column-type" in apply.stderr, "apply still refuses"
    assert pg_db.execute("SELECT count(*) FROM migrator.schema_migrations") == [(0,)], "refused before anything ran"
    write(migrations, "002_type.sql", "SELECT 1;\n")
    assert subprocess.run(plan, capture_output=True, text=True).returncode == 0


def json_events(result: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def step_names(events: list[dict]) -> dict[str, list]:
    """Per kind of event, the names its events give steps, as plan names them: (step, followup),
    an Alembic op's (file, line, followup); the events of several steps (skip, followup) one each."""
    def name(event: dict, step: int, followup) -> tuple:
        return (event["file"], event["line"], followup) if "file" in event else (step, followup)

    named: dict[str, list] = {}
    for event in events:
        if "steps" in event:
            named.setdefault(event["event"], []).extend(name(event, *pair) for pair in zip(event["steps"], event["followups"]))
        elif "step" in event:
            named.setdefault(event["event"], []).append(name(event, event["step"], event["followup"]))
    return named


def test_apply_names_follow_up_steps_as_plan_does_and_so_does_the_apply_that_finishes_them(migrations, pg_db):
    """The VALIDATE of step 0 fails on a bad row after the migration committed: the apply after the
    fix finishes the follow-ups the first left pending, every event naming its step as plan does;
    the index a follow-up builds turns out to exist already (built just before a crash): skipped."""
    pg_db.execute("INSERT INTO users VALUES (-1, 'negative')")
    write(migrations, "001_nn.sql", "ALTER TABLE users ADD CONSTRAINT users_id_positive CHECK (id > 0);\n"
                                    "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\nCREATE INDEX users_email ON users (email);\n")
    options = [str(migrations), "--dsn", pg_db.dsn, *BIG]
    plan = json.loads(subprocess.run(CLI + ["plan", *options, "--format", "json"], capture_output=True, text=True).stdout)
    planned = [(s["step"], s["followup"]) for s in plan]
    assert planned == [(0, None), (1, None), (0, 1), (1, 1), (1, 2), (1, 3), (2, 1)], planned  # NOT VALID, then what follows it
    text = subprocess.run(CLI + ["plan", *options], capture_output=True, text=True).stdout
    assert "[after commit 3] step 1 follow-up 2: ALTER TABLE users ALTER COLUMN email SET NOT NULL" in text
    failed = subprocess.run(CLI + ["apply", *options], capture_output=True, text=True)
    assert failed.returncode == 1 and "is violated by some row" in failed.stderr, failed.stderr
    named = [line.split(":")[0] for line in failed.stderr.splitlines() if line.startswith("001_nn step")]
    assert named == ["001_nn step 0", "001_nn step 1", "001_nn step 0 follow-up 1"], failed.stderr
    assert pg_db.execute("SELECT count(*) FROM migrator.apply_journal WHERE status = 'pending'") == [(5,)]
    pg_db.execute("DELETE FROM users WHERE id = -1")
    pg_db.execute("CREATE INDEX users_email ON users (email)")
    resumed = subprocess.run(CLI + ["apply", *options, "--log-format", "json"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    events = step_names(json_events(resumed))
    assert events["followup"] == planned[2:], events
    assert events["step"] == events["step_done"] == planned[2:-1], events
    assert events["skip"] == planned[-1:], events


@pytest.mark.parametrize("sql, then, followup, check", [
    ("ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);",
     "ALTER TABLE orders RENAME TO purchases;", "ALTER TABLE purchases VALIDATE CONSTRAINT orders_user_fk",
     "SELECT conrelid::regclass::text, convalidated FROM pg_constraint WHERE conname = 'orders_user_fk'"),
    ("ALTER TABLE orders ADD CONSTRAINT positive CHECK (id > 0);", "ALTER TABLE orders RENAME CONSTRAINT positive TO positive_id;",
     "ALTER TABLE orders VALIDATE CONSTRAINT positive_id", "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'c'"),
    ("ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;", "ALTER TABLE orders RENAME COLUMN user_id TO buyer_id;",
     "ALTER TABLE orders ALTER COLUMN buyer_id SET NOT NULL",
     "SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'buyer_id'"),
])
def test_what_a_migration_renames_after_an_online_form_is_named_anew_by_its_follow_ups(migrations, pg_db, sql, then, followup,
                                                                                        check):
    """The follow-ups run after the commit: they name the table, column or constraint as the migration left it
    (OpenStack Manila's 5077ffcc5f1c adds a foreign key, then renames the table)."""
    pg_db.execute("CREATE TABLE orders AS SELECT g AS id, 1 + mod(g, 1000) AS user_id FROM generate_series(1, 5000) g")
    write(migrations, "001_fk.sql", f"{sql}\n{then}\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, *BIG, "--ignore", "rename-table,rename-column"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "001_fk step 0 follow-up " in result.stderr and followup in result.stderr, result.stderr
    assert [row[1] for row in pg_db.execute(check)] == [True]


@pytest.mark.parametrize("by_hand, said", [
    ("", ["001_u step 1 follow-up 1: dropping the INVALID index users_email_key an interrupted build left, to build it again",
          "001_u step 1 follow-up 1: CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email)"]),
    ("DROP INDEX users_email_key; CREATE UNIQUE INDEX users_email_key ON users (email)",
     ["001_u step 1 follow-up 1: skipped (index users_email_key exists and is valid)"]),
])
def test_a_resumed_apply_says_in_its_log_what_an_earlier_run_left(migrations, pg_db, by_hand, said):
    """A deploy log (text, not a terminal) names the INVALID index an interrupted build left, or the index
    built meanwhile that it skips, as it names the steps that run, as plan names them."""
    pg_db.execute("UPDATE users SET email = 'dup' WHERE id IN (3, 4)")
    write(migrations, "001_u.sql", "ALTER TABLE users ADD COLUMN note text;\nCREATE UNIQUE INDEX users_email_key ON users (email);\n")
    options = [str(migrations), "--dsn", pg_db.dsn, *BIG]
    failed = subprocess.run(CLI + ["apply", *options], capture_output=True, text=True)
    assert failed.returncode == 1 and "is duplicated" in failed.stderr, failed.stderr
    pg_db.execute("UPDATE users SET email = 'u4' WHERE id = 4")
    if by_hand:
        pg_db.execute(by_hand)
    resumed = subprocess.run(CLI + ["apply", *options], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.splitlines() == said


@pytest.mark.parametrize("sql", [
    "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",  # its online form: CHECK NOT VALID, VALIDATE, SET NOT NULL
    "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n"
    "ALTER TABLE users VALIDATE CONSTRAINT email_nn;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
])
def test_plan_says_of_each_step_whether_it_scans_as_the_server_does(migrations, pg_db, sql):
    from migrator.analyzer import Analyzer
    from migrator.oracle import Observer

    write(migrations, "001_nn.sql", sql)
    plan = json.loads(subprocess.run(CLI + ["plan", str(migrations), "--dsn", pg_db.dsn, *BIG, "--format", "json"],
                                     capture_output=True, text=True).stdout)
    assert [s["scans"] for s in plan if "SET NOT NULL" in s["sql"]] == [False]
    with psycopg.connect(pg_db.dsn) as connection:  # each step in apply's order, the server's seq_scan counters read
        observer = Observer(connection)
        for step in plan:
            observed, _ = observer.run(step["sql"], Analyzer().analyze(step["sql"])[0])
            assert ("users" in observed.scanned) == step["scans"], step["sql"]
        connection.rollback()


@pytest.mark.parametrize("sql, transactional", [
    ("/* migrator:no-transaction */\nUPDATE users SET email = 'a';\nUPDATE users SET email = 'b';\n", False),
    ("-- migrator:no-transaction\nUPDATE users SET email = 'a';\nUPDATE users SET email = 'b';\n", False),
    ("UPDATE users SET email = '\n-- migrator:no-transaction\n';\nUPDATE users SET email = 'b';\n", True),
])
def test_the_executor_reads_the_no_transaction_directive_as_the_linter_does(tmp_path, sql, transactional):
    """One reading of the directive: a comment in either form counts, text inside a string does not."""
    write(tmp_path, "001.sql", sql)
    [migration] = load_sql_folder(tmp_path).all()
    assert [group.transaction for group in migration.groups] == ([True] if transactional else [False, False])


def test_commit_and_chain_starts_the_next_transaction_at_once(tmp_path, pg_db):
    """COMMIT AND CHAIN ends a transaction and opens the next: what follows it runs in one, up to its COMMIT."""
    write(tmp_path, "001.sql", "-- migrator:no-transaction\nBEGIN;\nUPDATE users SET email = 'a';\nCOMMIT AND CHAIN;\n"
                               "UPDATE users SET email = 'b';\nUPDATE users SET email = 'c';\nCOMMIT;\n")
    [migration] = load_sql_folder(tmp_path).all()
    assert [(group.transaction, len(group.steps)) for group in migration.groups] == [(True, 1), (True, 2)]
    with psycopg.connect(pg_db.dsn, autocommit=True) as connection:
        connection.execute("BEGIN")
        connection.execute("COMMIT AND CHAIN")
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def test_client_side_psql_commands_are_not_sent(tmp_path):
    """A psql script's `\\set ON_ERROR_STOP 1` and `\\echo` are psql's own: apply sends only the SQL."""
    write(tmp_path, "001.sql", "\\set ON_ERROR_STOP 1\nCREATE TABLE a (id int);\n\\echo done\n")
    [migration] = load_sql_folder(tmp_path).all()
    assert [step.statement.kind for group in migration.groups for step in group.steps] == ["create_table"]


def test_a_function_with_a_sql_standard_body_is_applied_whole(migrations, pg_db):
    """BEGIN ATOMIC ... END holds semicolons: sent cut at them, PostgreSQL refused the first part."""
    write(migrations, "001_fn.sql", "CREATE FUNCTION user_count() RETURNS bigint LANGUAGE sql\nBEGIN ATOMIC\n"
                                    "  SELECT count(*) FROM users;\nEND;\nALTER TABLE users ADD COLUMN handle text;\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert pg_db.execute("SELECT user_count(), (SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass "
                         "AND attname = 'handle')") == [(1000, 1)]


@pytest.mark.parametrize("sql, message", [
    ("SELECT 1;\nSELECT 'unterminated;\n", "001_bad.sql:2: cannot tokenize"),
    ("ALTER TABLE users ADD COLUMN a int;\nFROBNICATE users;\n", "001_bad.sql:2: refusing a statement migrator cannot analyze"),
    ("\\set ON_ERROR_STOP 1\n\\i 002_more.sql\n", "001_bad.sql:2: refusing a statement migrator cannot analyze"),
    ("ALTER TABLE users ADD COLUMN a int;\nCOPY users (id) FROM stdin;\n1\n\\.\n",
     "001_bad.sql:2: COPY ... FROM STDIN and \\copy take their rows from psql"),
])
def test_bad_migration_is_refused_before_anything_connects(migrations, pg_db, sql, message):
    write(migrations, "001_bad.sql", sql)
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True)
    assert result.returncode == 1 and message in result.stderr
    assert pg_db.execute("SELECT to_regclass('migrator.schema_migrations')") == [(None,)]


def test_wrong_password_is_a_clear_error_and_never_printed(migrations, pg_db):
    cluster = pg_db.cluster
    pg_db.execute("CREATE ROLE deployer LOGIN PASSWORD 'right-secret'")
    hba = cluster.primary.datadir / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text("host all deployer 127.0.0.1/32 scram-sha-256\n" + original)
    cluster.query(cluster.primary, "SELECT pg_reload_conf()")
    write(migrations, "001.sql", "SELECT 1;\n")
    try:
        dsn = f"postgresql://deployer:wrong-secret@127.0.0.1:{cluster.primary.port}/{pg_db.name}"
        result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", dsn], capture_output=True, text=True)
    finally:
        hba.write_text(original)
        cluster.query(cluster.primary, "SELECT pg_reload_conf()")
        pg_db.execute("DROP ROLE deployer")
    assert result.returncode == 1 and "password authentication failed" in result.stderr
    assert "wrong-secret" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_unreachable_database_and_bad_options(migrations):
    write(migrations, "001.sql", "SELECT 1;\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", "postgresql://u:pw@127.0.0.1:1/x"], capture_output=True, text=True)
    assert result.returncode == 1 and "cannot connect to 127.0.0.1:1/x" in result.stderr and ":pw@" not in result.stderr
    too_long = subprocess.run(CLI + ["apply", str(migrations), "--dsn", "postgresql://127.0.0.1:1/x", "--lock-timeout", "30s"],
                              capture_output=True, text=True)
    assert too_long.returncode == 1 and "above the configured maximum 5s" in too_long.stderr
    with pytest.raises(ApplyError, match="does-not-exist: no such file or directory$"):
        load_sql_folder(migrations / "does-not-exist")
    with pytest.raises(ApplyError, match=r"001.sql: neither an Alembic project \(alembic.ini, the folder holding it or "
                                         r"env.py\) nor a folder of .sql migrations$"):
        load_sql_folder(migrations / "001.sql")
    (migrations / "empty").mkdir()
    with pytest.raises(ApplyError, match="no .sql migrations here"):
        load_sql_folder(migrations / "empty")


def test_pgbouncer_transaction_pooling_is_refused_before_any_ddl_and_session_pooling_works(migrations, pg_db):
    write(migrations, "001_add.sql", "ALTER TABLE users ADD COLUMN nickname text;\n")
    with pgbouncer(pg_db.cluster.primary.port, pg_db.name) as dsn:
        pooled = subprocess.run(CLI + ["apply", str(migrations), "--dsn", dsn("tx")], capture_output=True, text=True)
        assert pooled.returncode == 1 and "Traceback" not in pooled.stderr
        assert "does not keep its server session between transactions (PgBouncer transaction pooling?)" in pooled.stderr
        assert pg_db.execute("SELECT to_regclass('migrator.schema_migrations')") == [(None,)]
        assert pg_db.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'nickname'") == [(0,)]
        session = subprocess.run(CLI + ["apply", str(migrations), "--dsn", dsn("session")], capture_output=True, text=True)
    assert session.returncode == 0, session.stderr
    assert pg_db.execute("SELECT version FROM migrator.schema_migrations") == [("001_add",)]


BIG = ["--small-table", "64kB"]  # users (1000 rows, ~112 kB with its index) counts as big


def test_unsafe_migration_without_a_rewrite_is_refused_on_a_big_table_unless_ignored(migrations, pg_db):
    write(migrations, "001_type.sql", "ALTER TABLE users ALTER COLUMN email TYPE integer USING length(email);\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, *BIG], capture_output=True, text=True)
    assert result.returncode == 1
    assert "001_type.sql:1: refused by changing-column-type" in result.stderr and "instead:" in result.stderr
    assert "kB on this database, about 0 s; the budget is 64.0 kB" in result.stderr, result.stderr
    assert pg_db.execute("SELECT count(*) FROM migrator.schema_migrations") == [(0,)]
    write(migrations, "001_type.sql", "-- migrator:ignore changing-column-type -- 1000 rows\nALTER TABLE users ALTER COLUMN email TYPE integer USING length(email);\n")
    assert subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, *BIG], capture_output=True, text=True).returncode == 0


@pytest.mark.parametrize("sql, said", [
    ("ALTER TABLE users ALTER COLUMN id TYPE integer", "id is bigint: ALTER COLUMN id TYPE integer rewrites all of users"),
    ("ALTER TABLE users ALTER COLUMN email TYPE varchar(20)", "email is text: ALTER COLUMN email TYPE character varying(20) rewrites"),
])
def test_a_type_change_refusal_says_the_type_the_database_has(migrations, pg_db, sql, said):
    write(migrations, "001_type.sql", sql + ";\n")
    for command in ("apply", "plan"):
        result = subprocess.run(CLI + [command, str(migrations), "--dsn", pg_db.dsn, *BIG], capture_output=True, text=True)
        assert result.returncode == 1
        shown = result.stderr if command == "apply" else result.stdout
        assert f"001_type.sql:1: refused by changing-column-type: {said}" in shown, shown
        assert "unless" not in shown and "not known" not in shown and "instead: -- expand/contract" in shown
    offline = subprocess.run(CLI + ["plan", str(migrations)], capture_output=True, text=True)
    assert "refused by changing-column-type" in offline.stdout and said not in offline.stdout, "no database: no type to say"


def test_a_rewrite_of_a_small_table_runs_as_written(migrations, pg_db):
    write(migrations, "001_type.sql", "ALTER TABLE users ALTER COLUMN email TYPE integer USING length(email);\n"
                                      "CREATE INDEX users_email_idx ON users (email);\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--log-format", "json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    ran = [json.loads(line)["sql"] for line in result.stdout.splitlines() if json.loads(line)["event"] == "step"]
    assert ran == ["ALTER TABLE users ALTER COLUMN email TYPE integer USING length(email)",
                   "CREATE INDEX users_email_idx ON users (email)"], "one transaction, as written"
    assert pg_db.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'users'::regclass "
                         "AND attname = 'email'") == [("integer",)]


def test_no_rewrite_refuses_what_would_be_rewritten(migrations, pg_db):
    write(migrations, "001_index.sql", "CREATE INDEX users_email_idx ON users (email);\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--no-rewrite", *BIG], capture_output=True, text=True)
    assert result.returncode == 1 and "refused by require-concurrent-index" in result.stderr


REWRITES = [
    ("CREATE INDEX users_email_idx ON users (email);",
     ["CREATE INDEX CONCURRENTLY users_email_idx ON users (email)"],
     "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass"),
    ("ALTER TABLE users ADD CONSTRAINT email_set CHECK (email IS NOT NULL);",
     ["ALTER TABLE users ADD CONSTRAINT email_set CHECK (email IS NOT NULL) NOT VALID",
      "ALTER TABLE users VALIDATE CONSTRAINT email_set"],
     "SELECT convalidated FROM pg_constraint WHERE conname = 'email_set'"),
    ("ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);",
     ["ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID",
      "ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey"],
     "SELECT convalidated FROM pg_constraint WHERE conname = 'orders_user_id_fkey'"),
    ("ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
     ["ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID",
      "ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null",
      "ALTER TABLE users ALTER COLUMN email SET NOT NULL",
      "ALTER TABLE users DROP CONSTRAINT users_email_not_null"],
     "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email'"),
    ("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
     ["CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email)",
      "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key"],
     "SELECT indisvalid AND indisunique FROM pg_index WHERE indexrelid = 'users_email_key'::regclass"),
    ("ALTER TABLE orders ADD PRIMARY KEY (id);",
     ["CREATE UNIQUE INDEX CONCURRENTLY orders_pkey ON orders (id)",
      "ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_pkey"],
     "SELECT indisprimary FROM pg_index WHERE indexrelid = 'orders_pkey'::regclass"),
    ("DROP INDEX users_old_idx;",
     ["DROP INDEX CONCURRENTLY IF EXISTS users_old_idx"],
     "SELECT to_regclass('users_old_idx') IS NULL"),
]


@pytest.mark.parametrize("sql, expected, catalog", REWRITES)
def test_each_rewrite_runs_its_safe_sequence_and_leaves_the_catalog_right(migrations, pg_db, sql, expected, catalog):
    pg_db.execute("CREATE TABLE orders (id bigint NOT NULL, user_id bigint)")
    pg_db.execute("INSERT INTO orders SELECT g, mod(g, 1000) + 1 FROM generate_series(1, 3000) g")
    pg_db.execute("CREATE INDEX users_old_idx ON users (id)")
    write(migrations, "001.sql", "-- migrator:ignore fk-needs-index\n" + sql + "\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--log-format", "json", *BIG],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    ran = [json.loads(line)["sql"] for line in result.stdout.splitlines() if json.loads(line)["event"] == "step"]
    assert ran == expected
    assert pg_db.execute(catalog) == [(True,)]


def test_a_failed_validation_is_journaled_and_finished_by_the_next_run(migrations, pg_db):
    """The migration's transaction committed (its NOT VALID constraint guards new rows); the
    VALIDATE that found old violating rows stays journaled, and the run after the fix finishes it."""
    pg_db.execute("UPDATE users SET email = NULL WHERE id = 7")
    write(migrations, "001.sql", "ALTER TABLE users ADD CONSTRAINT email_set CHECK (email IS NOT NULL);\n")
    write(migrations, "002.sql", "ALTER TABLE users ADD COLUMN later int;\n")
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, *BIG], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "001.sql:1: check constraint \"email_set\" of relation \"users\" is violated by some row (migration 001 " \
           "committed; this step is journaled: fix the cause and run apply again to finish it; not run: 002)" in result.stderr, result.stderr
    assert pg_db.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'email_set'") == [(False,)]
    assert pg_db.execute("SELECT version FROM migrator.schema_migrations") == [("001",)], "002 waits for 001's follow-up"
    pg_db.execute("UPDATE users SET email = 'fixed' WHERE id = 7")
    again = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, *BIG], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert pg_db.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'email_set'") == [(True,)]
    assert pg_db.execute("SELECT version FROM migrator.schema_migrations ORDER BY 1") == [("001",), ("002",)]


def test_a_journal_an_earlier_migrator_made_gains_its_scope_and_its_pending_step_is_finished(migrations, pg_db):
    pg_db.execute("UPDATE users SET email = NULL WHERE id = 7")
    write(migrations, "001.sql", "ALTER TABLE users ADD CONSTRAINT email_set CHECK (email IS NOT NULL);\n")
    assert subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, *BIG], capture_output=True, timeout=60).returncode == 1
    pg_db.execute("ALTER TABLE migrator.apply_journal DROP COLUMN scope, ADD PRIMARY KEY (version, step)")  # the old layout
    pg_db.execute("UPDATE users SET email = 'fixed' WHERE id = 7")
    again = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, *BIG], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert pg_db.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'email_set'") == [(True,)]
    assert pg_db.execute("SELECT DISTINCT scope, status FROM migrator.apply_journal") == [("", "done")]
    assert pg_db.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'apply_journal_pkey'") == [
        ("PRIMARY KEY (scope, version, step)",)]


def kill_apply_during_concurrent_build(path, db) -> None:
    """Start `apply path`, kill -9 it while CREATE INDEX CONCURRENTLY builds, wait until the build is gone."""
    blocker = psycopg.connect(db.dsn)  # an old snapshot makes the concurrent build wait in its last phase
    blocker.execute("SELECT 1").fetchone()
    child = subprocess.Popen(CLI + ["apply", str(path), "--dsn", db.dsn], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # CREATE TABLE builds primary keys too (migrator's own state tables): wait for the concurrent build
    building = ("SELECT count(*) FROM pg_stat_progress_create_index "
                "WHERE datname = current_database() AND command = 'CREATE INDEX CONCURRENTLY'")
    poll(lambda: db.execute(building)[0][0] > 0, timeout=30, interval=0.02)
    child.kill()
    child.wait()
    blocker.close()
    poll(lambda: db.execute(building)[0][0] == 0, timeout=30)


def test_kill_during_concurrent_index_build_then_resume(migrations, pg_db):
    pg_db.execute("INSERT INTO users SELECT g, 'u' || g FROM generate_series(1001, 300000) g")
    write(migrations, "001_both.sql", "ALTER TABLE users ADD COLUMN handle text;\n"
                                      "CREATE INDEX CONCURRENTLY users_email_idx ON users (email, id);\n")
    kill_apply_during_concurrent_build(migrations, pg_db)
    assert pg_db.execute("SELECT count(*) FROM migrator.schema_migrations") == [(0,)]
    result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "duplicate" not in result.stderr.lower()
    assert pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass") == [(True,)]
    assert pg_db.execute("SELECT version FROM migrator.schema_migrations") == [("001_both",)]


@contextlib.contextmanager
def orphaned_build(migrations, pg_db, building: str):
    """An apply killed -9 while the server builds users_email_idx CONCURRENTLY for it (found by the
    query `building`), the build held in its last phase by a snapshot older than it: yields that
    snapshot's connection (closing it lets the build end) and the build's pid."""
    write(migrations, "001_index.sql", "CREATE INDEX CONCURRENTLY users_email_idx ON users (email, id);\n")
    blocker = psycopg.connect(pg_db.dsn)
    blocker.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    blocker.execute("SELECT 1").fetchone()
    try:
        child = subprocess.Popen(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        [(orphan,)] = poll(lambda: pg_db.execute(building), timeout=60, interval=0.02)
        child.kill()
        child.wait()
        yield blocker, orphan
    finally:
        blocker.close()


def test_rerun_at_once_after_a_kill_waits_for_the_orphaned_concurrent_build(migrations, pg_db):
    """kill -9 leaves the server building the index; dropping the INVALID leftover under it deadlocks."""
    building = ("SELECT pid FROM pg_stat_progress_create_index "
                "WHERE datname = current_database() AND index_relid = to_regclass('users_email_idx')")
    with orphaned_build(migrations, pg_db, building) as (blocker, orphan):
        assert pg_db.execute(building) == [(orphan,)], "the killed apply's build goes on on the server"
        server_log = pg_db.cluster.root / f"{pg_db.cluster.primary.name}.log"
        logged_before = server_log.stat().st_size
        rerun = subprocess.Popen(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--log-format", "json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        for line in rerun.stdout:  # the build ends once the re-run is seen waiting for it, however slow the machine
            lines.append(line)
            if json.loads(line)["event"] == "wait_for_build":
                blocker.close()
        lines += rerun.stdout.readlines()
        assert rerun.wait(timeout=180) == 0, rerun.stderr.read()
    with server_log.open(errors="replace") as log:
        log.seek(logged_before)
        assert "deadlock detected" not in log.read()
    events = [json.loads(line) for line in lines]
    assert [(e["event"], e.get("pid")) for e in events if e["event"] in ("wait_for_build", "invalid_index", "skip", "retry")] == [
        ("wait_for_build", orphan), ("skip", None)]
    assert pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass") == [(True,)]
    assert pg_db.execute("SELECT version FROM migrator.schema_migrations") == [("001_index",)]


def test_an_orphaned_build_that_never_ends_is_waited_for_up_to_the_online_statement_timeout(migrations, pg_db):
    building = ("SELECT pid FROM pg_stat_progress_create_index "
                "WHERE index_relid = to_regclass('users_email_idx') AND phase = 'waiting for old snapshots'")
    with orphaned_build(migrations, pg_db, building) as (_, orphan):
        result = subprocess.run(CLI + ["apply", str(migrations), "--dsn", pg_db.dsn, "--online-statement-timeout", "1s"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"index users_email_idx is still being built by pid {orphan} (migrator apply, waiting for old snapshots): waiting for it" in result.stderr
        assert (f"001_index.sql:1: index users_email_idx is still being built by pid {orphan} (migrator apply, since "
                in result.stderr.splitlines()[-1])
        assert f"waited 1s: let it finish, or stop it with SELECT pg_cancel_backend({orphan}), and apply again" in result.stderr
        assert pg_db.execute(building) == [(orphan,)], "the build was left alone"
    poll(lambda: pg_db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass") == [(True,)])
    assert pg_db.execute("SELECT count(*) FROM migrator.schema_migrations") == [(0,)]


def test_a_folder_gives_apply_only_what_its_tool_sends_to_postgresql(tmp_path, pg_db):
    """Synapse's NAME.sql.postgres is applied (version NAME), its NAME.sql.sqlite and mautrix's NAME.sqlite.sql
    are not: their SQLite syntax never reaches the server."""
    write(tmp_path, "001_a.sql", "CREATE TABLE a (id bigint);\n")
    write(tmp_path, "002_b.sql.postgres", "CREATE TABLE b (id bigint GENERATED ALWAYS AS IDENTITY);\n")
    write(tmp_path, "002_b.sql.sqlite", "CREATE TABLE b (id INTEGER PRIMARY KEY AUTOINCREMENT);\n")
    write(tmp_path, "003_c.postgres.sql", "CREATE TABLE c (id bigint);\n")
    write(tmp_path, "003_c.sqlite.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY AUTOINCREMENT);\n")
    assert Executor(pg_db.dsn, Policy()).apply(load_sql_folder(tmp_path)) == ["001_a", "002_b", "003_c.postgres"]
    assert pg_db.execute("SELECT version FROM migrator.schema_migrations ORDER BY version") == [
        ("001_a",), ("002_b",), ("003_c.postgres",)]
    assert pg_db.execute("SELECT attidentity FROM pg_attribute WHERE attrelid = 'b'::regclass AND attname = 'id'") == [("a",)]
    write(tmp_path, "004_d.sql", "SELECT 1;\n")
    write(tmp_path, "004_d.sql.postgres", "SELECT 2;\n")
    with pytest.raises(ApplyError, match=r"004_d.sql.postgres: a second migration named '004_d' \(with 004_d.sql\)"):
        load_sql_folder(tmp_path)
