"""Throttling on replication lag, WAL rate and a custom query, sampled on their own clock; fails closed.

A sampler thread reads, every SAMPLE_INTERVAL on its own connections, the primary's WAL position
and each replica's replay position (from pg_stat_replication on the primary, or from the replica
itself when its DSN is given). A replica's lag is how long ago the primary's WAL position passed
the replica's replay position, interpolated between samples as PostgreSQL's own lag tracker does:
it reads 0 on an idle primary with caught-up replicas and keeps growing while replay is paused.
(`replay_lag` in pg_stat_replication is not used: it stops moving while replay is paused.) The
throttle query runs on a second thread, once a second, in a read-only transaction under a short
statement timeout. A source that cannot be read throttles, and says why.

decide() turns a sample and the settings into a verdict and reads no database. A batch asks for
the verdict as it starts (Throttle.verdict): it is never older than one sampling interval, the
call waiting for the next sample when the sampler falls behind.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

import psycopg
from sqlglot.tokens import TokenType

from backfill.spec import BackfillError
from migrator.dsn import describe_dsn
from migrator.errors import first_line
from migrator.sqltext import tokenize

SAMPLE_INTERVAL = 0.1  # seconds between lag samples
QUERY_INTERVAL = 1.0  # seconds between runs of the throttle query (as gh-ost runs its throttle query)
QUERY_TIMEOUT_MS = 500  # the throttle query's statement timeout
RATE_WINDOW = 3.0  # seconds of WAL positions the WAL rate is measured over
HISTORY_LIMIT = 100_000  # WAL positions kept for paused replicas (2.8 h of samples); older ones read as that old


@dataclass
class Sample:
    """What the sampler saw at one moment."""

    taken_at: float  # time.monotonic() when the primary's WAL position was read
    lags: dict[str, float] = field(default_factory=dict)  # replica name -> seconds
    connected: set[str] = field(default_factory=set)  # application names in pg_stat_replication
    problems: list[str] = field(default_factory=list)  # sources that could not be read
    wal_rate: float = 0.0  # bytes/s over the last RATE_WINDOW


@dataclass
class QueryResult:
    """The throttle query's last answer."""

    query: str
    taken_at: float
    value: bool = False
    error: str | None = None


@dataclass
class Verdict:
    throttled: bool
    reason: str | None
    cause: str | None = None  # health | lag | wal | query: what throttles, for the next decision's hysteresis
    lags: dict[str, float] = field(default_factory=dict)
    wal_rate: float = 0.0  # bytes/s


def decide(sample: Sample, settings: dict, query: QueryResult | None = None, previous: str | None = None,
           now: float | None = None) -> Verdict:
    """The verdict on `sample` under `settings` (max_lag ms, max_wal_rate MB/s, expected_replicas,
    throttle_query). `previous`: the cause of the last verdict: lag releases below half of max_lag,
    the WAL rate below 90% of its cap. `query`: the throttle query's last result (`now`: when it is
    read; a result older than three query intervals, or for another query, throttles)."""
    reasons = list(sample.problems)
    expected = settings.get("expected_replicas")
    if isinstance(expected, int):
        if len(sample.connected) < expected:
            reasons.append(f"{len(sample.connected)} of {expected} expected replicas in pg_stat_replication "
                           f"({', '.join(sorted(sample.connected)) or 'none'}): stopped or disconnected")
    else:
        for name in sorted(set(expected or ()) - sample.connected):
            reasons.append(f"replica {name} is gone from pg_stat_replication (stopped or disconnected)")
    health = bool(reasons)
    max_lag = settings.get("max_lag", 1000) / 1000
    worst = max(sample.lags.values(), default=0.0)
    lagging = worst > max_lag or (previous == "lag" and worst >= max_lag / 2)
    if lagging:
        name = max(sample.lags, key=sample.lags.get)
        reasons.append(f"replica {name} lag {worst:.2f}s > {max_lag:g}s" if worst > max_lag
                       else f"replica {name} lag {worst:.2f}s, waiting for it to fall below {max_lag / 2:g}s")
    cap = (settings.get("max_wal_rate") or 0) * 1_000_000
    too_much_wal = bool(cap) and (sample.wal_rate > cap or (previous == "wal" and sample.wal_rate > 0.9 * cap))
    if too_much_wal:
        reasons.append(f"WAL rate {sample.wal_rate / 1e6:.1f} MB/s above {cap / 1e6:g} MB/s")
    wanted = settings.get("throttle_query")
    if wanted:
        now = time.monotonic() if now is None else now
        if query is None or query.query != wanted:
            reasons.append("throttle query not run yet")
        elif now - query.taken_at > 3 * QUERY_INTERVAL + QUERY_TIMEOUT_MS / 1000:
            reasons.append(f"throttle query has no answer for {now - query.taken_at:.1f}s")
        elif query.error:
            reasons.append(f"throttle query failed: {query.error}")
        elif query.value:
            reasons.append("throttle query returned true")
    cause = "health" if health else "lag" if lagging else "wal" if too_much_wal else "query" if reasons else None
    return Verdict(bool(reasons), "; ".join(reasons) or None, cause, dict(sample.lags), sample.wal_rate)


