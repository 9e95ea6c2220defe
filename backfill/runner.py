"""The backfill runner: resumable, throttled keyset batches, coordinated through PostgreSQL.

Each batch is one short transaction: find the key of the N-th next row (keyset, never OFFSET),
update `key > low AND key <= high` rows whose value differs, and write the checkpoint in that
same transaction, so a crash at any moment loses nothing and repeats nothing. While a batch
runs, a second thread finds the next batch's key on its own connection and reads the throttle,
and the checkpoint statement reads back status and settings: between two batches the loop
makes no round trip of its own. Work is split
into key chunks that workers (threads here, or runners on other machines) claim from the state
table; a chunk whose worker died is reclaimed at once (its advisory lock went with it).
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
from backfill.throttle import Throttle
from migrator.dsn import connect as connect_or_fail
from migrator.errors import first_line

RETRYABLE = (pg_errors.LockNotAvailable, pg_errors.QueryCanceled, pg_errors.DeadlockDetected,
             pg_errors.SerializationFailure)
INITIAL_BATCH = 5000
MAX_CONSECUTIVE_FAILURES = 20
POLL = 0.1


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
        if settings and settings.get("batch_size") is not None and settings["batch_size"] <= 0:
            raise BackfillError(f"--batch-size must be at least 1, not {settings['batch_size']}")
        self.spec = spec
        self.dsn = dsn
        self.overrides = {k: v for k, v in (settings or {}).items() if v is not None}
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
            state.ensure_schema(control)
            holds_runner_lock = control.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (state.runner_lock_key(self.spec.name),)).fetchone()[0]
            if not holds_runner_lock and not self.join:
                raise BackfillError(self._already_running(control))
            record = self._create_or_resume(control)
            if record["status"] in ("done", "cancelled"):
                return self._result(control, record["status"], started,
                                    f"backfill {self.spec.name} is already {record['status']}")
            self.throttle = Throttle(self.dsn, self.replica_dsns, settings_source=lambda: self.settings)
            self.emit({"event": "start", "backfill": self.spec.name, "table": f"{self.plan.schema}.{self.plan.table}",
                       "key": [k.name for k in self.plan.key], "workers": self.workers,
                       "estimated_rows": self.plan.estimated_rows})
            threads = [threading.Thread(target=self._worker_guarded, args=(i,), name=f"backfill-{i}", daemon=True)
                       for i in range(self.workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    if progress:
                        progress(self)
                    thread.join(0.25)
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
        self.status = record["status"]
        return record

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
                "INSERT INTO migrator.backfill_workers (backfill, worker, host, pid) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (backfill, worker) DO UPDATE SET heartbeat = now(), started_at = now()",
                (self.spec.name, worker, socket.gethostname(), os.getpid()))
            sizer = BatchSizer(self.settings)
            lookahead = Lookahead(self.dsn, self.plan)
            try:
                while not self.stop_event.is_set():
                    chunk = self._claim(connection, worker)
                    if chunk is None:
                        if self._finish_if_complete(connection) or self._others_hold_all(connection):
                            return
                        continue
                    self._work_chunk(connection, worker, index, chunk, sizer, lookahead)
            finally:
                lookahead.close()
        finally:
            try:
                connection.execute("DELETE FROM migrator.backfill_workers WHERE backfill = %s AND worker = %s",
                                   (self.spec.name, worker))
            except psycopg.Error:
                pass
            connection.close()

    def _others_hold_all(self, connection) -> bool:
        """Nothing left to claim but chunks held by others: wait for them, unless we are stopping."""
        self.stop_event.wait(0.5)
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

    def _work_chunk(self, connection, worker: str, index: int, chunk: Chunk, sizer: "BatchSizer", lookahead: "Lookahead") -> None:
        key = state.chunk_lock_key(self.spec.name)
        failures = 0
        read_at_commit = False  # the last batch read status and settings in its own transaction
        try:
            while not self.stop_event.is_set():
                status = self.status if read_at_commit else self._control(connection)
                read_at_commit = False
                if status == "cancelled":
                    self.stop_event.set()
                if status in ("cancelled", "done"):
                    return
                if status == "paused":
                    self._note_throttle("paused by operator")
                    self.stop_event.wait(POLL)
                    continue
                verdict = lookahead.verdict(self.throttle)
                self.shared.lags = verdict.lags
                if verdict.throttled:
                    self._note_throttle(verdict.reason)
                    self.stop_event.wait(POLL)
                    continue
                self._note_throttle(None)
                size = sizer.next_size(self.settings)
                started = time.monotonic()
                lookahead.check_throttle(self.throttle)  # for the next batch, while this one runs
                try:
                    size, processed, changed, finished = self._batch(connection, worker, index, chunk, size, lookahead)
                except RETRYABLE as error:
                    failures += 1
                    self.shared.retries += 1
                    sizer.shrink(self.settings)
                    self.emit({"event": "retry", "worker": worker, "error": type(error).__name__, "next_batch_size": sizer.size})
                    if failures >= MAX_CONSECUTIVE_FAILURES:
                        raise BackfillError(f"backfill {self.spec.name}: {failures} batches in a row failed "
                                            f"({type(error).__name__}); rerun the same command to resume") from None
                    self.stop_event.wait(min(5.0, 0.1 * 2 ** failures))
                    continue
                failures = 0
                read_at_commit = True
                elapsed = time.monotonic() - started
                sizer.observe(processed, elapsed)
                self.emit({"event": "batch", "worker": worker, "chunk": chunk.id, "rows": processed, "changed": changed,
                           "seconds": round(elapsed, 4), "batch_size": size, "lag": verdict.lags})
                self._respect_row_cap(processed, elapsed)
                if finished:
                    return
        finally:
            connection.execute("SELECT pg_advisory_unlock(hashtext(%s), %s)", (key, chunk.id))

    def _batch(self, connection, worker: str, index: int, chunk: Chunk, size: int,
               lookahead: "Lookahead") -> tuple[int, int, int, bool]:
        """One batch in one transaction, checkpoint included; it also reads status and settings
        for the next. Returns (batch size, rows processed, rows changed, chunk done).

        `size` is the size decided now: the batch uses it unless the lookahead already found the
        batch's upper key for a size close to it (decided one batch earlier); the next batch's
        lookahead starts with it before this batch's UPDATE.
        """
        plan = self.plan
        low = chunk.last_key or chunk.low
        decided = size
        ahead = lookahead.take(low, size, _sizing(self.settings))
        timeouts = {"lock_timeout": f"{int(self.settings['lock_timeout'])}ms",
                    "statement_timeout": f"{int(self.settings['statement_timeout'])}ms"}
        # a Python backfill's own queries keep the planner's choices
        settings = {**timeouts, **(plan.UPDATE_PLANNER_SETTINGS if self.spec.function is None else {})}
        with connection.transaction():
            connection.execute(_set_config_sql(settings, local=True))
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
                    lookahead.start(high, chunk.high, decided, _sizing(self.settings), timeouts)
            changed = 0
            if processed:
                if self.spec.function is not None:
                    changed = self.spec.function(connection, low, high) or 0
                else:
                    changed = connection.execute(plan.update_sql(low is not None), [*(low or []), *high]).rowcount
            finished = high == chunk.high
            self.status, settings_now = connection.execute(
                "WITH checkpoint AS (UPDATE migrator.backfill_chunks SET last_key = %s, rows_processed = rows_processed + %s, "
                "rows_changed = rows_changed + %s, batches = batches + 1, done = %s, heartbeat = now() "
                "WHERE backfill = %s AND id = %s), "
                "beat AS (UPDATE migrator.backfill_workers SET heartbeat = now(), state = %s WHERE backfill = %s AND worker = %s) "
                "SELECT status, settings FROM migrator.backfills WHERE name = %s",
                (high, processed, changed, finished, self.spec.name, chunk.id,
                 json.dumps({"batch_size": size, "chunk": chunk.id, "lag": self.shared.lags,
                             "throttle": self.shared.throttle_reason}), self.spec.name, worker, self.spec.name)).fetchone()
            self.settings = {**state.DEFAULTS, **settings_now}
        chunk.last_key = high
        return size, processed, changed, finished

    def _note_throttle(self, reason: str | None) -> None:
        """Record the throttle state; an event when it starts, stops or changes cause (not when a lag figure moves)."""
        if _cause(reason) != _cause(self.shared.throttle_reason):
            self.emit({"event": "throttle" if reason else "resume", "reason": reason, "lag": self.shared.lags})
        self.shared.throttle_reason = reason
        if reason:
            self.shared.throttled_seconds += POLL

    def _respect_row_cap(self, processed: int, elapsed: float) -> None:
        cap = self.settings.get("max_rows_per_sec") or 0
        if cap > 0:
            per_worker = cap / self.workers
            wait = processed / per_worker - elapsed
            if wait > 0:
                self.stop_event.wait(wait)


def _set_config_sql(settings: dict[str, str], local: bool) -> sql.Composed:
    """One statement setting every parameter: for the transaction only (local) or the session."""
    return sql.SQL("SELECT {}").format(sql.SQL(", ").join(
        sql.SQL("set_config({}, {}, {})").format(sql.Literal(name), sql.Literal(value), sql.Literal(local))
        for name, value in settings.items()))


def _sizing(settings: dict) -> tuple:
    """The settings that decide a batch's size."""
    return tuple(settings.get(name) for name in ("batch_size", "min_batch_size", "max_batch_size", "target_batch_time"))


