"""The backfill runner on the sandbox primary plus replica."""

import json
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from psycopg import sql

from backfill import BackfillError, BackfillSpec, Runner
from backfill.runner import INITIAL_BATCH, Lookahead
from backfill.spec import plan_backfill
from backfill.throttle import Throttle
from migrator.loadgen import LoadGenerator
from tests.test_sandbox import poll

CLI = [sys.executable, "-m", "migrator", "backfill"]


def make_table(db, rows=5000, step=1):
    db.execute("CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, label text, touched int NOT NULL DEFAULT 0)")
    db.execute("INSERT INTO items (id, v) SELECT g * %s, g FROM generate_series(1, %s) g", (step, rows))
    db.execute("ANALYZE items")


def count_writes(db):
    """A trigger logging every row write, so a test can prove none was written twice or missed."""
    db.execute("CREATE TABLE writes (id bigint)")
    db.execute("CREATE FUNCTION log_write() RETURNS trigger AS $$ BEGIN INSERT INTO writes VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql")
    db.execute("CREATE TRIGGER log_write AFTER UPDATE OF label ON items FOR EACH ROW EXECUTE FUNCTION log_write()")


def spec(name="fill", **options):
    return BackfillSpec(name, "items", {"label": "'row-' || id"}, **options)


class Events(list):
    """Runner events with the time they arrived."""

    def __call__(self, event):
        self.append({**event, "at": time.monotonic()})

    def of(self, kind):
        return [event for event in self if event["event"] == kind]


def start_in_thread(runner):
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", runner.run()), daemon=True)
    thread.start()
    return thread, box


def assert_filled(db, table="items"):
    assert db.execute(f"SELECT count(*) FROM {table} WHERE label IS DISTINCT FROM 'row-' || id") == [(0,)]


def test_fills_every_row_once_and_a_rerun_changes_nothing(pg_db):
    make_table(pg_db, 3000)
    count_writes(pg_db)
    result = Runner(spec(), pg_db.dsn, settings={"batch_size": 250}).run()
    assert (result.status, result.rows_processed, result.rows_changed, result.batches) == ("done", 3000, 3000, 12)
    assert_filled(pg_db)
    again = Runner(spec(), pg_db.dsn).run()
    assert again.status == "done" and "already done" in again.message
    assert pg_db.execute("SELECT count(*), count(DISTINCT id) FROM writes") == [(3000, 3000)]


def test_repeated_batch_changes_nothing(pg_db):
    make_table(pg_db, 500)
    pg_db.execute("UPDATE items SET label = 'row-' || id WHERE id <= 200")
    result = Runner(spec(), pg_db.dsn, settings={"batch_size": 100}).run()
    assert (result.rows_processed, result.rows_changed) == (500, 300)


def test_adaptive_batches_grow_toward_the_target_time(pg_db):
    make_table(pg_db, 150_000)
    events = Events()
    # a target far above what a batch of INITIAL_BATCH rows takes, even on a busy machine
    Runner(spec(), pg_db.dsn, settings={"target_batch_time": 5000}, emit=events).run()
    sizes = [event["batch_size"] for event in events.of("batch")]
    assert sizes[0] == INITIAL_BATCH and max(sizes) > 2 * INITIAL_BATCH
    assert all(later <= 2 * earlier for earlier, later in zip(sizes, sizes[1:]))


def test_crash_at_five_points_loses_and_repeats_nothing(pg_db):
    make_table(pg_db, 20_000)
    count_writes(pg_db)
    command = CLI + ["run", "crashy", "--dsn", pg_db.dsn, "--table", "items", "--set", "label = 'row-' || id",
                     "--batch-size", "200", "--max-rows-per-sec", "10000", "--log-format", "json"]
    for threshold in (1000, 4000, 7500, 11_000, 15_000):
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        poll(lambda: pg_db.execute("SELECT count(*) FROM writes")[0][0] >= threshold, timeout=60, interval=0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout.splitlines()[-1])["status"] == "done"
    assert_filled(pg_db)
    assert pg_db.execute("SELECT count(*), count(DISTINCT id) FROM writes") == [(20_000, 20_000)]