def lsn_to_int(lsn: str | None) -> int | None:
    if lsn is None:
        return None
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


class WalHistory:
    """The primary's WAL positions over time: when it passed a position, and its WAL rate."""

    def __init__(self):
        self.points: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, at: float, lsn: int, oldest_needed: int | None) -> None:
        """Record a position; forget those older than RATE_WINDOW that no replica's lag needs
        (`oldest_needed`: the smallest replay position; None when there is none)."""
        self.points.append((at, lsn))
        while len(self.points) > 2 and self.points[0][0] < at - RATE_WINDOW and (
                len(self.points) > HISTORY_LIMIT or oldest_needed is None or self.points[1][1] <= oldest_needed):
            self.points.popleft()

    def passed(self, position: int) -> float | None:
        """When the primary's WAL position first passed `position` (None: not yet), interpolated
        between the two samples around it; the oldest sample's time if it was already past."""
        previous = None
        for at, lsn in self.points:
            if lsn > position:
                if previous is None or previous[1] >= lsn:
                    return at
                return previous[0] + (at - previous[0]) * (position - previous[1]) / (lsn - previous[1])
            previous = (at, lsn)
        return None

    def rate(self) -> float:
        """Bytes/s over the last RATE_WINDOW (0 until it spans half a second)."""
        last_at, last_lsn = self.points[-1]
        first = next((p for p in self.points if p[0] >= last_at - RATE_WINDOW), None)
        if first is None or last_at - first[0] < 0.5:
            return 0.0
        return (last_lsn - first[1]) / (last_at - first[0])