def _cause(reason: str | None) -> str | None:
    """A throttle reason without its changing figures."""
    return None if reason is None else re.sub(r"\d+(\.\d+)?", "#", reason)


class Lookahead:
    """What the next batch needs, prepared on a second thread while the current batch runs: its
    upper key (a walk along the key index, on a second connection) and the throttle's verdict.
    The batch loop then waits for neither."""

    def __init__(self, dsn: str, plan: Plan):
        self.dsn, self.plan = dsn, plan
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="backfill-lookahead")
        self.connection: psycopg.Connection | None = None
        self.pending: tuple[list[str], int, tuple, Future] | None = None
        self.pending_verdict: Future | None = None
        self.timeouts: dict[str, str] = {}  # in force on the lookahead's connection

    def check_throttle(self, throttle: Throttle) -> None:
        self.pending_verdict = self.pool.submit(throttle.check)

    def verdict(self, throttle: Throttle):
        """The verdict read during the last batch, or a fresh one."""
        pending, self.pending_verdict = self.pending_verdict, None
        return pending.result() if pending is not None else throttle.check()

    def start(self, low: list[str], high: list[str], size: int, sizing: tuple, timeouts: dict[str, str]) -> None:
        """Look for the key `size` rows after `low` (at most `high`), under the batches' lock and
        statement timeouts; `sizing`: the settings that chose size."""
        self.pending = (low, size, sizing, self.pool.submit(self._upper_key, low, high, size, timeouts))

    def take(self, low: list[str] | None, size: int, sizing: tuple) -> tuple[int, tuple | None] | None:
        """(size, upper key or None if fewer rows are left) when the lookahead started from `low`,
        for about `size` rows (growing batches find their own key) and under the same sizing
        settings (an operator's `set` applies to the very next batch). None when there is none,
        or it failed (the batch then looks itself, and meets the error)."""
        pending, self.pending = self.pending, None
        if pending is None or pending[0] != low or pending[2] != sizing or not size / 1.5 <= pending[1] <= size * 1.5:
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
                self.connection.execute(_set_config_sql(timeouts, local=False))
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


class BatchSizer:
    """Batch size: fixed, or aimed at a target batch duration from a smoothed rows/s estimate."""

    def __init__(self, settings: dict):
        self.size = settings.get("batch_size") or INITIAL_BATCH
        self.rate: float | None = None

    def next_size(self, settings: dict) -> int:
        fixed = settings.get("batch_size") or 0
        if fixed:
            self.size = int(fixed)
            return self.size
        low, high = int(settings["min_batch_size"]), int(settings["max_batch_size"])
        if self.rate is not None:
            wanted = self.rate * settings["target_batch_time"] / 1000
            self.size = int(min(wanted, self.size * 2))  # grow at most 2x per batch
        self.size = max(low, min(high, self.size))
        return self.size

    def observe(self, rows: int, seconds: float) -> None:
        if rows <= 0 or seconds <= 0:
            return
        rate = rows / seconds
        self.rate = rate if self.rate is None else 0.7 * self.rate + 0.3 * rate

    def shrink(self, settings: dict) -> None:
        """After a timeout: a quarter of the size, and forget the optimistic rate."""
        self.size = max(int(settings["min_batch_size"]), self.size // 4)
        self.rate = None if self.rate is None else self.rate / 4
