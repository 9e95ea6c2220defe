"""The backfill runner: resumable, throttled keyset batches, coordinated through PostgreSQL.

Each batch is one short transaction: find the key of the N-th next row (keyset, never OFFSET),
update `key > low AND key <= high` rows whose value differs, and write the checkpoint in that
same transaction, so a crash at any moment loses nothing and repeats nothing. While a batch
runs, a second thread finds the next batch's key on its own connection: between two batches
the loop makes no round trip of its own. A batch begins by reading status and settings in its
first statement, and takes its throttle verdict, as it starts, from a sampler that reads lag on
its own clock (backfill.throttle): a pause, a `set` or a lag crossing its limit applies to the
very next batch. Rate caps space the batches' starts (Pacer). Work is split into key chunks
that workers (threads here, or runners on other machines) claim from the state table; a chunk
whose worker died is reclaimed at once (its advisory lock went with it).
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from backfill import state
from backfill.spec import BackfillError, BackfillSpec, Plan, plan_backfill
from backfill.throttle import Throttle, lsn_to_int, run_throttle_query
from migrator.dsn import connect as connect_or_fail
from migrator.errors import first_line

RETRYABLE = (pg_errors.LockNotAvailable, pg_errors.QueryCanceled, pg_errors.DeadlockDetected,
             pg_errors.SerializationFailure)
INITIAL_BATCH = 5000
RETRY_BUDGET = 60.0  # seconds of failing batches in a row before the run stops
POLL = 0.1  # seconds between checks while paused or throttled
CONTROL_POLL = 0.25  # longer waits re-read status and settings this often


@dataclass
class Chunk:
    id: int
    low: list[str] | None
    high: list[str]
    last_key: list[str] | None


@dataclass
class RunResult:
    status: str  # done | stopped | paused | cancelled | dry-run
    rows_processed: int = 0
    rows_changed: int = 0
    batches: int = 0
    throttled_seconds: float = 0.0
    retries: int = 0
    elapsed: float = 0.0
    message: str = ""


@dataclass
class _Shared:
    """What this runner's workers tell the progress display."""

    batch_sizes: dict[int, int] = field(default_factory=dict)
    throttle_reason: str | None = None
    lags: dict[str, float] | None = None  # None until the throttle's first reading
    throttled_seconds: float = 0.0
    retries: int = 0
    error: str | None = None


def connect(dsn: str, **options) -> psycopg.Connection:
    return connect_or_fail(dsn, BackfillError, **options)