def test_pausing_replay_throttles_within_two_seconds_and_resuming_continues(pg_db):
    cluster, replica = pg_db.cluster, pg_db.cluster.replica_nodes[0]
    make_table(pg_db, 100_000)
    events = Events()
    runner = Runner(spec(), pg_db.dsn, settings={"batch_size": 500, "max_rows_per_sec": 12_000, "max_lag": 1000}, emit=events)
    thread, _ = start_in_thread(runner)
    try:
        poll(lambda: len(events.of("batch")) >= 5)
        cluster.pause_replay(replica)
        paused_at = time.monotonic()
        throttled = poll(lambda: events.of("throttle"), timeout=10)[0]
        assert "replica1 lag" in throttled["reason"]
        last_batch = max(e["at"] for e in events.of("batch") if e["at"] <= throttled["at"])
        assert last_batch - (paused_at + 1.0) <= 2.0  # lag crossed 1 s about 1 s after the pause
        time.sleep(1.5)  # the runner must stay stopped while replay is paused
        assert not [e for e in events.of("batch") if e["at"] > throttled["at"]]
        cluster.resume_replay(replica)
        resumed_at = time.monotonic()
        first_after = poll(lambda: [e for e in events.of("batch") if e["at"] > resumed_at], timeout=10)[0]
        assert first_after["at"] - resumed_at <= 5.0
    finally:
        cluster.resume_replay(replica)
        runner.stop()
        thread.join(60)


def test_stopped_replica_pauses_the_runner_and_is_named(pg_db):
    cluster, replica = pg_db.cluster, pg_db.cluster.replica_nodes[0]
    make_table(pg_db, 60_000)
    events = Events()
    runner = Runner(spec(), pg_db.dsn, settings={"batch_size": 500, "max_rows_per_sec": 10_000}, emit=events)
    thread, box = start_in_thread(runner)
    try:
        poll(lambda: len(events.of("batch")) >= 3)
        cluster.stop_node(replica)
        throttled = poll(lambda: [e for e in events.of("throttle") if "replica1" in e["reason"]], timeout=10)[0]
        assert "gone from pg_stat_replication" in throttled["reason"]
        time.sleep(1.0)
        assert not [e for e in events.of("batch") if e["at"] > throttled["at"] + 0.2]
    finally:
        if not replica.running:
            cluster.start_node(replica)
    poll(lambda: events.of("resume"), timeout=30)
    thread.join(120)
    assert box["result"].status == "done"
    assert_filled(pg_db)


@pytest.mark.parametrize("expected, reason", [
    (None, None),
    (["replica1"], None),
    (1, None),
    (["replica1", "replica2"], "replica replica2 is gone from pg_stat_replication"),
    (2, "1 of 2 expected replicas in pg_stat_replication (replica1)"),
])
def test_expected_replicas_name_the_replicas_that_must_stay_connected(pg_db, expected, reason):
    throttle = Throttle(pg_db.dsn).start()
    try:
        verdict = throttle.verdict({"max_lag": 60_000, "expected_replicas": expected})
    finally:
        throttle.close()
    assert verdict.throttled == (reason is not None) and (reason is None or reason in verdict.reason), verdict


def test_expected_replicas_from_the_command_line_and_set(pg_db):
    make_table(pg_db, 10)
    bad = cli("run", "er", "--table", "items", "--set", "label = 'x'", "--expected-replicas", "a,,b", dsn=pg_db.dsn)
    assert bad.returncode == 1 and "--expected-replicas 'a,,b': a count, or application names" in bad.stderr
    assert pg_db.execute("SELECT to_regclass('migrator.backfills')") == [(None,)], "nothing written"
    done = cli("run", "er", "--table", "items", "--set", "label = 'x'", "--expected-replicas", "replica1", dsn=pg_db.dsn)
    assert done.returncode == 0, done.stderr
    assert cli("set", "er", "expected_replicas=2", dsn=pg_db.dsn).returncode == 0
    assert "expected_replicas=2" in cli("status", "er", dsn=pg_db.dsn).stdout


