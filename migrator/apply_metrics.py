"""Prometheus metrics of `migrator apply`: served while it runs (`--metrics-port`, for long steps
such as index builds and validations) or pushed to a Pushgateway at each step (`--pushgateway`,
for a short-lived pipeline job).

The running step is published with the time it started, so `time() - migrator_apply_step_started_timestamp_seconds`
is its elapsed time in PromQL even between two pushes.
"""

from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, push_to_gateway, start_http_server


class ApplyMetrics:
    """Metrics fed by the executor's events; `observe` is chained into apply's emit."""

    def __init__(self, pushgateway: str | None = None, job: str = "migrator_apply"):
        self.pushgateway, self.job = pushgateway, job
        self.registry = CollectorRegistry()
        self.applied = Counter("migrator_apply_migrations_applied", "Migrations applied by this run.", registry=self.registry)
        self.steps = Counter("migrator_apply_steps", "Steps that finished.", registry=self.registry)
        self.retries = Counter("migrator_apply_retries", "Transactions retried after a lock timeout or deadlock.",
                               registry=self.registry)
        self.step_seconds = Histogram("migrator_apply_step_duration_seconds", "Duration of each finished step.",
                                      buckets=(0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600), registry=self.registry)
        self.running = Gauge("migrator_apply_step_started_timestamp_seconds",
                             "Start time of the step running now (none between steps), named as in apply's events "
                             "(followup: '' if not one; file: an Alembic revision's, '' for SQL).",
                             ["migration", "step", "followup", "file"], registry=self.registry)
        self.finished = Gauge("migrator_apply_finished_timestamp_seconds", "When this run ended; 0 while it runs.",
                              registry=self.registry)
        self.succeeded = Gauge("migrator_apply_success", "1 when this run ended with every pending migration applied.",
                               registry=self.registry)
        self._lock = threading.Lock()
        self.push_error: str | None = None

    def serve(self, port: int, address: str = "") -> None:
        start_http_server(port, address, registry=self.registry)

    def observe(self, event: dict) -> None:
        kind = event["event"]
        with self._lock:
            if kind == "step":
                self.running.clear()
                self.running.labels(event["migration"], str(event["step"]), str(event["followup"] or ""),
                                    event.get("file", "")).set(time.time())
            elif kind == "step_done":
                self.running.clear()
                self.steps.inc()
                self.step_seconds.observe(event["seconds"])
            elif kind == "retry":
                self.retries.inc()
            elif kind == "done":
                self.applied.inc()
            else:
                return
        self.push()

    def end(self, success: bool) -> None:
        with self._lock:
            self.running.clear()
            self.finished.set(time.time())
            self.succeeded.set(1 if success else 0)
        self.push()

    def push(self, check: bool = False) -> None:
        """Push to the Pushgateway, if any. A failure is kept in push_error (a migration is never
        stopped by its metrics), or raised as OSError when check is true (before anything runs)."""
        if not self.pushgateway:
            return
        try:
            push_to_gateway(self.pushgateway, job=self.job, registry=self.registry, timeout=5)
        except OSError as error:
            if check:
                raise
            self.push_error = str(error)
