"""Issue 15: the backfill yields within a second: lag read on its own clock, caps as limits,
control at once, fail closed across restarts, a read-only throttle query, checked settings.

The tests on the sandbox run idle and with both cores busy (two busy processes)."""

import contextlib
import json
import random
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from backfill import BackfillError, Runner
from backfill import state as backfill_state
from backfill.runner import BatchSizer, Pacer
from backfill.throttle import QUERY_INTERVAL, QueryResult, Sample, WalHistory, decide, lsn_to_int
from tests.test_backfill import CLI, Events, cli, make_table, spec, start_in_thread
from tests.test_sandbox import poll

LOADS = ["idle", "busy"]


@contextlib.contextmanager
def cores_busy(load: str):
    """Two processes spinning on the CPU while the block runs, when load is "busy"."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 if load == "busy" else 0)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


class Watch:
    """The primary's WAL position and a backfill's committed rows, every 100 ms on its own connection."""

    def __init__(self, dsn: str, name: str):
        self.dsn, self.name = dsn, name
        self.samples: list[tuple[float, int, int]] = []  # (monotonic, WAL position, rows processed)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            backfill_state.ensure_schema(connection)
        self.thread.start()
        poll(lambda: self.samples)
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    def _run(self):
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            while not self.done.is_set():
                at = time.monotonic()
                lsn, rows = connection.execute(
                    "SELECT pg_current_wal_lsn()::text, (SELECT coalesce(sum(rows_processed), 0) FROM migrator.backfill_chunks "
                    "WHERE backfill = %s)", (self.name,)).fetchone()
                self.samples.append((at, lsn_to_int(lsn), int(rows)))
                self.done.wait(max(0.0, at + 0.1 - time.monotonic()))

    def rows(self) -> int:
        return self.samples[-1][2]

    def passed(self, position: int) -> float | None:
        """The last time the primary was seen at or before `position`, once seen past it (the
        earliest the lag towards a replica stuck at `position` can have started)."""
        samples = list(self.samples)
        for before, after in zip(samples, samples[1:]):
            if after[1] > position >= before[1]:
                return before[0]
        return None

    def rows_at(self, moment: float) -> int:
        return max((rows for at, _, rows in self.samples if at <= moment), default=0)

    def last_write(self) -> float:
        """When the rows processed were first seen at their final value."""
        final = self.samples[-1][2]
        return next(at for at, _, rows in self.samples if rows == final)


# --- the decision, without PostgreSQL ---------------------------------------------------------
def test_decide_lag_holds_until_below_half_and_names_the_replica():
    settings = {"max_lag": 1000}
    assert not decide(Sample(0, {"r1": 0.9}, {"r1"}), settings).throttled
    over = decide(Sample(0, {"r1": 0.2, "r2": 1.2}, {"r1", "r2"}), settings)
    assert over.throttled and over.cause == "lag" and over.reason == "replica r2 lag 1.20s > 1s"
    assert decide(Sample(0, {"r2": 0.6}, {"r2"}), settings, previous="lag").throttled
    assert not decide(Sample(0, {"r2": 0.4}, {"r2"}), settings, previous="lag").throttled


@pytest.mark.parametrize("expected, connected, reason", [
    (["r1", "r2"], {"r1"}, "replica r2 is gone from pg_stat_replication"),
    (2, {"r1"}, "1 of 2 expected replicas in pg_stat_replication (r1)"),
    (["r1"], {"r1", "r2"}, None),
    (0, set(), None),
])
def test_decide_fails_closed_on_a_missing_expected_replica(expected, connected, reason):
    verdict = decide(Sample(0, {}, connected), {"max_lag": 1000, "expected_replicas": expected})
    assert verdict.throttled == (reason is not None) and (reason is None or reason in verdict.reason)


def test_decide_wal_rate_and_throttle_query():
    assert decide(Sample(0, wal_rate=12e6), {"max_wal_rate": 10}).cause == "wal"
    assert decide(Sample(0, wal_rate=9.5e6), {"max_wal_rate": 10}, previous="wal").throttled
    assert not decide(Sample(0, wal_rate=8e6), {"max_wal_rate": 10}, previous="wal").throttled
    settings = {"throttle_query": "SELECT true"}
    assert decide(Sample(0), settings).reason == "throttle query not run yet"
    assert decide(Sample(0), settings, QueryResult("SELECT false", 10.0), now=10.5).reason == "throttle query not run yet"
    assert decide(Sample(0), settings, QueryResult("SELECT true", 10.0, True), now=10.5).reason == "throttle query returned true"
    assert not decide(Sample(0), settings, QueryResult("SELECT true", 10.0, False), now=10.5).throttled
    stale = decide(Sample(0), settings, QueryResult("SELECT true", 10.0, False), now=10.0 + 4 * QUERY_INTERVAL)
    assert "no answer for" in stale.reason


def test_wal_history_interpolates_when_the_primary_passed_a_position_and_keeps_what_paused_replicas_need():
    history = WalHistory()
    for second in range(20):
        history.add(float(second), 1000 * second, oldest_needed=2500)
    assert history.passed(2500) == pytest.approx(2.5)
    assert history.passed(19_000) is None, "a caught-up replica has no lag"
    assert history.points[0] == (2.0, 2000), "the point before the paused replica's position is kept"
    assert history.rate() == pytest.approx(1000)


@pytest.mark.parametrize("fixed", [None, 50_000])
def test_pacer_keeps_every_second_under_the_cap_plus_one_batch(fixed):
    """Batches of random durations (some longer than their spacing) under the pacer: no
    one-second window of commits exceeds the cap plus one batch of target_batch_time."""
    rng = random.Random(15)
    settings = {**backfill_state.DEFAULTS, "max_rows_per_sec": 20_000, "batch_size": fixed}
    pacer, sizer = Pacer(workers=1), BatchSizer(settings)
    now, commits = 0.0, []
    while now < 30:
        now += max(0.0, pacer.wait(settings, now))
        size = sizer.next_size(settings, pacer.ceiling(settings))
        duration = rng.choice([0.005, 0.02, 0.05, 0.15])  # 0.15 s: longer than the batches' spacing
        pacer.started(now, size, 0)
        sizer.observe(size, duration)
        now += duration
        commits.append((now, size))
    limit = 20_000 + 20_000 * settings["target_batch_time"] / 1000
    worst = max(sum(rows for at, rows in commits if start <= at <= start + 1) for start, _ in commits)
    assert worst <= limit
    assert sum(rows for _, rows in commits) / now > 0.8 * 20_000, "and the cap is used, not undershot"


def test_batch_sizer_shrinks_a_failing_batch_to_a_quarter_down_to_its_floor():
    settings = {**backfill_state.DEFAULTS}
    sizer = BatchSizer(settings)
    sizes = []
    for _ in range(5):
        sizes.append(sizer.next_size(settings))
        sizer.shrink(sizes[-1], settings)
    assert sizes == [5000, 1250, 312, 100, 100] and BatchSizer.floor(settings) == 100


# --- on the sandbox ---------------------------------------------------------------------------
@pytest.mark.parametrize("load", LOADS)
def test_with_replay_paused_no_batch_starts_a_second_after_the_lag_crosses_max_lag(pg_db, load):
    cluster, replica = pg_db.cluster, pg_db.cluster.replica_nodes[0]
    make_table(pg_db, 300_000)
    runner = Runner(spec(), pg_db.dsn, settings={"max_lag": 1000, "max_rows_per_sec": 30_000})
    with cores_busy(load), Watch(pg_db.dsn, "fill") as watch:
        thread, _ = start_in_thread(runner)
        try:
            poll(lambda: watch.rows() >= 60_000, timeout=30)  # about 2 s in, as in the issue
            cluster.pause_replay(replica)
            poll(lambda: cluster.query(replica, "SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused")
            stuck_at = lsn_to_int(cluster.replay_lsn(replica))
            passed = poll(lambda: watch.passed(stuck_at))
            poll(lambda: time.monotonic() > passed + 3.0, timeout=10, interval=0.1)  # watch the second after
        finally:
            runner.stop()
            cluster.resume_replay(replica)
            thread.join(60)
    lag_crossed = passed + 1.0  # true lag: time since the primary passed the replica's replay position
    written_after = watch.rows_at(passed + 3.0) - watch.rows_at(lag_crossed)
    assert watch.last_write() <= lag_crossed + 1.0 + 0.1, (  # + one poll of the progress
        f"writes went on {watch.last_write() - lag_crossed:.2f}s after the lag crossed 1s ({written_after} rows)")
    assert watch.rows() < 300_000


@pytest.mark.parametrize("load", LOADS)
def test_a_resumed_run_with_an_expected_replica_still_down_writes_nothing(pg_db, load):
    cluster, replica = pg_db.cluster, pg_db.cluster.replica_nodes[0]
    make_table(pg_db, 100_000)
    command = CLI + ["run", "gone", "--dsn", pg_db.dsn, "--table", "items", "--set", "label = 'row-' || id",
                     "--max-rows-per-sec", "10000", "--log-format", "json"]
    with cores_busy(load):
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            poll(lambda: pg_db.execute("SELECT count(label) FROM items")[0][0] > 2000, timeout=30)
            cluster.stop_node(replica)
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=30)
            written = pg_db.execute("SELECT count(label) FROM items")[0][0]
            rerun = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            lines = []
            reader = threading.Thread(target=lambda: lines.extend(rerun.stdout), daemon=True)
            reader.start()
            throttled = poll(lambda: [e for e in map(json.loads, list(lines)) if e["event"] == "throttle"], timeout=30)[0]
            rerun.send_signal(signal.SIGTERM)
            rerun.wait(30)
            reader.join(10)
        finally:
            if not replica.running:
                cluster.start_node(replica)
    assert "replica replica1 is gone from pg_stat_replication" in throttled["reason"]
    assert pg_db.execute("SELECT count(label) FROM items")[0][0] == written
    start = next(e for e in map(json.loads, lines) if e["event"] == "start")
    assert start["expected_replicas"] == ["replica1"], "the expected replicas are part of the saved state"


@pytest.mark.parametrize("load", LOADS)
def test_row_cap_is_a_limit_in_every_one_second_window(pg_db, load):
    make_table(pg_db, 300_000)
    cap = 20_000
    runner = Runner(spec("capped"), pg_db.dsn, settings={"max_rows_per_sec": cap, "max_lag": 3_600_000})
    with cores_busy(load), Watch(pg_db.dsn, "capped") as watch:
        thread, _ = start_in_thread(runner)
        try:
            poll(lambda: watch.rows() >= 70_000, timeout=30)
        finally:
            runner.stop()
            thread.join(60)
    samples = watch.samples
    worst = max(later[2] - earlier[2] for earlier in samples for later in samples if 0 < later[0] - earlier[0] <= 1.0)
    assert worst <= cap + cap * 0.2, f"{worst} rows in one second (cap {cap} + one batch of 200ms)"


def test_pause_set_and_cancel_cut_a_long_pacing_wait(pg_db):
    """Batches 4 s apart (4000 rows at 1000 rows/s): control does not wait for the next batch."""
    make_table(pg_db, 100_000)
    runner = Runner(spec("slow"), pg_db.dsn, settings={"batch_size": 4000, "max_rows_per_sec": 1000, "target_batch_time": 8000})
    thread, box = start_in_thread(runner)
    with Watch(pg_db.dsn, "slow") as watch:
        poll(lambda: watch.rows() >= 4000)
        assert cli("pause", "slow", dsn=pg_db.dsn).returncode == 0
        paused_at = time.monotonic()
        poll(lambda: runner.shared.throttle_reason == "paused by operator", timeout=1.0, interval=0.02)
        poll(lambda: time.monotonic() > paused_at + 4.5, timeout=10, interval=0.1)  # past the next paced start
        assert watch.rows() == 4000, "no batch after the pause"
        assert cli("set", "slow", "max_rows_per_sec=4000", dsn=pg_db.dsn).returncode == 0
        assert cli("resume", "slow", dsn=pg_db.dsn).returncode == 0
        poll(lambda: watch.rows() >= 8000, timeout=1.0, interval=0.02)
        assert cli("set", "slow", "max_rows_per_sec=100", dsn=pg_db.dsn).returncode == 0  # 40 s between batches
        assert cli("cancel", "slow", dsn=pg_db.dsn).returncode == 0
        cancelled_at = time.monotonic()  # the cancel is written: from here on it is the runner's reaction
        thread.join(5)
    assert not thread.is_alive() and time.monotonic() - cancelled_at <= 1.5
    assert box["result"].status == "cancelled"


def test_throttle_query_is_read_only_bounded_and_checked_when_set(pg_db):
    make_table(pg_db, 1000)
    pg_db.execute("CREATE FUNCTION sneaky() RETURNS boolean AS $$ DELETE FROM items WHERE id <= 5; SELECT false $$ LANGUAGE sql")
    Runner(spec("tq"), pg_db.dsn, settings={"batch_size": 500}).run()
    for query, message in [
        ("DELETE FROM items WHERE id <= 5 RETURNING false", "cannot execute DELETE in a read-only transaction"),
        ("SELECT sneaky()", "cannot execute DELETE in a read-only transaction"),
        ("SELECT false; DELETE FROM items", "must be a single query"),
        ("SELECT pg_sleep(5) IS NULL", "canceling statement due to statement timeout"),
        ("SELECT 1", "must return a boolean"),
    ]:
        started = time.monotonic()
        refused = cli("set", "tq", f"throttle_query={query}", dsn=pg_db.dsn)
        assert refused.returncode == 1 and message in refused.stderr and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert time.monotonic() - started < 4
    assert pg_db.execute("SELECT count(*) FROM items") == [(1000,)]
    assert pg_db.execute("SELECT settings->'throttle_query' FROM migrator.backfills") == [(None,)]
    bad_start = cli("run", "tq2", "--table", "items", "--set", "label = 'x'", "--throttle-query", "SELECT sneaky()", dsn=pg_db.dsn)
    assert bad_start.returncode == 1 and "read-only transaction" in bad_start.stderr
    assert pg_db.execute("SELECT count(*) FROM items") == [(1000,)]


def test_a_throttle_query_returning_true_holds_the_runner(pg_db):
    make_table(pg_db, 20_000)
    pg_db.execute("CREATE TABLE brake (on_ boolean)")
    pg_db.execute("INSERT INTO brake VALUES (true)")
    events = Events()
    runner = Runner(spec("braked"), pg_db.dsn, settings={"throttle_query": "SELECT bool_or(on_) FROM brake", "batch_size": 1000},
                    emit=events)
    thread, box = start_in_thread(runner)
    poll(lambda: [e for e in events.of("throttle") if e["reason"] == "throttle query returned true"])
    assert not events.of("batch")
    pg_db.execute("UPDATE brake SET on_ = false")
    thread.join(60)
    assert box["result"].status == "done"


SET_ERRORS = [
    ("batch_size=0", "batch_size=0: must be from 1"),
    ("lock_timeout=0", "lock_timeout=0: must be from 1ms"),
    ("statement_timeout=0", "statement_timeout=0: must be from 1ms"),
    ("max_batch_size=50", "max_batch_size=50: below min_batch_size 100"),
    ("min_batch_size=200000", "max_batch_size=100000: below min_batch_size 200000"),
    ("max_rows_per_sec=1e400", "max_rows_per_sec=inf: must be a number from 0"),
    ("max_wal_rate=nan", "max_wal_rate=nan: must be a number from 0"),
    ("target_batch_time=99999999999ms", "target_batch_time=99999999999: must be from 1ms"),
]


def test_every_control_value_is_checked_at_set(pg_db):
    make_table(pg_db, 10)
    Runner(spec("checked"), pg_db.dsn).run()
    before = pg_db.execute("SELECT settings FROM migrator.backfills")
    for assignment, message in SET_ERRORS:
        result = cli("set", "checked", assignment, dsn=pg_db.dsn)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert pg_db.execute("SELECT settings FROM migrator.backfills") == before
    adaptive = cli("set", "checked", "batch_size=adaptive", dsn=pg_db.dsn)
    assert adaptive.returncode == 0 and "batch_size=adaptive" in adaptive.stdout


@pytest.mark.parametrize("settings, message", [
    ({"batch_size": 0}, "--batch-size 0: must be from 1"),
    ({"max_rows_per_sec": float("inf")}, "--max-rows-per-sec inf: must be a number"),
    ({"max_lag": 0}, "--max-lag 0: must be from 1ms"),
])
def test_the_same_rules_at_start(pg_db, settings, message):
    make_table(pg_db, 10)
    with pytest.raises(BackfillError, match=message):
        Runner(spec(), pg_db.dsn, settings=settings).run()
    result = subprocess.run(CLI + ["run", "x", "--dsn", pg_db.dsn, "--table", "items", "--set", "label = 'x'",
                                   "--max-rows-per-sec", "1e400"], capture_output=True, text=True)
    assert result.returncode == 1 and "--max-rows-per-sec inf: must be a number" in result.stderr
    assert pg_db.execute("SELECT to_regclass('migrator.backfills')") == [(None,)]


def test_a_batch_that_keeps_timing_out_shrinks_then_stops_with_a_clear_error(pg_db):
    make_table(pg_db, 20_000)
    events = Events()
    sleepy = spec("sleepy")
    sleepy.sets = {"label": "'row-' || id || (SELECT '' FROM pg_sleep(100))"}
    started = time.monotonic()
    with pytest.raises(BackfillError, match=r"stopped after batches failed for .*QueryCanceled.*last batch 100 rows"):
        Runner(sleepy, pg_db.dsn, settings={"statement_timeout": 300}, emit=events).run()
    assert [e["next_batch_size"] for e in events.of("retry")] == [1250, 312, 100]
    assert time.monotonic() - started < 10
    assert pg_db.execute("SELECT count(label) FROM items") == [(0,)]
