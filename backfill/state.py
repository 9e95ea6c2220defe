"""Backfill state in the target database (schema `migrator`): definitions, chunks, workers, settings.

Living in the database, it is what operators change from any machine (`pause`, `set`, ...), what
workers coordinate through, and what a restarted runner resumes from.
"""

from __future__ import annotations

import json
import math

import psycopg

from backfill.spec import BackfillError

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS migrator;
CREATE TABLE IF NOT EXISTS migrator.backfills (
    name text PRIMARY KEY,
    fingerprint text NOT NULL,
    definition jsonb NOT NULL,
    table_name text NOT NULL,
    key_columns jsonb NOT NULL,
    range_high text[],
    frontier text[],
    frontier_done boolean NOT NULL DEFAULT false,
    estimated_rows bigint NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'running',
    settings jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    error text
);
CREATE TABLE IF NOT EXISTS migrator.backfill_chunks (
    backfill text NOT NULL REFERENCES migrator.backfills (name) ON DELETE CASCADE,
    id integer NOT NULL,
    low text[],
    high text[] NOT NULL,
    last_key text[],
    rows_processed bigint NOT NULL DEFAULT 0,
    rows_changed bigint NOT NULL DEFAULT 0,
    batches integer NOT NULL DEFAULT 0,
    done boolean NOT NULL DEFAULT false,
    worker text,
    heartbeat timestamptz,
    PRIMARY KEY (backfill, id)
);
CREATE TABLE IF NOT EXISTS migrator.backfill_workers (
    backfill text NOT NULL REFERENCES migrator.backfills (name) ON DELETE CASCADE,
    worker text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat timestamptz NOT NULL DEFAULT now(),
    state jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (backfill, worker)
);
-- state tables made by an earlier migrator gain what came since
ALTER TABLE migrator.backfills ADD COLUMN IF NOT EXISTS error text;
"""

# Settings an operator may change while a backfill runs (`migrator backfill set NAME key=value`).
SETTINGS = {
    "batch_size": "fixed rows per batch (`adaptive` or empty: adaptive sizing)",
    "target_batch_time": "adaptive sizing aims at this batch duration, e.g. 200ms",
    "min_batch_size": "smallest adaptive batch",
    "max_batch_size": "largest adaptive batch",
    "max_lag": "replication lag that stops new batches, e.g. 1s (resumes below half)",
    "max_wal_rate": "WAL generation cap in MB/s (0: none)",
    "max_rows_per_sec": "row rate cap (0: none)",
    "throttle_query": "SQL returning true to pause (read-only, 500ms statement timeout)",
    "expected_replicas": "replicas that must stay in pg_stat_replication: a count (2) or names (a,b); "
                         "empty: those there at the first start",
    "lock_timeout": "per batch, e.g. 2s",
    "statement_timeout": "per batch, e.g. 30s",
}
DEFAULTS = {
    "batch_size": None, "target_batch_time": 200, "min_batch_size": 100, "max_batch_size": 100_000,
    "max_lag": 1000, "max_wal_rate": 0.0, "max_rows_per_sec": 0.0, "throttle_query": None, "expected_replicas": None,
    "lock_timeout": 2000, "statement_timeout": 30_000, "chunk_rows": 500_000,
}
DURATION_SETTINGS = {"target_batch_time", "max_lag", "lock_timeout", "statement_timeout"}
RATE_SETTINGS = {"max_wal_rate", "max_rows_per_sec"}  # 0: no cap
BEAT_INTERVAL = 1.0  # seconds between a waiting worker's heartbeats
MAX_INT = 2_147_483_647  # PostgreSQL's largest timeout (ms) and our largest row count
_SCHEMA_LOCK = 7_326_001  # advisory lock id serialising the CREATE ... IF NOT EXISTS above


def runner_lock_key(name: str) -> str:
    return f"migrator.backfill.runner:{name}"


def chunk_lock_key(name: str) -> str:
    return f"migrator.backfill.chunk:{name}"


def ensure_schema(connection: psycopg.Connection) -> None:
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        connection.execute(SCHEMA_SQL)


def parse_setting(key: str, value: str):
    """A setting's value from text (`backfill set`), checked by check_settings."""
    from migrator.durations import parse_duration

    if key not in SETTINGS:
        raise BackfillError(f"unknown setting {key!r} (known: {', '.join(SETTINGS)})")
    if key == "throttle_query":
        return value or None
    if key == "expected_replicas":
        return parse_expected_replicas(value)
    if key == "batch_size" and value.lower() in ("", "adaptive"):
        return None
    try:
        if key in DURATION_SETTINGS:
            return parse_duration(value)
        return float(value) if key in RATE_SETTINGS else int(value)
    except ValueError as error:
        detail = str(error) if key in DURATION_SETTINGS else "not a valid number"
        raise BackfillError(f"{key}={value!r}: {detail}") from None


