"""A load generator: K client threads running a steady mix of point reads and writes on a table.

Each operation's latency is recorded, so a test can assert "no reader waited more than X" and a
benchmark can report p50/p99. Bounded in time: it stops by itself after `max_duration`.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Sample:
    kind: str
    started: float  # time.monotonic() when the operation began
    latency: float  # seconds
    error: str | None = None


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class LoadGenerator:
    """Point reads and writes against `table` at `rate` operations/s in total, over `clients` threads."""

    def __init__(self, dsn: str, table: str, key: str = "id", clients: int = 4, rate: float = 200.0,
                 mix: dict[str, float] | None = None, max_duration: float = 120.0,
                 update_set: str | None = None, insert_sql: str | None = None, statement_timeout_ms: int = 30_000):
        self.dsn = dsn
        self.clients = clients
        self.rate = rate
        self.mix = mix or {"read": 0.8, "update": 0.2}
        self.max_duration = max_duration
        self.statement_timeout_ms = statement_timeout_ms
        table_id, key_id = sql.Identifier(*table.split(".")), sql.Identifier(key)
        self.statements = {
            "read": sql.SQL("SELECT * FROM {} WHERE {} = %s").format(table_id, key_id),
            "update": sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
                table_id, sql.SQL(update_set) if update_set else sql.SQL("{0} = {0}").format(key_id), key_id),
            "delete": sql.SQL("DELETE FROM {} WHERE {} = %s").format(table_id, key_id),
            "insert": sql.SQL(insert_sql) if insert_sql else sql.SQL("INSERT INTO {} DEFAULT VALUES").format(table_id),
        }
        unknown = set(self.mix) - set(self.statements)
        if unknown:
            raise ValueError(f"unknown operation kinds in mix: {', '.join(sorted(unknown))}")
        with psycopg.connect(dsn, autocommit=True) as connection:
            low, high = connection.execute(sql.SQL("SELECT min({0}), max({0}) FROM {1}").format(key_id, table_id)).fetchone()
        self.key_range = (low or 0, high or 0)
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "LoadGenerator":
        self._deadline = time.monotonic() + self.max_duration
        for number in range(self.clients):
            thread = threading.Thread(target=self._client, args=(number,), daemon=True, name=f"load-{number}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.statement_timeout_ms / 1000 + 5)

    def __enter__(self) -> "LoadGenerator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _client(self, number: int) -> None:
        rng = random.Random(number)
        kinds, weights = zip(*self.mix.items())
        interval = self.clients / self.rate
        next_at = time.monotonic()
        try:
            connection = psycopg.connect(self.dsn, autocommit=True, options=f"-c statement_timeout={self.statement_timeout_ms}")
        except psycopg.Error as error:
            self._record(Sample("connect", time.monotonic(), 0.0, str(error).strip()))
            return
        with connection:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                kind = rng.choices(kinds, weights)[0]
                key = rng.randint(*self.key_range)
                started = time.monotonic()
                error = None
                try:
                    connection.execute(self.statements[kind], () if kind == "insert" else (key,))
                except psycopg.Error as failure:
                    error = type(failure).__name__
                self._record(Sample(kind, started, time.monotonic() - started, error))
                next_at += interval
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _record(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def latencies(self, kind: str) -> list[float]:
        return [s.latency for s in self.samples if s.kind == kind and s.error is None]

    def max_latency(self, kind: str = "read") -> float:
        return max(self.latencies(kind), default=0.0)

    def errors(self) -> list[Sample]:
        return [s for s in self.samples if s.error]

    def stats(self) -> dict[str, dict[str, float]]:
        """Per operation kind: count, errors, p50, p99 and max latency in seconds."""
        result = {}
        for kind in {s.kind for s in self.samples}:
            values = self.latencies(kind)
            result[kind] = {
                "count": len(values), "errors": sum(1 for s in self.samples if s.kind == kind and s.error),
                "p50": percentile(values, 0.5), "p99": percentile(values, 0.99), "max": max(values, default=0.0),
            }
        return result
