"""Benchmark: `migrator backfill` against one UPDATE and the hand-written `WHERE col IS NULL LIMIT n` loop.

Side by side in one run on a sandbox primary plus one streaming replica:
  1. one `UPDATE t SET len = length(body)` over the whole table (the speed ceiling);
  2. the common loop `UPDATE ... WHERE id IN (SELECT id ... WHERE len IS NULL LIMIT 5000)`, with
     LIMIT written as a literal (as in a psql script) and, beside it, bound as a parameter;
  3. `migrator backfill` with throttling off (one worker, the default; and --workers 2, reported
     beside it).
Targets: backfill >= 90% of the single UPDATE's rows/s, >= 10x the loop, peak memory under 150 MB
and flat as rows grow. A second scenario slows the replica's replay (recovery_min_apply_delay)
and reports the lag kept with `--max-lag 1s` (target: never above 1.5 s). A third pauses replay
2 s into a run (`--max-lag 1s --max-rows-per-sec 30000`, 300k rows), idle and with both cores
busy, and reports the time from the true lag crossing 1 s (time since the primary's WAL
position passed the replica's replay position) to the last write, and the rows written after
it (targets: at most 1 s and one batch).

    python bench/backfill_bench.py            # 1M rows
    python bench/backfill_bench.py --rows 10000000
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time

import psycopg

from backfill import BackfillSpec, Runner, state
from backfill.throttle import lsn_to_int
from migrator.sandbox import Cluster
from results import report

MEMORY_PROBE = """
import resource, sys
from migrator.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def make_table(dsn: str, name: str, rows: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {name}")
        connection.execute(f"CREATE TABLE {name} (id bigint PRIMARY KEY, body text NOT NULL, len int)")
        connection.execute(f"INSERT INTO {name} SELECT g, md5(g::text), NULL FROM generate_series(1, %s) g", (rows,))
        connection.execute(f"VACUUM ANALYZE {name}")
        connection.execute("CHECKPOINT")  # every method starts from the same clean state


def single_update(dsn: str, table: str) -> float:
    with psycopg.connect(dsn, autocommit=True) as connection:
        start = time.perf_counter()
        connection.execute(f"UPDATE {table} SET len = length(body)")
        return time.perf_counter() - start


def handwritten_loop(dsn: str, table: str, batch: int = 5_000, bound: bool = False) -> float:
    """The loop as usually written: LIMIT n as a literal, as in a psql script. With bound=True,
    LIMIT is a bind parameter and psycopg prepares the statement after five runs; PostgreSQL
    then plans it differently (and, on this table, about twice as fast)."""
    statement = f"UPDATE {table} SET len = length(body) WHERE id IN (SELECT id FROM {table} WHERE len IS NULL LIMIT {{}})"
    with psycopg.connect(dsn, autocommit=True) as connection:
        start = time.perf_counter()
        if bound:
            while connection.execute(statement.format("%s"), (batch,)).rowcount:
                pass
        else:
            while connection.execute(statement.format(batch)).rowcount:
                pass
        return time.perf_counter() - start


def migrator_backfill(dsn: str, table: str, workers: int = 1) -> float:
    start = time.perf_counter()
    Runner(BackfillSpec(f"bench_{table}", table, {"len": "length(body)"}), dsn, settings={"max_lag": 3_600_000},
           workers=workers).run()
    return time.perf_counter() - start


def peak_memory_mb(dsn: str, table: str) -> float:
    """Peak RSS of a `migrator backfill run` process."""
    result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, "backfill", "run", f"mem_{table}", "--dsn", dsn,
                             "--table", table, "--set", "len = length(body)", "--max-lag", "1h", "--log-format", "json"],
                            capture_output=True, text=True)
    line = [l for l in result.stderr.splitlines() if l.startswith("MAXRSS_KB")][-1]
    return int(line.split()[1]) / 1024