def test_idle_primary_with_caught_up_replica_never_throttles(pg_db):
    pg_db.cluster.wait_for_replay(pg_db.cluster.replica_nodes[0])
    throttle = Throttle(pg_db.dsn).start()
    try:
        deadline = time.monotonic() + 3
        verdicts = []
        while time.monotonic() < deadline:
            verdicts.append(throttle.verdict({"max_lag": 1000}))
            time.sleep(0.05)
    finally:
        throttle.close()
    assert verdicts and not any(v.throttled for v in verdicts)
    assert set(verdicts[-1].lags) == {"replica1"}
    make_table(pg_db, 20_000)
    assert Runner(spec(), pg_db.dsn).run().throttled_seconds == 0


def test_direct_replica_connection_as_lag_source(pg_db):
    make_table(pg_db, 5000)
    result = Runner(spec(), pg_db.dsn, replica_dsns=[pg_db.replica_dsn], settings={"batch_size": 1000}).run()
    assert result.status == "done" and result.throttled_seconds == 0
    assert_filled(pg_db)


def test_concurrent_inserts_updates_and_deletes(pg_db):
    make_table(pg_db, 40_000)
    load = LoadGenerator(pg_db.dsn, "items", clients=4, rate=400, max_duration=60,
                         mix={"read": 0.4, "update": 0.3, "insert": 0.2, "delete": 0.1},
                         update_set="touched = touched + 1",
                         insert_sql="INSERT INTO items (id, v) SELECT max(id) + 1, 0 FROM items ON CONFLICT DO NOTHING")
    with load:
        result = Runner(spec(), pg_db.dsn, settings={"batch_size": 700, "max_rows_per_sec": 20_000}).run()
    assert result.status == "done"
    assert not [s for s in load.errors() if s.error == "DeadlockDetected"]
    assert load.stats()["delete"]["count"] > 0 and load.stats()["insert"]["count"] > 0
    assert pg_db.execute("SELECT count(*) FROM items WHERE id <= 40000 AND label IS DISTINCT FROM 'row-' || id") == [(0,)]


@pytest.mark.parametrize("ddl, key", [
    ("CREATE TABLE items (id bigint PRIMARY KEY, label text); "
     "INSERT INTO items SELECT g * g * 37, NULL FROM generate_series(1, 3000) g", None),
    ("CREATE TABLE items (tenant int, id int, label text, PRIMARY KEY (tenant, id)); "
     "INSERT INTO items SELECT t, g, NULL FROM generate_series(1, 30) t, generate_series(1, 100) g", None),
    ("CREATE TABLE items (id uuid NOT NULL, label text); CREATE UNIQUE INDEX ON items (id); "
     "INSERT INTO items SELECT gen_random_uuid(), NULL FROM generate_series(1, 3000)", ["id"]),
])
def test_sparse_composite_and_uuid_keys(pg_db, ddl, key):
    pg_db.execute(ddl)
    result = Runner(BackfillSpec("keys", "items", {"label": "'row-' || id"}, key=key), pg_db.dsn,
                    settings={"batch_size": 128}, chunk_rows=700).run()
    assert (result.status, result.rows_processed) == ("done", 3000)
    assert_filled(pg_db)


@pytest.mark.parametrize("ddl, key", [
    ("CREATE TABLE items (id bigint PRIMARY KEY, label text); "
     "INSERT INTO items SELECT g, NULL FROM generate_series(1, 100000) g", None),
    ("CREATE TABLE items (tenant int, id int, label text, PRIMARY KEY (tenant, id)); "
     "INSERT INTO items SELECT t, g, NULL FROM generate_series(1, 10) t, generate_series(1, 10000) g", None),
    ("CREATE TABLE items (id uuid NOT NULL, label text); CREATE UNIQUE INDEX ON items (id); "
     "INSERT INTO items SELECT gen_random_uuid(), NULL FROM generate_series(1, 100000)", ["id"]),
])
def test_batch_update_reads_only_its_key_range_through_the_key_index(pg_db, ddl, key):
    pg_db.execute(ddl)
    pg_db.execute("ANALYZE items")
    with psycopg.connect(pg_db.dsn) as connection:
        plan = plan_backfill(connection, BackfillSpec("plan", "items", {"label": "'row-' || id"}, key=key))
        low, high = [connection.execute(sql.SQL("SELECT {} FROM {} ORDER BY {} OFFSET %s LIMIT 1").format(
            plan.key_text(), plan.table_sql, plan.key_row()), (offset,)).fetchone() for offset in (10_000, 90_000)]
        # a batch covering 80% of the table: the planner alone would read it all with a seq scan
        for name, value in plan.UPDATE_PLANNER_SETTINGS.items():
            connection.execute("SELECT set_config(%s, %s, true)", (name, value))
        explained = "\n".join(row[0] for row in connection.execute(sql.SQL("EXPLAIN ") + plan.update_sql(True), [*low, *high]))
    assert "Seq Scan" not in explained and "Index Cond" in explained, explained