class Throttle:
    """Samples lag on its own thread and connections; batches ask verdict(settings) as they start.

    start() takes the first sample before it returns; close() stops the threads. `latest` is the
    last sample (for metrics). `replica_dsns`: read replay positions from these replicas instead
    of pg_stat_replication. With no expected_replicas setting, those in pg_stat_replication at the
    first sample are expected.
    """

    def __init__(self, dsn: str, replica_dsns: list[str] | None = None, interval: float = SAMPLE_INTERVAL):
        self.dsn = dsn
        self.replica_dsns = list(replica_dsns or [])
        self.interval = interval
        self.latest: Sample | None = None
        self.query: str | None = None  # the throttle query the query thread runs
        self.query_result: QueryResult | None = None
        self.present_at_start: set[str] | None = None
        self.cause: str | None = None
        self._history = WalHistory()
        self._fresh = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sample_loop, name="backfill-lag-sampler", daemon=True),
                         threading.Thread(target=self._query_loop, name="backfill-throttle-query", daemon=True)]

    # -- public ----------------------------------------------------------------------------
    def start(self, query: str | None = None) -> "Throttle":
        """Start sampling; return after the first sample (and the throttle `query`'s first answer)."""
        self.query = query
        for thread in self._threads:
            thread.start()
        with self._fresh:
            self._fresh.wait_for(lambda: self.latest is not None and (not query or self.query_result is not None), timeout=15)
        return self

    def close(self) -> None:
        self._stop.set()
        with self._fresh:
            self._fresh.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()

    def verdict(self, settings: dict) -> Verdict:
        """The verdict for a batch starting now, from a sample at most one interval old (waiting
        up to a second for one; throttled if none comes)."""
        self.query = settings.get("throttle_query") or None
        with self._fresh:
            fresh = self._fresh.wait_for(
                lambda: self._stop.is_set() or (self.latest is not None and time.monotonic() - self.latest.taken_at <= self.interval),
                timeout=1.0)
            sample = self.latest
        if not fresh or sample is None or self._stop.is_set():
            age = "none taken" if sample is None else f"the last is {time.monotonic() - sample.taken_at:.1f}s old"
            return Verdict(True, f"no fresh lag sample ({age})", "health")
        expected = settings.get("expected_replicas")
        if expected is None:
            expected = sorted(self.present_at_start or ())
        verdict = decide(sample, {**settings, "expected_replicas": expected}, self.query_result, self.cause)
        self.cause = verdict.cause
        return verdict

    # -- the sampler -------------------------------------------------------------------------
    def _sample_loop(self) -> None:
        connections: dict[str, psycopg.Connection] = {}
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                sample = self._sample(connections)
                with self._fresh:
                    self.latest = sample
                    if self.present_at_start is None and not sample.problems:
                        self.present_at_start = set(sample.connected)
                    self._fresh.notify_all()
                next_at = max(next_at + self.interval, time.monotonic())
                self._stop.wait(next_at - time.monotonic())
        finally:
            for connection in connections.values():
                connection.close()

    def _sample(self, connections: dict[str, psycopg.Connection]) -> Sample:
        taken_at = time.monotonic()
        try:
            primary = _connection(connections, self.dsn, 5000)
            rows = primary.execute(
                "SELECT pg_current_wal_lsn()::text, application_name, state, replay_lsn::text FROM (SELECT 1) AS one "
                "LEFT JOIN pg_stat_replication ON application_name <> ''").fetchall()
        except psycopg.Error as error:
            _drop(connections, self.dsn)
            return Sample(taken_at, problems=[f"cannot read the primary's replication state: {first_line(error)}"])
        sample = Sample(taken_at, connected={name for _, name, _, _ in rows if name is not None})
        positions: dict[str, int] = {}
        if self.replica_dsns:
            for dsn in self.replica_dsns:
                name = describe_dsn(dsn)
                try:
                    replay, receiver = _connection(connections, dsn, 3000).execute(
                        "SELECT pg_last_wal_replay_lsn()::text, (SELECT status FROM pg_stat_wal_receiver)").fetchone()
                except psycopg.Error as error:
                    _drop(connections, dsn)
                    sample.problems.append(f"replica {name} unreachable: {first_line(error)}")
                    continue
                if replay is None:
                    sample.problems.append(f"replica {name} is not a standby (pg_last_wal_replay_lsn() is NULL)")
                    continue
                if receiver != "streaming":
                    sample.problems.append(f"replica {name} is not streaming (WAL receiver: {receiver or 'none'})")
                positions[name] = lsn_to_int(replay)
        else:
            for _, name, state, replay in rows:
                if name is None:
                    continue
                if replay is None:
                    sample.problems.append(f"replica {name}: replay position not visible (needs pg_monitor)")
                    continue
                if state != "streaming":
                    sample.problems.append(f"replica {name} is {state}")
                positions[name] = lsn_to_int(replay)
        self._history.add(taken_at, lsn_to_int(rows[0][0]), min(positions.values(), default=None))
        now = time.monotonic()
        for name, position in positions.items():
            passed = self._history.passed(position)
            sample.lags[name] = 0.0 if passed is None else max(0.0, now - passed)
        sample.wal_rate = self._history.rate()
        return sample

    # -- the throttle query --------------------------------------------------------------------
    def _query_loop(self) -> None:
        connections: dict[str, psycopg.Connection] = {}
        try:
            while not self._stop.is_set():
                query = self.query
                if query:
                    taken_at = time.monotonic()
                    try:
                        value, error = run_throttle_query(_connection(connections, self.dsn, 5000), query), None
                    except BackfillError as failure:
                        value, error = False, str(failure)
                        _drop(connections, self.dsn)
                    with self._fresh:
                        self.query_result = QueryResult(query, taken_at, value, error)
                        self._fresh.notify_all()
                self._stop.wait(QUERY_INTERVAL)
        finally:
            for connection in connections.values():
                connection.close()


def run_throttle_query(connection: psycopg.Connection, query: str) -> bool:
    """The throttle query's answer: true in the first column of its first row. It runs in a
    read-only transaction that is rolled back, under a QUERY_TIMEOUT_MS statement timeout, and
    must return a boolean; BackfillError (one line) says why not."""
    if any(token.token_type == TokenType.SEMICOLON for token in tokenize(query.strip().rstrip(";"))):
        raise BackfillError("throttle_query must be a single query, not statements (found ';')")
    try:
        with connection.transaction(force_rollback=True):
            connection.execute("SET TRANSACTION READ ONLY")
            connection.execute(f"SET LOCAL statement_timeout = {QUERY_TIMEOUT_MS}")
            cursor = connection.execute(query)
            if cursor.description is None or cursor.description[0].type_code != psycopg.adapters.types["bool"].oid:
                raise BackfillError("throttle_query must return a boolean first column (true pauses)")
            row = cursor.fetchone()
    except psycopg.Error as error:
        raise BackfillError(f"throttle_query: {first_line(error)}") from None
    return bool(row and row[0])


def _connection(connections: dict[str, psycopg.Connection], dsn: str, timeout_ms: int) -> psycopg.Connection:
    connection = connections.get(dsn)
    if connection is None or connection.closed:
        connection = psycopg.connect(dsn, autocommit=True, connect_timeout=3, options=f"-c statement_timeout={timeout_ms}",
                                     application_name="migrator backfill throttle")
        connections[dsn] = connection
    return connection


def _drop(connections: dict[str, psycopg.Connection], dsn: str) -> None:
    connection = connections.pop(dsn, None)
    if connection is not None:
        connection.close()