def lag_scenario(cluster: Cluster, dsn: str, table: str, delay_ms: int = 1200) -> tuple[float, float]:
    """Backfill with replay delayed; the largest replay_lag PostgreSQL reports while it runs."""
    replica = cluster.replica_nodes[0]
    cluster.set_apply_delay(replica, delay_ms)
    observed = []
    done = threading.Event()

    def observe():
        with psycopg.connect(dsn, autocommit=True) as connection:
            while not done.is_set():
                row = connection.execute("SELECT EXTRACT(epoch FROM replay_lag), pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) "
                                         "FROM pg_stat_replication").fetchone()
                if row and row[0] is not None and row[1] and row[1] > 0:
                    observed.append(float(row[0]))
                time.sleep(0.05)

    watcher = threading.Thread(target=observe, daemon=True)
    watcher.start()
    try:
        start = time.perf_counter()
        Runner(BackfillSpec(f"lag_{table}", table, {"len": "length(body)"}), dsn,
               settings={"max_lag": 1000, "target_batch_time": 100}).run()
        elapsed = time.perf_counter() - start
    finally:
        done.set()
        watcher.join()
        cluster.set_apply_delay(replica, 0)
    return max(observed, default=0.0), elapsed


def replay_paused_scenario(cluster: Cluster, dsn: str, table: str, busy: bool) -> tuple[float, int, int]:
    """Replay paused 2 s into a run: (seconds from the true lag crossing --max-lag to the last
    write, rows written after it, the largest batch). WAL position and progress every 10 ms."""
    replica = cluster.replica_nodes[0]
    samples: list[tuple[float, int, int]] = []  # (monotonic, WAL position, rows processed)
    done = threading.Event()
    name = f"paused_{table}"

    def observe():
        with psycopg.connect(dsn, autocommit=True) as connection:
            state.ensure_schema(connection)
            while not done.is_set():
                at = time.monotonic()
                lsn, rows = connection.execute(
                    "SELECT pg_current_wal_lsn()::text, (SELECT coalesce(sum(rows_processed), 0) FROM migrator.backfill_chunks "
                    "WHERE backfill = %s)", (name,)).fetchone()
                samples.append((at, lsn_to_int(lsn), int(rows)))
                done.wait(0.01)

    batches: list[int] = []
    runner = Runner(BackfillSpec(name, table, {"len": "length(body)"}), dsn,
                    settings={"max_lag": 1000, "max_rows_per_sec": 30_000},
                    emit=lambda event: batches.append(event["rows"]) if event["event"] == "batch" else None)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 if busy else 0)]
    watcher = threading.Thread(target=observe, daemon=True)
    worker = threading.Thread(target=runner.run, daemon=True)
    try:
        watcher.start()
        worker.start()
        while not samples or samples[-1][2] < 60_000:
            time.sleep(0.01)
        cluster.pause_replay(replica)
        while cluster.query(replica, "SELECT pg_get_wal_replay_pause_state()")[0][0] != "paused":
            time.sleep(0.01)
        stuck = lsn_to_int(cluster.replay_lsn(replica))
        while not samples or samples[-1][1] <= stuck:
            time.sleep(0.01)
        before, after = next((a, b) for a, b in zip(samples, samples[1:]) if b[1] > stuck >= a[1])
        passed = before[0] + (after[0] - before[0]) * (stuck - before[1]) / (after[1] - before[1])
        time.sleep(max(0.0, passed + 4.0 - time.monotonic()))
    finally:
        runner.stop()
        cluster.resume_replay(replica)
        worker.join()
        done.set()
        watcher.join()
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    crossed = passed + 1.0
    final = samples[-1][2]
    last_write = next(at for at, _, rows in samples if rows == final)
    at_crossing = max((rows for at, _, rows in samples if at <= crossed), default=0)
    return last_write - crossed, final - at_crossing, max(batches, default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    rows = args.rows
    with Cluster(replicas=1) as cluster:
        dsn = cluster.primary.dsn()
        samples: dict[str, list[float]] = {"single UPDATE": [], "migrator backfill": [], "hand-written loop": [],
                                           "migrator backfill --workers 2": [], "hand-written loop, bound LIMIT": []}
        for round_number in range(args.runs):  # interleaved, so machine noise hits every method alike
            for number, method in enumerate(samples):
                if method.startswith("hand-written loop") and round_number:
                    continue  # quadratic and slow: once is enough to compare
                table = f"t_{round_number}_{number}"
                make_table(dsn, table, rows)
                cluster.wait_for_replay(cluster.replica_nodes[0])
                if method == "single UPDATE":
                    samples[method].append(single_update(dsn, table))
                elif method.startswith("migrator backfill"):
                    samples[method].append(migrator_backfill(dsn, table, workers=2 if "workers" in method else 1))
                else:
                    samples[method].append(handwritten_loop(dsn, table, bound="bound" in method))
                with psycopg.connect(dsn, autocommit=True) as connection:
                    connection.execute(f"DROP TABLE {table}")
        timings = {method: statistics.median(values) for method, values in samples.items()}
        for method, values in samples.items():
            print(f"  {method}: " + ", ".join(f"{v:.2f}" for v in values) + " s", flush=True)
        small = max(rows // 4, 1000)
        make_table(dsn, "t_mem_small", small)
        make_table(dsn, "t_mem_large", rows)
        memory_small, memory_large = peak_memory_mb(dsn, "t_mem_small"), peak_memory_mb(dsn, "t_mem_large")
        lag_rows = min(rows, 1_000_000)
        make_table(dsn, "t_lag", lag_rows)
        cluster.wait_for_replay(cluster.replica_nodes[0])
        max_lag_seen, lag_elapsed = lag_scenario(cluster, dsn, "t_lag")
        paused = {}
        for load in ("idle", "busy"):
            make_table(dsn, f"t_paused_{load}", 300_000)
            cluster.wait_for_replay(cluster.replica_nodes[0])
            paused[load] = replay_paused_scenario(cluster, dsn, f"t_paused_{load}", busy=load == "busy")
    rate = {method: rows / seconds for method, seconds in timings.items()}
    lines = [
        f"{rows:,} rows, median of {args.runs} interleaved runs; rows/s: "
        + ", ".join(f"{m} {r:,.0f} ({timings[m]:.2f} s)" for m, r in rate.items()),
        f"backfill vs single UPDATE: {rate['migrator backfill'] / rate['single UPDATE']:.0%} (target >= 90%); "
        f"with --workers 2: {rate['migrator backfill --workers 2'] / rate['single UPDATE']:.0%}",
        f"backfill vs hand-written loop (literal LIMIT 5000, as in a psql script): "
        f"{rate['migrator backfill'] / rate['hand-written loop']:.1f}x (target >= 10x); that loop against the single UPDATE: "
        f"{timings['hand-written loop'] / timings['single UPDATE']:.1f}x slower; with LIMIT bound as a parameter: "
        f"{rate['migrator backfill'] / rate['hand-written loop, bound LIMIT']:.1f}x",
        f"peak memory of `migrator backfill run`: {memory_small:.0f} MB at {small:,} rows, {memory_large:.0f} MB at {rows:,} rows (target < 150 MB, flat)",
        f"replay delayed 1.2 s, --max-lag 1s: largest replay_lag seen {max_lag_seen:.2f} s (target <= 1.5 s); "
        f"{lag_rows:,} rows in {lag_elapsed:.1f} s",
        "replay paused 2 s into 300,000 rows, --max-lag 1s --max-rows-per-sec 30000: last write after the true lag "
        "crossed 1 s / rows written after it (targets <= 1 s, <= one batch): " + "; ".join(
            f"{load} {stop:+.2f} s / {rows:,} rows (largest batch {batch:,})" for load, (stop, rows, batch) in paused.items()),
    ]
    report("backfill_bench", lines, record=not args.no_record)


if __name__ == "__main__":
    main()