TIMEOUTS = {"lock_timeout": "500ms", "statement_timeout": "2s"}


def test_lookahead_finds_the_batch_key_the_batch_would_and_only_for_the_batch_it_was_started_for(pg_db):
    make_table(pg_db, 3000, step=7)  # sparse keys
    with psycopg.connect(pg_db.dsn) as connection:
        plan = plan_backfill(connection, BackfillSpec("ahead", "items", {"label": "'row-' || id"}))
        lookahead = Lookahead(pg_db.dsn, plan)
        start = lambda low, size, sizing: lookahead.start(low, plan.range_high, size, sizing, TIMEOUTS)  # noqa: E731
        try:
            sizing = (None, 100, 50_000, 200)
            start(["70"], 500, sizing)
            inline = connection.execute(plan.next_upper_sql(True), ["70", *plan.range_high, 499]).fetchone()
            assert lookahead.take(["70"], 500, sizing) == (500, inline) and inline == ("3570",)
            assert lookahead.take(["70"], 500, sizing) is None, "taken once"
            start(["70"], 500, sizing)
            assert lookahead.take(["77"], 500, sizing) is None, "another batch"
            start(["70"], 500, sizing)
            assert lookahead.take(["70"], 1000, sizing) is None, "a batch twice as large finds its own key"
            start(["70"], 500, sizing)
            assert lookahead.take(["70"], 500, (123, 100, 50_000, 200)) is None, "an operator set the batch size"
            start(["20993"], 500, sizing)
            assert lookahead.take(["20993"], 500, sizing) == (500, None), "fewer rows left than asked"
            assert lookahead.connection.execute("SHOW lock_timeout").fetchone() == ("500ms",), "bounded like a batch"
        finally:
            lookahead.close()


def test_lookahead_blocked_by_a_lock_gives_way_to_the_batch(pg_db):
    make_table(pg_db, 3000)
    with psycopg.connect(pg_db.dsn) as connection, psycopg.connect(pg_db.dsn) as holder:
        plan = plan_backfill(connection, BackfillSpec("ahead", "items", {"label": "'row-' || id"}))
        connection.commit()  # its ACCESS SHARE would keep the holder waiting
        holder.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        lookahead = Lookahead(pg_db.dsn, plan)
        try:
            sizing = (None, 100, 50_000, 200)
            lookahead.start(["10"], plan.range_high, 500, sizing, TIMEOUTS)
            taken = {}
            waiter = threading.Thread(target=lambda: taken.update(result=lookahead.take(["10"], 500, sizing)), daemon=True)
            waiter.start()
            waiter.join(5)
            assert not waiter.is_alive(), "the lookahead waits for the lock with no lock timeout"
            assert taken == {"result": None}, "lock timeout: the batch looks for its key itself"
        finally:
            holder.rollback()
            lookahead.close()