def check_settings(settings: dict, option: bool = False) -> None:
    """The one set of rules for control values, at start and at `set`: BackfillError names the
    first bad one, as a command-line option (`option`) or as key=value."""
    def name(key: str) -> str:
        return f"--{key.replace('_', '-')} {settings[key]}" if option else f"{key}={settings[key]}"

    for key, value in settings.items():
        if value is None and key in ("batch_size", "throttle_query", "expected_replicas"):
            continue
        if key in RATE_SETTINGS:
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1e12:
                raise BackfillError(f"{name(key)}: must be a number from 0 (no cap) to 1e12")
        elif key in DURATION_SETTINGS or key in ("batch_size", "min_batch_size", "max_batch_size", "chunk_rows"):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
                unit = "ms" if key in DURATION_SETTINGS else ""
                hint = ((" (leave it out" if option else " (`adaptive`") + " for adaptive sizing)") if key == "batch_size" else " (0 would mean none)" if unit else ""
                raise BackfillError(f"{name(key)}: must be from 1{unit} to {MAX_INT}{unit}{hint}")
        elif key == "expected_replicas" and isinstance(value, int) and value < 0:
            raise BackfillError(f"{name(key)}: must be a count of 0 or more, or names")
    low, high = settings.get("min_batch_size"), settings.get("max_batch_size")
    if low is not None and high is not None and high < low:
        raise BackfillError(f"{name('max_batch_size')}: below min_batch_size {low}")


def parse_expected_replicas(value: str, where: str = "expected_replicas") -> int | list[str] | None:
    """A count of replicas ("2") or their application names ("a,b"); None for empty."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return int(value)
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise BackfillError(f"{where} {value!r}: a count, or application names separated by commas")
    return names


def load(connection: psycopg.Connection, name: str) -> dict | None:
    row = connection.execute(
        "SELECT name, fingerprint, definition, table_name, key_columns, range_high, frontier, frontier_done, "
        "estimated_rows, status, settings, created_at, finished_at, error FROM migrator.backfills WHERE name = %s",
        (name,)).fetchone()
    if row is None:
        return None
    keys = ("name", "fingerprint", "definition", "table", "key_columns", "range_high", "frontier", "frontier_done",
            "estimated_rows", "status", "settings", "created_at", "finished_at", "error")
    return dict(zip(keys, row))


def exists_schema(connection: psycopg.Connection) -> bool:
    return connection.execute("SELECT to_regclass('migrator.backfills') IS NOT NULL").fetchone()[0]


def progress(connection: psycopg.Connection, name: str) -> dict:
    rows_processed, rows_changed, batches, chunks, open_chunks = connection.execute(
        "SELECT coalesce(sum(rows_processed), 0), coalesce(sum(rows_changed), 0), coalesce(sum(batches), 0), count(*), "
        "count(*) FILTER (WHERE NOT done) FROM migrator.backfill_chunks WHERE backfill = %s", (name,)).fetchone()
    workers = connection.execute(
        "SELECT w.worker, w.host, w.pid, w.state, extract(epoch FROM now() - w.heartbeat), "
        "EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = (w.state->>'backend_pid')::int) OR w.state->'backend_pid' IS NULL "
        "FROM migrator.backfill_workers w WHERE w.backfill = %s ORDER BY w.worker", (name,)).fetchall()
    return {"rows_processed": int(rows_processed), "rows_changed": int(rows_changed), "batches": int(batches),
            "chunks": chunks, "open_chunks": open_chunks,
            "workers": [{"worker": w, "host": h, "pid": p, "state": s, "seen_s_ago": float(a), "connected": c}
                        for w, h, p, s, a, c in workers]}


def heartbeat_due(settings: dict) -> float:
    """Seconds within which a live worker beats: every BEAT_INTERVAL between batches, and at each
    batch's checkpoint, whose statements may each run up to statement_timeout."""
    return BEAT_INTERVAL + settings["statement_timeout"] / 1000


