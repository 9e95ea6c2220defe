"""Throttling on replication lag, WAL rate and a custom query: fails closed, with hysteresis.

Lag is measured with one clock, the runner's: every check samples the primary's WAL position,
and a replica's lag is how long ago the primary first had WAL the replica has not replayed yet
(PostgreSQL's own lag tracker works this way). An idle primary therefore reads as no lag, and
paused replay keeps growing the lag. The replica's replay position comes from
pg_stat_replication on the primary (as of the replica's last reply), or from the replica itself
when its DSN is given. A source that cannot be read pauses the runner and says why.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

import psycopg

from migrator.errors import first_line


@dataclass
class Verdict:
    throttled: bool
    reason: str | None
    lags: dict[str, float] = field(default_factory=dict)  # replica name -> seconds
    wal_rate: float = 0.0  # bytes/s


def lsn_to_int(lsn: str | None) -> int | None:
    if lsn is None:
        return None
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


class Throttle:
    """Decides before each batch whether the runner may go on. Thread-safe; checks are cached briefly."""

    def __init__(self, dsn: str, replica_dsns: list[str] | None = None, settings_source=None,
                 min_interval: float = 0.1, window: float = 60.0):
        self.dsn = dsn
        self.replica_dsns = list(replica_dsns or [])
        self.present_at_start: set[str] | None = None
        self.settings_source = settings_source  # callable -> current settings dict
        self.min_interval = min_interval
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.window = window
        self.throttled_by: str | None = None
        self._lock = threading.Lock()
        self._last: Verdict | None = None
        self._last_at = 0.0
        self._connection: psycopg.Connection | None = None
        self._replica_connections: dict[str, psycopg.Connection | None] = {}

    # -- public ----------------------------------------------------------------------------
    def check(self) -> Verdict:
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last_at < self.min_interval:
                return self._last
            settings = self.settings_source() if self.settings_source else {}
            try:
                verdict = self._evaluate(settings, now)
            except psycopg.Error as error:
                self._reset_connection()
                verdict = Verdict(True, f"cannot read the primary's replication state: {first_line(error)}")
            self._last, self._last_at = verdict, now
            return verdict

    def close(self) -> None:
        self._reset_connection()
        for connection in self._replica_connections.values():
            if connection is not None:
                connection.close()

    # -- evaluation --------------------------------------------------------------------------
    def _evaluate(self, settings: dict, now: float) -> Verdict:
        connection = self._primary()
        current = lsn_to_int(connection.execute("SELECT pg_current_wal_lsn()").fetchone()[0])
        self.samples.append((now, current))
        while len(self.samples) > 2 and self.samples[0][0] < now - self.window:
            self.samples.popleft()
        lags, problems = self._lags(connection, now, settings.get("expected_replicas"))
        wal_rate = self._wal_rate(now)
        max_lag = settings.get("max_lag", 1000) / 1000
        reasons = list(problems)
        worst = max(lags.values(), default=0.0)
        if self.throttled_by == "lag" and worst >= max_lag / 2 or worst > max_lag:
            name = max(lags, key=lags.get)
            reasons.append(f"replica {name} lag {worst:.2f}s > {max_lag:g}s" if worst > max_lag
                           else f"replica {name} lag {worst:.2f}s, waiting for it to fall below {max_lag / 2:g}s")
        cap = settings.get("max_wal_rate", 0) * 1_000_000
        if cap and (wal_rate > cap or self.throttled_by == "wal" and wal_rate > cap / 2):
            reasons.append(f"WAL rate {wal_rate / 1e6:.1f} MB/s above {cap / 1e6:g} MB/s")
        query = settings.get("throttle_query")
        if query:
            try:
                with connection.transaction():
                    row = connection.execute(query).fetchone()
                if row and row[0]:
                    reasons.append("throttle query returned true")
            except psycopg.Error as error:
                reasons.append(f"throttle query failed: {first_line(error)}")
        if problems:
            self.throttled_by = "health"
        elif any(r.startswith("replica") for r in reasons):
            self.throttled_by = "lag"
        elif any(r.startswith("WAL") for r in reasons):
            self.throttled_by = "wal"
        else:
            self.throttled_by = "query" if reasons else None
        return Verdict(bool(reasons), "; ".join(reasons) or None, lags, wal_rate)

    def _lag_of(self, replay_lsn: int, now: float) -> float:
        """Seconds since the primary first had WAL beyond replay_lsn (0 when caught up)."""
        for sampled_at, lsn in self.samples:
            if lsn > replay_lsn:
                return now - sampled_at
        return 0.0

    def _lags(self, connection: psycopg.Connection, now: float, expected: int | list[str] | None) -> tuple[dict[str, float], list[str]]:
        """Lag per replica, and what makes the lag unreadable. `expected`: a count of replicas or
        their names that must stay connected; by default those connected at the first check."""
        lags: dict[str, float] = {}
        problems: list[str] = []
        if self.replica_dsns:
            for dsn in self.replica_dsns:
                name = _describe(dsn)
                try:
                    replica = self._replica(dsn)
                    paused_lsn, receiver = replica.execute(
                        "SELECT pg_last_wal_replay_lsn(), (SELECT status FROM pg_stat_wal_receiver)").fetchone()
                except psycopg.Error as error:
                    self._replica_connections[dsn] = None
                    problems.append(f"replica {name} unreachable: {first_line(error)}")
                    continue
                if paused_lsn is None:
                    problems.append(f"replica {name} is not a standby (pg_last_wal_replay_lsn() is NULL)")
                    continue
                if receiver != "streaming":
                    problems.append(f"replica {name} is not streaming (WAL receiver: {receiver or 'none'})")
                lags[name] = self._lag_of(lsn_to_int(paused_lsn), now)
            return lags, problems
        rows = connection.execute(
            "SELECT application_name, state, replay_lsn FROM pg_stat_replication WHERE application_name <> ''").fetchall()
        seen = set()
        for name, state, replay_lsn in rows:
            seen.add(name)
            if replay_lsn is None:
                problems.append(f"replica {name}: replay position not visible (needs pg_monitor)")
                continue
            if state != "streaming":
                problems.append(f"replica {name} is {state}")
            lags[name] = self._lag_of(lsn_to_int(replay_lsn), now)
        if self.present_at_start is None:
            self.present_at_start = seen
        if isinstance(expected, int):
            if len(seen) < expected:
                problems.append(f"{len(seen)} of {expected} expected replicas in pg_stat_replication "
                                f"({', '.join(sorted(seen)) or 'none'}): stopped or disconnected")
            return lags, problems
        for name in sorted((set(expected) if expected is not None else self.present_at_start) - seen):
            problems.append(f"replica {name} is gone from pg_stat_replication (stopped or disconnected)")
        return lags, problems

    def _wal_rate(self, now: float, span: float = 3.0) -> float:
        recent = [(t, lsn) for t, lsn in self.samples if t >= now - span]
        if len(recent) < 2 or recent[-1][0] - recent[0][0] < 0.5:
            return 0.0
        return (recent[-1][1] - recent[0][1]) / (recent[-1][0] - recent[0][0])

    # -- connections -------------------------------------------------------------------------
    def _primary(self) -> psycopg.Connection:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5,
                                               options="-c statement_timeout=5000")
        return self._connection

    def _replica(self, dsn: str) -> psycopg.Connection:
        connection = self._replica_connections.get(dsn)
        if connection is None or connection.closed:
            connection = psycopg.connect(dsn, autocommit=True, connect_timeout=3, options="-c statement_timeout=3000")
            self._replica_connections[dsn] = connection
        return connection

    def _reset_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None


def _describe(dsn: str) -> str:
    """host:port of a DSN, for messages (never its password)."""
    from migrator.dsn import describe_dsn

    return describe_dsn(dsn)