@pytest.mark.parametrize("analyzed", [True, False], ids=["histogram", "index-walk"])
def test_no_sliver_of_a_chunk_is_left_at_the_end_of_the_range(pg_db, analyzed):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, label text, touched int NOT NULL DEFAULT 0) "
                  "WITH (autovacuum_enabled = off)")
    pg_db.execute("INSERT INTO items (id, v) SELECT g, g FROM generate_series(1, 10000) g")
    if analyzed:
        pg_db.execute("ANALYZE items")
    result = Runner(spec("tail"), pg_db.dsn, chunk_rows=4500).run()
    assert result.status == "done" and result.rows_processed == 10_000
    sizes = pg_db.execute("SELECT rows_processed FROM migrator.backfill_chunks WHERE backfill = 'tail' ORDER BY id")
    assert len(sizes) == 2 and 4000 <= sizes[0][0] <= 5000, sizes  # not 4500, 4500 and a last 1000


def test_table_without_a_usable_key_is_refused(pg_db):
    pg_db.execute("CREATE TABLE items (id int, label text); CREATE UNIQUE INDEX ON items (id)")  # nullable
    with pytest.raises(BackfillError, match="no primary key and no unique index on NOT NULL columns"):
        Runner(spec(), pg_db.dsn).run()
    with pytest.raises(BackfillError, match="--key id: not the primary key"):
        Runner(spec(key=["id"]), pg_db.dsn).run()


@pytest.mark.parametrize("arguments, message", [
    (["--table", "nope", "--set", "label = 'x'"], "--table nope: no such table"),
    (["--table", "items", "--set", "nope = 1"], "has no column 'nope'"),
    (["--table", "items", "--set", "label = missing_column"], 'column "missing_column" does not exist'),
    (["--table", "items", "--set", "label = 1; DROP TABLE items"], "must be a single SQL expression"),
    (["--table", "items", "--set", "label = 'x'", "--where", "true; DELETE FROM items"], "must be a single SQL expression"),
    (["--table", "items", "--set", "label = 'x'", "--batch-size", "0"], "--batch-size 0: must be from 1"),
    (["--table", "items", "--set", "label = 'x'", "--replica", "postgresql://u:secret@127.0.0.1:1/x"], "cannot connect to 127.0.0.1:1/x"),
    (["--table", "items", "--set", "label"], "expected `column = expression`"),
])
def test_bad_input_is_refused_before_any_write(pg_db, arguments, message):
    make_table(pg_db, 100)
    result = subprocess.run(CLI + ["run", "bad", "--dsn", pg_db.dsn, *arguments], capture_output=True, text=True)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr and "secret" not in result.stderr
    assert pg_db.execute("SELECT to_regclass('migrator.backfills') IS NULL, count(label) FROM items") == [(True, 0)]


def test_unreachable_database_and_wrong_password(pg_db):
    result = subprocess.run(CLI + ["run", "x", "--dsn", "postgresql://app:hunter2@127.0.0.1:1/db", "--table", "t",
                                   "--set", "a = 1"], capture_output=True, text=True)
    assert result.returncode == 1 and "cannot connect to 127.0.0.1:1/db" in result.stderr and "hunter2" not in result.stderr


