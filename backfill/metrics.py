"""Prometheus metrics of a running backfill (`migrator backfill run --metrics-port PORT`).

A collector reads, at each scrape, the same state in the database that `migrator backfill
status` reads (rows, batches, status, workers), so the two always agree, plus what only this
runner knows: the lag it throttles on, why it is throttled, its batch sizes and retries. Batch
durations are observed as the batches finish.
"""

from __future__ import annotations

import threading

import psycopg
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from backfill import state
from backfill.runner import connect
from backfill.spec import BackfillError

WAL_POSITION = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"
STATUSES = ("running", "paused", "done", "failed", "cancelled")
# The throttle's reason as a label: a fixed set (the reason's text carries changing figures).
REASONS = {"paused by operator": "operator", "replica ": "replica_lag", "WAL rate": "wal_rate",
           "throttle query": "throttle_query", "cannot read": "lag_unreadable"}


def reason_label(reason: str | None) -> str:
    """The throttle reason's class: operator, replica_lag, wal_rate, throttle_query, replica_health, ..."""
    if reason is None:
        return ""
    first = reason.split("; ")[0]
    if first.startswith("replica ") and " lag " not in first:
        return "replica_health"
    return next((label for prefix, label in REASONS.items() if first.startswith(prefix)), "other")


class BackfillMetrics:
    """The metrics of one runner, in a registry of their own; `observe` is the runner's emit hook."""

    def __init__(self, runner, dsn: str):
        self.runner = runner
        self.dsn = dsn
        self.registry = CollectorRegistry(auto_describe=True)
        self.batch_seconds = Histogram(
            "migrator_backfill_batch_duration_seconds", "Duration of each batch (its one transaction).", ["backfill"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10, 30), registry=self.registry)
        self.registry.register(self)
        self._lock = threading.Lock()
        self._connection: psycopg.Connection | None = None
        self._ended = threading.Event()
        self._scraped_after_end = threading.Event()
        self._start_lsn = self._primary().execute(WAL_POSITION).fetchone()[0]  # WAL is counted from here

    def observe(self, event: dict) -> None:
        if event["event"] == "batch":
            self.batch_seconds.labels(self.runner.spec.name).observe(event["seconds"])

    def serve(self, port: int, address: str = "") -> None:
        """Serve /metrics over HTTP on a daemon thread."""
        metrics_app = make_wsgi_app(self.registry)

        def app(environ, start_response):
            ended = self._ended.is_set()  # before the state is read: that state is then the final one
            return _Body(metrics_app(environ, start_response), self._scraped_after_end.set if ended else None)

        server = make_server(address, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, name="backfill-metrics", daemon=True).start()

    def linger(self, timeout: float) -> None:
        """The run has ended: wait until a scrape has read its final state (done, failed, ...),
        at most timeout seconds, so that it reaches Prometheus before the endpoint goes away."""
        self._ended.set()
        self._scraped_after_end.wait(timeout)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- the collector -----------------------------------------------------------------------
    def describe(self):
        return []

    def collect(self):
        name = self.runner.spec.name
        with self._lock:
            try:
                read = self._read()
            except (psycopg.Error, BackfillError):
                self.close()
                read = None
        up = GaugeMetricFamily("migrator_backfill_state_readable",
                               "1 when the backfill's state could be read at this scrape (0 also before it starts).",
                               labels=["backfill"])
        up.add_metric([name], 0 if read is None else 1)
        yield up
        if read is None:
            return
        record, totals, replicas, wal = read
        labels = [name]

        def gauge(metric, text, value, extra_labels=(), extra_values=()):
            family = GaugeMetricFamily(metric, text, labels=["backfill", *extra_labels])
            family.add_metric([*labels, *extra_values], value)
            return family

        def counter(metric, text, value):
            family = CounterMetricFamily(metric, text, labels=["backfill"])
            family.add_metric(labels, value)
            return family

        yield counter("migrator_backfill_rows", "Rows processed (checkpointed), as `backfill status` shows them.",
                      totals["rows_processed"])
        yield counter("migrator_backfill_rows_changed", "Rows whose value the backfill changed.", totals["rows_changed"])
        yield gauge("migrator_backfill_rows_estimated", "Estimated rows in the backfill's key range.",
                    max(record["estimated_rows"], totals["rows_processed"]))
        yield counter("migrator_backfill_batches", "Batches committed.", totals["batches"])
        status = GaugeMetricFamily("migrator_backfill_status", "1 for the backfill's current status.",
                                   labels=["backfill", "status"])
        for value in STATUSES:
            status.add_metric([name, value], 1 if record["status"] == value else 0)
        yield status
        yield counter("migrator_backfill_errors", "Errors that stopped the backfill (it is failed).",
                      1 if record["status"] == "failed" else 0)
        yield gauge("migrator_backfill_workers", "Workers alive (on every machine).", len(totals["workers"]))
        shared = self.runner.shared
        yield gauge("migrator_backfill_batch_size", "Rows in the latest batch of this runner's workers.",
                    max(shared.batch_sizes.values(), default=0))
        yield counter("migrator_backfill_retries", "Batches retried after a lock or statement timeout or deadlock.",
                      shared.retries)
        reason = shared.throttle_reason
        throttled = GaugeMetricFamily("migrator_backfill_throttled", "1 while new batches wait, with the reason's class.",
                                      labels=["backfill", "reason"])
        throttled.add_metric([name, reason_label(reason)], 1 if reason else 0)
        yield throttled
        yield gauge("migrator_backfill_throttled_seconds", "Seconds this runner has waited on its throttle.",
                    shared.throttled_seconds)
        lag_seconds = GaugeMetricFamily("migrator_backfill_replica_lag_seconds",
                                        "Replication lag the throttle reads, per replica.", labels=["backfill", "replica"])
        for replica, seconds in sorted((shared.lags or {}).items()):
            lag_seconds.add_metric([name, replica], seconds)
        yield lag_seconds
        lag_bytes = GaugeMetricFamily("migrator_backfill_replica_lag_bytes",
                                      "WAL bytes the replica has yet to replay (pg_stat_replication).",
                                      labels=["backfill", "replica"])
        for replica, behind in replicas:
            lag_bytes.add_metric([name, replica], behind)
        yield lag_bytes
        yield counter("migrator_backfill_wal_bytes", "WAL the primary wrote since this runner started (all sessions).", wal)

    def _primary(self) -> psycopg.Connection:
        if self._connection is None or self._connection.closed:
            self._connection = connect(self.dsn, application_name="migrator backfill metrics",
                                       options="-c statement_timeout=5000")
        return self._connection

    def _read(self) -> tuple | None:
        """(record, totals, [(replica, bytes behind)], WAL bytes since serve()), or None before the backfill exists."""
        connection = self._primary()
        name = self.runner.spec.name
        record = state.load(connection, name) if state.exists_schema(connection) else None
        if record is None:
            return None
        totals = state.progress(connection, name)
        current, replicas = connection.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, coalesce((SELECT array_agg(ARRAY["
            "application_name, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text]) "
            "FROM pg_stat_replication WHERE application_name <> '' AND replay_lsn IS NOT NULL), '{}')").fetchone()
        return record, totals, [(row[0], int(row[1])) for row in replicas], current - self._start_lsn


class _Body(list):
    """A response body; the WSGI server calls close() once it has written it."""

    def __init__(self, chunks, on_written):
        super().__init__(chunks)
        self.on_written = on_written

    def close(self) -> None:
        if self.on_written is not None:
            self.on_written()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # no access log on the runner's output
        pass