def worker_condition(worker: dict, status: str, settings: dict) -> str:
    """What a worker (a row of progress()) is doing, as far as the database can tell: gone when its
    connection is, not responding when its heartbeat is overdue, else paused, throttled or running."""
    if not worker["connected"]:
        return "gone: its connection to the database closed (runner killed?)"
    if worker["seen_s_ago"] > heartbeat_due(settings):
        return f"not responding: no heartbeat for {worker['seen_s_ago']:.1f}s (due within {heartbeat_due(settings):.1f}s)"
    if status == "paused":
        return "paused"
    throttle = (worker["state"] or {}).get("throttle")
    return f"throttled: {throttle}" if throttle else "running"


def set_status(connection: psycopg.Connection, name: str, status: str, allowed_from: tuple[str, ...]) -> str:
    """Change a backfill's status if it is in one of allowed_from; returns the status it had."""
    row = connection.execute("SELECT status FROM migrator.backfills WHERE name = %s FOR UPDATE", (name,)).fetchone() \
        if exists_schema(connection) else None
    if row is None:
        raise BackfillError(f"no backfill named {name!r} in this database (see `migrator backfill list`)")
    if row[0] not in allowed_from:
        raise BackfillError(f"backfill {name} is {row[0]}: cannot make it {status}")
    connection.execute("UPDATE migrator.backfills SET status = %s, error = NULL, updated_at = now() WHERE name = %s",
                       (status, name))
    return row[0]


def record_failure(connection: psycopg.Connection, name: str, error: str) -> None:
    """Mark a backfill failed with its error (list and status show it; running it again resumes it)."""
    connection.execute("UPDATE migrator.backfills SET status = 'failed', error = %s, updated_at = now() "
                       "WHERE name = %s AND status IN ('running', 'paused')", (error, name))


def runner_alive(connection: psycopg.Connection, name: str) -> bool:
    """Whether a runner of this backfill holds its runner lock (is alive, on any machine)."""
    return connection.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid::bigint = (hashtext(%s)::bigint >> 32) & 4294967295 AND objid::bigint = hashtext(%s)::bigint & 4294967295)",
        (runner_lock_key(name), runner_lock_key(name))).fetchone()[0]


def format_setting(key: str, value) -> str:
    """A setting's value as `backfill set` takes it: durations with their unit, names with commas."""
    from migrator.durations import format_duration

    if value is None:
        return "adaptive" if key == "batch_size" else "none"
    if key in DURATION_SETTINGS:
        return format_duration(value)
    if isinstance(value, list):
        return ",".join(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_key(values: list[str] | None, key_columns: list) -> str:
    """Key values as a person writes them: 10000, or (3, 'abc') for a composite key."""
    if values is None:
        return "none"
    numeric = ("smallint", "integer", "bigint", "numeric", "real", "double precision")
    parts = [value if type_.split("(")[0] in numeric else "'" + value.replace("'", "''") + "'"
             for value, (_, type_) in zip(values, key_columns)]
    return parts[0] if len(parts) == 1 else f"({', '.join(parts)})"


def update_settings(connection: psycopg.Connection, name: str, changes: dict) -> dict:
    """Apply `changes` to a backfill's settings, checked together with those in force."""
    if not exists_schema(connection) or load(connection, name) is None:
        raise BackfillError(f"no backfill named {name!r} in this database (see `migrator backfill list`)")
    with connection.transaction():
        current = connection.execute("SELECT settings FROM migrator.backfills WHERE name = %s FOR UPDATE", (name,)).fetchone()[0]
        check_settings({**DEFAULTS, **current, **changes})
        return connection.execute(
            "UPDATE migrator.backfills SET settings = settings || %s::jsonb, updated_at = now() WHERE name = %s RETURNING settings",
            (json.dumps(changes), name)).fetchone()[0]