def test_dry_run_writes_nothing(pg_db):
    make_table(pg_db, 2500)
    result = subprocess.run(CLI + ["run", "dry", "--dsn", pg_db.dsn, "--table", "items", "--set", "label = 'row-' || id",
                                   "--batch-size", "1000", "--dry-run"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "key (id bigint)" in result.stdout and "about 3 batches" in result.stdout
    assert "UPDATE \"public\".\"items\" SET \"label\" = 'row-' || id WHERE ROW(\"id\") <= ROW('1000'::bigint)" in result.stdout
    assert pg_db.execute("SELECT to_regclass('migrator.backfills') IS NULL, count(label) FROM items") == [(True, 0)]


def test_python_backfill_function(pg_db):
    make_table(pg_db, 1000)

    def fill(connection, low, high):
        rows = connection.execute("SELECT id FROM items WHERE (%s::bigint IS NULL OR id > %s::bigint) AND id <= %s::bigint",
                                  (low and low[0], low and low[0], high[0])).fetchall()
        for (identifier,) in rows:
            connection.execute("UPDATE items SET label = %s WHERE id = %s", (f"row-{identifier}", identifier))
        return len(rows)

    result = Runner(BackfillSpec("py", "items", function=fill), pg_db.dsn, settings={"batch_size": 300}).run()
    assert (result.status, result.rows_changed) == ("done", 1000)
    assert_filled(pg_db)


def cli(*arguments, dsn):
    return subprocess.run(CLI + [*arguments, "--dsn", dsn], capture_output=True, text=True, timeout=60)


def test_pause_resume_set_and_cancel_from_another_process(pg_db):
    make_table(pg_db, 200_000)
    events = Events()
    runner = Runner(spec("ctl"), pg_db.dsn, settings={"batch_size": 400, "max_rows_per_sec": 8000}, emit=events)
    thread, box = start_in_thread(runner)
    poll(lambda: events.of("batch"))
    assert "ctl: running -> paused" in cli("pause", "ctl", dsn=pg_db.dsn).stdout
    paused_at = time.monotonic()
    poll(lambda: [e for e in events.of("throttle") if e["reason"] == "paused by operator"])
    time.sleep(1.0)
    assert not [e for e in events.of("batch") if e["at"] > paused_at + 1.0]
    status = cli("status", "ctl", dsn=pg_db.dsn).stdout
    assert "backfill ctl: paused" in status and "batch_size=400" in status
    assert cli("set", "ctl", "batch_size=123", "max_lag=2s", dsn=pg_db.dsn).returncode == 0
    status = cli("status", "ctl", dsn=pg_db.dsn).stdout
    assert "batch_size=123" in status and "max_lag=2s" in status
    resumed_at = time.monotonic()
    assert cli("resume", "ctl", dsn=pg_db.dsn).returncode == 0
    resume_committed_by = time.monotonic()  # the CLI's own start-up is not the runner's latency
    after = poll(lambda: [e for e in events.of("batch") if e["at"] > resumed_at])
    assert after[0]["batch_size"] == 123 and after[0]["at"] - resume_committed_by < 1.5
    assert "ctl: running -> cancelled" in cli("cancel", "ctl", dsn=pg_db.dsn).stdout
    thread.join(30)
    assert box["result"].status == "cancelled"
    assert cli("resume", "ctl", dsn=pg_db.dsn).returncode == 1
    listing = cli("list", dsn=pg_db.dsn).stdout
    assert "ctl" in listing and "cancelled" in listing


def test_bad_control_input(pg_db):
    make_table(pg_db, 10)
    assert "no backfill named 'ghost'" in cli("pause", "ghost", dsn=pg_db.dsn).stderr
    Runner(spec("small"), pg_db.dsn).run()
    assert "unknown setting 'speed'" in cli("set", "small", "speed=3", dsn=pg_db.dsn).stderr
    assert "is not a duration" in cli("set", "small", "max_lag=soon", dsn=pg_db.dsn).stderr
    assert "cannot make it paused" in cli("pause", "small", dsn=pg_db.dsn).stderr


def test_two_workers_plus_a_third_joining_from_another_process(pg_db):
    make_table(pg_db, 60_000)
    count_writes(pg_db)
    runner = Runner(spec("team"), pg_db.dsn, workers=2, chunk_rows=2000,
                    settings={"batch_size": 250, "max_rows_per_sec": 3_000})  # 20 s of work: the joining process starts in time however busy the machine
    thread, box = start_in_thread(runner)
    poll(lambda: pg_db.execute("SELECT count(*) FROM writes")[0][0] > 0)
    refused = cli("run", "team", "--table", "items", "--set", "label = 'row-' || id", dsn=pg_db.dsn)
    assert refused.returncode == 1 and "already running" in refused.stderr and "--join" in refused.stderr
    joined = subprocess.Popen(CLI + ["run", "team", "--dsn", pg_db.dsn, "--table", "items", "--set", "label = 'row-' || id",
                                     "--join", "--log-format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = joined.communicate(timeout=120)
    thread.join(120)
    assert joined.returncode == 0, err
    assert box["result"].status == "done"
    assert_filled(pg_db)
    assert pg_db.execute("SELECT count(*), count(DISTINCT id) FROM writes") == [(60_000, 60_000)]
    workers = {row[0].rsplit(":", 1)[0] for row in pg_db.execute("SELECT DISTINCT worker FROM migrator.backfill_chunks")}
    assert len(workers) == 2, "chunks were claimed by this process and by the joining one"
    assert any(json.loads(line)["event"] == "batch" for line in out.splitlines())


def test_sigint_checkpoints_and_exits_zero_then_resumes(pg_db):
    make_table(pg_db, 50_000)
    command = CLI + ["run", "nice", "--dsn", pg_db.dsn, "--table", "items", "--set", "label = 'row-' || id",
                     "--batch-size", "500", "--max-rows-per-sec", "10000", "--log-format", "json"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    poll(lambda: pg_db.execute("SELECT count(label) FROM items")[0][0] > 2000, interval=0.02)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0
    summary = json.loads(out.splitlines()[-1])
    assert summary["status"] == "stopped" and "resume with the same command" in err
    assert pg_db.execute("SELECT count(label) FROM items")[0][0] == summary["rows_changed"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert json.loads(finished.stdout.splitlines()[-1])["status"] == "done"
    assert_filled(pg_db)


def test_state_tables_of_an_earlier_migrator_gain_the_error_column(pg_db):
    """A database whose backfill state predates recorded failures gets the column on the next run."""
    import psycopg

    from backfill import state

    with psycopg.connect(pg_db.dsn, autocommit=True) as connection:
        state.ensure_schema(connection)
        connection.execute("ALTER TABLE migrator.backfills DROP COLUMN error")
        state.ensure_schema(connection)
        assert connection.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'migrator.backfills'::regclass "
                                  "AND attname = 'error' AND NOT attisdropped").fetchone() == (1,)


def in_process(*arguments: str, dsn: str):
    """A `migrator backfill` command run in this process (cheaper than a new interpreter per poll)."""
    from click.testing import CliRunner

    from migrator.cli import main

    return CliRunner().invoke(main, ["backfill", *arguments, "--dsn", dsn])


def worker_lines(dsn: str) -> list[str]:
    status = in_process("status", "beats", dsn=dsn)
    assert status.exit_code == 0 or "no backfill named 'beats'" in status.stderr, status.stderr
    return [line for line in status.stdout.splitlines() if line.lstrip().startswith("worker ")]


def test_status_says_what_a_worker_is_paused_stopped_or_killed(pg_db):
    """The worker line is the truth: paused while paused (its heartbeat goes on), not responding once
    its heartbeat is overdue (a stopped runner: heartbeat interval plus statement_timeout), gone when
    kill -9 closed its connection; never `running` for any of these."""
    make_table(pg_db, 100_000)
    command = CLI + ["run", "beats", "--dsn", pg_db.dsn, "--table", "items", "--set", "label = 'row-' || id",
                     "--batch-size", "100", "--max-rows-per-sec", "1000"]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll(lambda: any(line.endswith(", running") for line in worker_lines(pg_db.dsn)), timeout=60)
        assert in_process("set", "beats", "statement_timeout=1s", dsn=pg_db.dsn).exit_code == 0
        assert in_process("pause", "beats", dsn=pg_db.dsn).exit_code == 0
        paused = poll(lambda: [line for line in worker_lines(pg_db.dsn) if line.endswith(", paused")], timeout=30)
        beat = pg_db.execute("SELECT heartbeat FROM migrator.backfill_workers")[0][0]
        poll(lambda: pg_db.execute("SELECT heartbeat > %s FROM migrator.backfill_workers", (beat,))[0][0], timeout=10)
        assert "running" not in paused[0]
        assert in_process("resume", "beats", dsn=pg_db.dsn).exit_code == 0
        poll(lambda: any(line.endswith(", running") for line in worker_lines(pg_db.dsn)), timeout=30)
        child.send_signal(signal.SIGSTOP)
        stale = poll(lambda: [line for line in worker_lines(pg_db.dsn) if "not responding: no heartbeat for" in line], timeout=30)
        assert "running" not in stale[0]
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        gone = poll(lambda: [line for line in worker_lines(pg_db.dsn) if "gone: its connection" in line], timeout=30)
        assert "running" not in gone[0]
        assert "no runner alive" in in_process("status", "beats", dsn=pg_db.dsn).stdout
    finally:
        child.kill()
        child.wait(30)