class Runner:
    """Runs one backfill (`spec`) against `dsn` with `workers` threads. Call run()."""

    def __init__(self, spec: BackfillSpec, dsn: str, *, settings: dict | None = None, replica_dsns: list[str] | None = None,
                 workers: int = 1, join: bool = False, dry_run: bool = False, chunk_rows: int | None = None,
                 emit: Callable[[dict], None] | None = None):
        if workers < 1:
            raise BackfillError(f"--workers must be at least 1, not {workers}")
        self.overrides = {k: v for k, v in (settings or {}).items() if v is not None}
        state.check_settings({**self.overrides, **({"chunk_rows": chunk_rows} if chunk_rows is not None else {})}, option=True)
        self.spec = spec
        self.dsn = dsn
        self.replica_dsns = list(replica_dsns or [])
        self.workers = workers
        self.join = join
        self.dry_run = dry_run
        self.chunk_rows = chunk_rows
        self.emit = emit if emit is not None else (lambda event: None)
        self.stop_event = threading.Event()
        self.shared = _Shared()
        self.plan: Plan | None = None
        self.settings: dict = dict(state.DEFAULTS)
        self._beats: dict[str, float] = {}  # worker: when it last beat (time.monotonic())
        self.status = "running"
        self.identity = f"{socket.gethostname()}:{os.getpid()}"

    # -- entry -----------------------------------------------------------------------------
    def run(self, progress: Callable[["Runner"], None] | None = None) -> RunResult:
        started = time.monotonic()
        control = connect(self.dsn)
        try:
            self.plan = plan_backfill(control, self.spec)
            if self.dry_run:
                return self._dry_run(control)
            for dsn in self.replica_dsns:  # refuse before any write if a lag source cannot be read
                connect(dsn, options="-c statement_timeout=3000").close()
            if self.overrides.get("throttle_query"):
                run_throttle_query(control, self.overrides["throttle_query"])
            state.ensure_schema(control)
            holds_runner_lock = control.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (state.runner_lock_key(self.spec.name),)).fetchone()[0]
            if not holds_runner_lock and not self.join:
                raise BackfillError(self._already_running(control))
            record = self._create_or_resume(control)
            if record["status"] in ("done", "cancelled"):
                return self._result(control, record["status"], started,
                                    f"backfill {self.spec.name} is already {record['status']}")
            self.throttle = Throttle(self.dsn, self.replica_dsns).start(self.settings["throttle_query"])
            try:
                self._expect_replicas(control)
                self.emit({"event": "start", "backfill": self.spec.name, "table": f"{self.plan.schema}.{self.plan.table}",
                           "key": [k.name for k in self.plan.key], "workers": self.workers,
                           "estimated_rows": self.plan.estimated_rows, "expected_replicas": self.settings["expected_replicas"]})
                threads = [threading.Thread(target=self._worker_guarded, args=(i,), name=f"backfill-{i}", daemon=True)
                           for i in range(self.workers)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    while thread.is_alive():
                        if progress:
                            progress(self)
                        thread.join(0.25)
            finally:
                self.throttle.close()
            if self.shared.error:
                state.record_failure(control, self.spec.name, self.shared.error)
                raise BackfillError(self.shared.error)
            record = state.load(control, self.spec.name)
            final = record["status"]
            if final == "running":
                final = "stopped"
            return self._result(control, final, started)
        finally:
            control.close()

    def stop(self) -> None:
        """Finish the current batches, checkpoint, and return (SIGINT / SIGTERM)."""
        self.stop_event.set()

    # -- setup -------------------------------------------------------------------------------
    def _already_running(self, control) -> str:
        rows = control.execute("SELECT host, pid, started_at FROM migrator.backfill_workers WHERE backfill = %s "
                               "ORDER BY started_at LIMIT 1", (self.spec.name,)).fetchall()
        who = f" (pid {rows[0][1]} on {rows[0][0]}, since {rows[0][2]:%Y-%m-%d %H:%M:%S})" if rows else ""
        return f"backfill {self.spec.name} is already running{who}: add --join to add workers to it"

    def _create_or_resume(self, control) -> dict:
        plan = self.plan
        with control.transaction():
            record = state.load(control, self.spec.name)
            if record is None:
                settings = {**{k: v for k, v in state.DEFAULTS.items()}, **self.overrides}
                if self.chunk_rows:
                    settings["chunk_rows"] = self.chunk_rows
                control.execute(
                    "INSERT INTO migrator.backfills (name, fingerprint, definition, table_name, key_columns, range_high, "
                    "frontier_done, estimated_rows, status, settings) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (self.spec.name, self.spec.fingerprint(), json.dumps(self.spec.definition()),
                     f"{plan.schema}.{plan.table}", json.dumps([[k.name, k.type] for k in plan.key]), plan.range_high,
                     plan.range_high is None, plan.estimated_rows, "done" if plan.range_high is None else "running",
                     json.dumps(settings)))
                record = state.load(control, self.spec.name)
            else:
                if record["fingerprint"] != self.spec.fingerprint():
                    raise BackfillError(
                        f"backfill {self.spec.name} already exists with a different definition "
                        f"({json.dumps(record['definition'])}): use another name, or the same --table/--set/--where/--key")
                if record["status"] == "failed":
                    self.emit({"event": "resume_failed", "backfill": self.spec.name, "error": record["error"]})
                    state.set_status(control, self.spec.name, "running", ("failed",))
                if self.overrides:
                    state.update_settings(control, self.spec.name, self.overrides)
                if record["status"] == "failed" or self.overrides:
                    record = state.load(control, self.spec.name)
                plan.range_high = record["range_high"]
        self.settings = {**state.DEFAULTS, **record["settings"]}
        state.check_settings(self.settings, option=True)
        self.status = record["status"]
        return record

    def _expect_replicas(self, control) -> None:
        """Save the replicas in pg_stat_replication now as those this backfill expects, unless it
        names its own: a later run (a resume after a crash) then misses one that is gone."""
        present = self.throttle.present_at_start
        if self.settings["expected_replicas"] is None and present:
            saved = state.update_settings(control, self.spec.name, {"expected_replicas": sorted(present)})
            self.settings = {**state.DEFAULTS, **saved}

    def _dry_run(self, control) -> RunResult:
        plan = self.plan
        size = self.overrides.get("batch_size") or INITIAL_BATCH
        batches = max(1, -(-plan.estimated_rows // size)) if plan.range_high else 0
        lines = [f"backfill {self.spec.name}: dry run, nothing written",
                 f"table {plan.schema}.{plan.table}, key ({', '.join(f'{k.name} {k.type}' for k in plan.key)})",
                 f"key range: start .. {tuple(plan.range_high) if plan.range_high else '(empty table)'} (fixed now; later inserts above it are not touched)",
                 f"estimated rows: {plan.estimated_rows:,}; batch size "
                 + (f"{size:,} (fixed)" if self.overrides.get("batch_size") else f"adaptive from {size:,}")
                 + f"; about {batches:,} batches"]
        if plan.range_high and self.spec.sets:
            row = control.execute(plan.next_upper_sql(False), [*plan.range_high, size - 1]).fetchone()
            cursor = psycopg.ClientCursor(control)
            lines.append("first batch:\n  " + cursor.mogrify(plan.update_sql(False), list(row or plan.range_high)))
        return RunResult("dry-run", message="\n".join(lines))

    def _result(self, control, status: str, started: float, message: str = "") -> RunResult:
        totals = state.progress(control, self.spec.name)
        return RunResult(status, totals["rows_processed"], totals["rows_changed"], totals["batches"],
                         self.shared.throttled_seconds, self.shared.retries, time.monotonic() - started, message)

    # -- workers -------------------------------------------------------------------------------
    def _worker_guarded(self, index: int) -> None:
        try:
            self._worker(index)
        except BackfillError as error:
            self.shared.error = str(error)
            self.stop_event.set()
        except psycopg.Error as error:
            self.shared.error = f"backfill {self.spec.name}: {first_line(error)} (rerun the same command to resume)"
            self.stop_event.set()
        except Exception as error:  # a Python backfill's own code
            self.shared.error = (f"backfill {self.spec.name}: {type(error).__name__}: {first_line(error)} "
                                 "(rerun the same command to resume)")
            self.stop_event.set()

    def _worker(self, index: int) -> None:
        connection = connect(self.dsn)
        worker = f"{self.identity}:{index}"
        try:
            connection.execute(
                "INSERT INTO migrator.backfill_workers (backfill, worker, host, pid, state) "
                "VALUES (%s, %s, %s, %s, jsonb_build_object('backend_pid', pg_backend_pid())) "
                "ON CONFLICT (backfill, worker) DO UPDATE SET heartbeat = now(), started_at = now(), state = excluded.state",
                (self.spec.name, worker, socket.gethostname(), os.getpid()))
            sizer = BatchSizer(self.settings)
            pacer = Pacer(self.workers)
            lookahead = Lookahead(self.dsn, self.plan)
            try:
                while not self.stop_event.is_set():
                    chunk = self._claim(connection, worker)
                    if chunk is None:
                        if self._finish_if_complete(connection) or self._others_hold_all(connection, worker):
                            return
                        continue
                    self._work_chunk(connection, worker, index, chunk, sizer, pacer, lookahead)
                    self._beat(connection, worker)
            finally:
                lookahead.close()
        finally:
            try:
                connection.execute("DELETE FROM migrator.backfill_workers WHERE backfill = %s AND worker = %s",
                                   (self.spec.name, worker))
            except psycopg.Error:
                pass
            connection.close()

    def _others_hold_all(self, connection, worker: str) -> bool:
        """Nothing left to claim but chunks held by others: wait for them, unless we are stopping."""
        self.stop_event.wait(0.5)
        self._beat(connection, worker)
        return self.stop_event.is_set() or self._control(connection) in ("done", "cancelled")

    def _claim(self, connection, worker: str) -> Chunk | None:
        key = state.chunk_lock_key(self.spec.name)
        with connection.transaction():
            for chunk_id, low, high, last_key in connection.execute(
                    "SELECT id, low, high, last_key FROM migrator.backfill_chunks WHERE backfill = %s AND NOT done "
                    "ORDER BY id FOR UPDATE SKIP LOCKED", (self.spec.name,)).fetchall():
                if connection.execute("SELECT pg_try_advisory_lock(hashtext(%s), %s)", (key, chunk_id)).fetchone()[0]:
                    connection.execute("UPDATE migrator.backfill_chunks SET worker = %s, heartbeat = now() "
                                       "WHERE backfill = %s AND id = %s", (worker, self.spec.name, chunk_id))
                    return Chunk(chunk_id, low, high, last_key)
        with connection.transaction():
            frontier, frontier_done, range_high, chunk_rows = connection.execute(
                "SELECT frontier, frontier_done, range_high, (settings->>'chunk_rows')::int FROM migrator.backfills "
                "WHERE name = %s FOR UPDATE", (self.spec.name,)).fetchone()
            if frontier_done or range_high is None:
                return None
            high = self._chunk_high(connection, frontier, range_high, chunk_rows or state.DEFAULTS["chunk_rows"])
            chunk_id = connection.execute("SELECT coalesce(max(id), 0) + 1 FROM migrator.backfill_chunks WHERE backfill = %s",
                                          (self.spec.name,)).fetchone()[0]
            connection.execute("INSERT INTO migrator.backfill_chunks (backfill, id, low, high, worker, heartbeat) "
                               "VALUES (%s, %s, %s, %s, %s, now())", (self.spec.name, chunk_id, frontier, high, worker))
            connection.execute("UPDATE migrator.backfills SET frontier = %s, frontier_done = %s, updated_at = now() "
                               "WHERE name = %s", (high, high == range_high, self.spec.name))
            connection.execute("SELECT pg_advisory_lock(hashtext(%s), %s)", (key, chunk_id))
            return Chunk(chunk_id, frontier, high, None)

    def _chunk_high(self, connection, frontier, range_high, chunk_rows: int) -> list[str]:
        """The high key of the next chunk of about chunk_rows rows; the range's end when less than
        a quarter chunk would be left after it (a sliver of a chunk costs a claim and a short batch).

        From the planner's histogram of the key when there is one (no scan), else by walking
        chunk_rows keys of the index.
        """
        plan = self.plan
        if plan.histogram:
            step = max(1, round(chunk_rows / max(1, plan.estimated_rows / len(plan.histogram))))
            wanted = step + -(-step // 4)  # the chunk's buckets and a quarter chunk beyond them
            key = plan.key[0]
            bounds = [row[0] for row in connection.execute(sql.SQL(
                "SELECT bound FROM unnest(%s::text[]) WITH ORDINALITY AS h(bound, position) "
                "WHERE (%s::text IS NULL OR bound::{type} > %s::{type}) AND bound::{type} < %s::{type} "
                "ORDER BY position LIMIT %s").format(type=sql.SQL(key.type)),
                (plan.histogram, (frontier or [None])[0], (frontier or [None])[0], range_high[0], wanted))]
            return [bounds[step - 1]] if len(bounds) == wanted else range_high
        row = connection.execute(plan.next_upper_sql(frontier is not None),
                                 [*(frontier or []), *range_high, chunk_rows - 1]).fetchone()
        if row is None:
            return range_high
        beyond = connection.execute(plan.next_upper_sql(True), [*row, *range_high, max(1, chunk_rows // 4) - 1]).fetchone()
        return list(row) if beyond is not None else range_high

    def _finish_if_complete(self, connection) -> bool:
        done = connection.execute(
            "UPDATE migrator.backfills b SET status = 'done', finished_at = now(), updated_at = now() "
            "WHERE name = %s AND status IN ('running', 'paused') AND frontier_done AND NOT EXISTS "
            "(SELECT 1 FROM migrator.backfill_chunks c WHERE c.backfill = b.name AND NOT c.done) RETURNING name",
            (self.spec.name,)).fetchone()
        return done is not None or self._control(connection) in ("done", "cancelled")

    def _control(self, connection) -> str:
        """Re-read status and settings (operators change them from anywhere)."""
        status, settings = connection.execute("SELECT status, settings FROM migrator.backfills WHERE name = %s",
                                              (self.spec.name,)).fetchone()
        self.settings = {**state.DEFAULTS, **settings}
        self.status = status
        return status

    def _work_chunk(self, connection, worker: str, index: int, chunk: Chunk, sizer: "BatchSizer", pacer: "Pacer",
                    lookahead: "Lookahead") -> None:
        key = state.chunk_lock_key(self.spec.name)
        failures, failing_since = 0, None
        try:
            while not self.stop_event.is_set():
                if self.status not in ("running", "paused", "done"):  # cancelled, or failed in another runner
                    self.stop_event.set()
                if self.status not in ("running", "paused"):
                    return
                if self.status == "paused":
                    self._note_throttle("paused by operator")
                    self._sleep(POLL, connection, worker)
                    self._control(connection)
                    continue
                wait = pacer.wait(self.settings)
                if wait > 0:
                    self._sleep(wait, connection, worker)
                    continue
                verdict = self.throttle.verdict(self.settings)
                self.shared.lags = verdict.lags
                if verdict.throttled:
                    self._note_throttle(verdict.reason)
                    self._sleep(POLL, connection, worker)
                    self._control(connection)
                    continue
                self._note_throttle(None)
                started = time.monotonic()
                try:
                    outcome = self._batch(connection, worker, index, chunk, sizer, pacer, lookahead)
                except RETRYABLE as error:
                    failures += 1
                    failing_since = failing_since or started
                    self.shared.retries += 1
                    failed = self.shared.batch_sizes.get(index, 0)
                    if (isinstance(error, pg_errors.QueryCanceled) and failed <= sizer.floor(self.settings)
                            or time.monotonic() - failing_since >= RETRY_BUDGET):
                        raise BackfillError(
                            f"backfill {self.spec.name}: stopped after batches failed for {time.monotonic() - failing_since:.1f}s "
                            f"({type(error).__name__}: {first_line(error)}; last batch {failed:,} rows): fix the cause "
                            "(a slow expression, statement_timeout, a lock held on the table) and rerun the same command "
                            "to resume") from None
                    sizer.shrink(failed, self.settings)
                    self.emit({"event": "retry", "worker": worker, "error": type(error).__name__, "next_batch_size": sizer.retry_size})
                    self._sleep(min(5.0, 0.1 * 2 ** failures), connection, worker)
                    continue
                if outcome is None:  # paused, cancelled or throttled as the batch began: nothing written
                    continue
                failures, failing_since = 0, None
                size, processed, changed, finished = outcome
                elapsed = time.monotonic() - started
                sizer.observe(processed, elapsed)
                self.emit({"event": "batch", "worker": worker, "chunk": chunk.id, "rows": processed, "changed": changed,
                           "seconds": round(elapsed, 4), "batch_size": size, "lag": verdict.lags})
                if finished:
                    return
        finally:
            connection.execute("SELECT pg_advisory_unlock(hashtext(%s), %s)", (key, chunk.id))

    def _sleep(self, seconds: float, connection, worker: str) -> None:
        """Wait up to `seconds`; a longer wait re-reads status and settings every CONTROL_POLL and
        ends when they change (pause, cancel and set apply at once) or the runner stops. The worker
        beats meanwhile (paused, throttled or paced, it is alive)."""
        deadline = time.monotonic() + seconds
        before = (self.status, self.settings)
        while not self.stop_event.wait(min(CONTROL_POLL, max(0.0, deadline - time.monotonic()))):
            self._beat(connection, worker)
            if time.monotonic() >= deadline or self._control(connection) != before[0] or self.settings != before[1]:
                return

    def _beat(self, connection, worker: str) -> None:
        """The worker's heartbeat between batches (a batch's checkpoint beats too), at most every
        state.BEAT_INTERVAL seconds, with the throttle or pause it waits on."""
        now = time.monotonic()
        if now - self._beats.get(worker, 0.0) < state.BEAT_INTERVAL:
            return
        self._beats[worker] = now
        connection.execute("UPDATE migrator.backfill_workers SET heartbeat = now(), state = state || %s "
                           "WHERE backfill = %s AND worker = %s",
                           (json.dumps({"throttle": self.shared.throttle_reason}), self.spec.name, worker))

    def _batch(self, connection, worker: str, index: int, chunk: Chunk, sizer: "BatchSizer", pacer: "Pacer",
               lookahead: "Lookahead") -> tuple[int, int, int, bool] | None:
        """One batch in one transaction, checkpoint included. Returns (batch size, rows processed,
        rows changed, chunk done), or None when status, settings or the throttle stop it as it
        begins (nothing written).

        Its first statement reads status and settings; the size is decided from them and the
        rate caps. The batch uses the upper key the lookahead found for it when that was for a
        size close to this one and within the caps; the next batch's lookahead starts before
        this batch's UPDATE. The checkpoint statement reads status and settings for the next.
        """
        plan = self.plan
        low = chunk.last_key or chunk.low
        timeouts = _timeouts(self.settings)
        # a Python backfill's own queries keep the planner's choices
        planner = plan.UPDATE_PLANNER_SETTINGS if self.spec.function is None else {}
        started, go = time.monotonic(), False
        with connection.transaction():
            status, settings_now, wal_start = connection.execute(
                sql.SQL("SELECT b.status, b.settings, pg_current_wal_insert_lsn()::text, {} FROM migrator.backfills b "
                        "WHERE b.name = {}").format(_set_config_list({**timeouts, **planner}, local=True),
                                                    sql.Literal(self.spec.name))).fetchone()[:3]
            settings = {**state.DEFAULTS, **settings_now}
            changed_settings, self.status, self.settings = settings != self.settings, status, settings
            if status != "running":
                raise psycopg.Rollback()
            if changed_settings:  # `set` since the last batch: its timeouts and throttle apply to this one
                if _timeouts(settings) != timeouts:
                    timeouts = _timeouts(settings)
                    connection.execute(sql.SQL("SELECT {}").format(_set_config_list(timeouts, local=True)))
                verdict = self.throttle.verdict(settings)
                if verdict.throttled:
                    self._note_throttle(verdict.reason)
                    raise psycopg.Rollback()
            go = True
            ceiling = pacer.ceiling(settings)
            size = sizer.next_size(settings, ceiling)
            decided = size
            ahead = lookahead.take(low, size, _sizing(settings), ceiling)
            if ahead is not None:
                size, row = ahead
            else:
                row = connection.execute(plan.next_upper_sql(low is not None), [*(low or []), *chunk.high, size - 1]).fetchone()
            self.shared.batch_sizes[index] = size
            if row is None:  # fewer than `size` rows left in the chunk: this batch ends it
                high = chunk.high
                processed = connection.execute(plan.count_sql(low is not None), [*(low or []), *high]).fetchone()[0]
            else:
                processed, high = size, list(row)
                if high != chunk.high:
                    lookahead.start(high, chunk.high, decided, _sizing(settings), timeouts)
            changed = 0
            if processed:
                if self.spec.function is not None:
                    changed = self.spec.function(connection, low, high) or 0
                else:
                    changed = connection.execute(plan.update_sql(low is not None), [*(low or []), *high]).rowcount
            finished = high == chunk.high
            self.status, settings_now, wal_end = connection.execute(
                "WITH checkpoint AS (UPDATE migrator.backfill_chunks SET last_key = %s, rows_processed = rows_processed + %s, "
                "rows_changed = rows_changed + %s, batches = batches + 1, done = %s, heartbeat = now() "
                "WHERE backfill = %s AND id = %s), "
                "beat AS (UPDATE migrator.backfill_workers SET heartbeat = now(), state = state || %s WHERE backfill = %s AND worker = %s) "
                "SELECT status, settings, pg_current_wal_insert_lsn()::text FROM migrator.backfills WHERE name = %s",
                (high, processed, changed, finished, self.spec.name, chunk.id,
                 json.dumps({"batch_size": size, "chunk": chunk.id, "lag": self.shared.lags,
                             "throttle": self.shared.throttle_reason}), self.spec.name, worker, self.spec.name)).fetchone()
            self.settings = {**state.DEFAULTS, **settings_now}
        if not go:
            return None
        chunk.last_key = high
        pacer.started(started, processed, lsn_to_int(wal_end) - lsn_to_int(wal_start))
        return size, processed, changed, finished

    def _note_throttle(self, reason: str | None) -> None:
        """Record the throttle state; an event when it starts, stops or changes cause (not when a lag figure moves)."""
        if _cause(reason) != _cause(self.shared.throttle_reason):
            self.emit({"event": "throttle" if reason else "resume", "reason": reason, "lag": self.shared.lags})
        self.shared.throttle_reason = reason
        if reason:
            self.shared.throttled_seconds += POLL


def _set_config_list(settings: dict[str, str], local: bool) -> sql.Composed:
    """set_config() calls for every parameter, for a SELECT list: for the transaction only (local) or the session."""
    return sql.SQL(", ").join(
        sql.SQL("set_config({}, {}, {})").format(sql.Literal(name), sql.Literal(value), sql.Literal(local))
        for name, value in settings.items())


def _timeouts(settings: dict) -> dict[str, str]:
    """The lock and statement timeouts a batch runs under."""
    return {"lock_timeout": f"{int(settings['lock_timeout'])}ms", "statement_timeout": f"{int(settings['statement_timeout'])}ms"}


def _sizing(settings: dict) -> tuple:
    """The settings that decide a batch's size."""
    return tuple(settings.get(name) for name in ("batch_size", "min_batch_size", "max_batch_size", "target_batch_time"))


def _cause(reason: str | None) -> str | None:
    """A throttle reason without its changing figures."""
    return None if reason is None else re.sub(r"\d+(\.\d+)?", "#", reason)


class Lookahead:
    """The next batch's upper key (a walk along the key index), found on a second thread and
    connection while the current batch runs. The batch loop then does not wait for it."""

    def __init__(self, dsn: str, plan: Plan):
        self.dsn, self.plan = dsn, plan
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="backfill-lookahead")
        self.connection: psycopg.Connection | None = None
        self.pending: tuple[list[str], int, tuple, Future] | None = None
        self.timeouts: dict[str, str] = {}  # in force on the lookahead's connection

    def start(self, low: list[str], high: list[str], size: int, sizing: tuple, timeouts: dict[str, str]) -> None:
        """Look for the key `size` rows after `low` (at most `high`), under the batches' lock and
        statement timeouts; `sizing`: the settings that chose size."""
        self.pending = (low, size, sizing, self.pool.submit(self._upper_key, low, high, size, timeouts))

    def take(self, low: list[str] | None, size: int, sizing: tuple,
             ceiling: int | None = None) -> tuple[int, tuple | None] | None:
        """(size, upper key or None if fewer rows are left) when the lookahead started from `low`,
        for about `size` rows (growing batches find their own key) but at most `ceiling` (the
        rate caps') and under the same sizing settings (an operator's `set` applies to the very
        next batch). None when there is none, or it failed (the batch then looks itself, and
        meets the error)."""
        pending, self.pending = self.pending, None
        if (pending is None or pending[0] != low or pending[2] != sizing or not size / 1.5 <= pending[1] <= size * 1.5
                or ceiling is not None and pending[1] > ceiling):
            return None
        try:
            return pending[1], pending[3].result()
        except psycopg.Error:
            return None

    def _upper_key(self, low: list[str], high: list[str], size: int, timeouts: dict[str, str]) -> tuple | None:
        if self.connection is None:
            self.connection = connect(self.dsn, application_name="migrator backfill lookahead")
            self.timeouts = {}
        try:
            if timeouts != self.timeouts:
                self.connection.execute(sql.SQL("SELECT {}").format(_set_config_list(timeouts, local=False)))
                self.timeouts = dict(timeouts)
            return self.connection.execute(self.plan.next_upper_sql(True), [*low, *high, size - 1]).fetchone()
        except psycopg.Error:
            self.connection.close()
            self.connection = None
            raise

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        if self.connection is not None:
            self.connection.close()


class Pacer:
    """Spaces one worker's batch starts so that --max-rows-per-sec and --max-wal-rate are limits.

    With `rate` rows/s for this worker (the row cap, or the WAL cap over the WAL a row has taken
    so far, shared among the workers), a batch of n rows starts n/rate after the previous one
    started and holds at most rate * target_batch_time / 2 rows (ceiling). The rows committed in
    any one-second window are then at most the cap plus two such half batches: the cap plus one
    batch of target_batch_time. Until a batch has measured its WAL, the WAL cap allows batches of
    min_batch_size.
    """

    def __init__(self, workers: int):
        self.workers = workers
        self.last: tuple[float, int] | None = None  # (start, rows) of the last batch
        self.wal_per_row: float | None = None

    def rate(self, settings: dict) -> float | None:
        caps = [float(settings["max_rows_per_sec"])] if settings.get("max_rows_per_sec") else []
        if settings.get("max_wal_rate") and self.wal_per_row:
            caps.append(settings["max_wal_rate"] * 1_000_000 / self.wal_per_row)
        return min(caps) / self.workers if caps else None

    def ceiling(self, settings: dict) -> int | None:
        """The largest batch the caps allow now (None: no cap)."""
        rate = self.rate(settings)
        limits = [max(1, int(rate * settings["target_batch_time"] / 2000))] if rate else []
        if settings.get("max_wal_rate") and self.wal_per_row is None:
            limits.append(int(settings["min_batch_size"]))
        return min(limits, default=None)

    def wait(self, settings: dict, now: float | None = None) -> float:
        """Seconds before the next batch may start (the caps in force now: `set` applies at once)."""
        rate = self.rate(settings)
        now = time.monotonic() if now is None else now
        return self.last[0] + self.last[1] / rate - now if rate and self.last else 0.0

    def started(self, at: float, rows: int, wal_bytes: int) -> None:
        """A batch that started at `at` committed `rows` rows and `wal_bytes` of WAL (its own and
        any other session's meanwhile: an estimate that errs on the safe side)."""
        self.last = (at, rows)
        if rows > 0 and wal_bytes > 0:
            per_row = wal_bytes / rows  # rises at once, falls slowly
            self.wal_per_row = per_row if self.wal_per_row is None else max(per_row, 0.7 * self.wal_per_row + 0.3 * per_row)


class BatchSizer:
    """Batch size: fixed, or aimed at a target batch duration from a smoothed rows/s estimate;
    never above the rate caps' ceiling; after a failure a quarter of the failed size (down to
    floor()) until a batch succeeds."""

    def __init__(self, settings: dict):
        self.size = settings.get("batch_size") or INITIAL_BATCH
        self.rate: float | None = None
        self.retry_size: int | None = None

    def next_size(self, settings: dict, ceiling: int | None = None) -> int:
        fixed = settings.get("batch_size")
        if fixed:
            size = int(fixed)
        else:
            low, high = int(settings["min_batch_size"]), int(settings["max_batch_size"])
            if self.rate is not None:
                wanted = self.rate * settings["target_batch_time"] / 1000
                self.size = int(min(wanted, self.size * 2))  # grow at most 2x per batch
            self.size = max(low, min(high, self.size))
            if ceiling is not None:  # the sizer never grows past a cap
                self.size = min(self.size, ceiling)
            size = self.size
        if ceiling is not None:
            size = min(size, ceiling)
        if self.retry_size is not None:
            size = min(size, self.retry_size)
        return max(1, size)

    def observe(self, rows: int, seconds: float) -> None:
        self.retry_size = None
        if rows <= 0 or seconds <= 0:
            return
        rate = rows / seconds
        self.rate = rate if self.rate is None else 0.7 * self.rate + 0.3 * rate

    @staticmethod
    def floor(settings: dict) -> int:
        """The smallest size a failing batch shrinks to."""
        return min(int(settings["min_batch_size"]), int(settings.get("batch_size") or settings["min_batch_size"]))

    def shrink(self, failed: int, settings: dict) -> None:
        """After a batch of `failed` rows failed: a quarter of it, and forget the optimistic rate."""
        self.retry_size = max(self.floor(settings), failed // 4)
        if not settings.get("batch_size"):
            self.size = self.retry_size
        self.rate = None if self.rate is None else self.rate / 4
