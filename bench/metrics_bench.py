"""Benchmark: what `--metrics-port` costs a backfill, side by side.

On a sandbox primary plus one streaming replica, `migrator backfill run` fills a column over the
same table with and without `--metrics-port`; with metrics, a scraper reads /metrics every second
(as Prometheus would) and, in a third variant, ten times a second. Runs are interleaved in
rounds whose order alternates, and each variant is compared with the run without metrics of the
same round: the figure is the median of those ratios, for the runner's own elapsed time (the
summary's seconds) and for the CPU time of the runner's process (less disturbed by other load on
the machine). Target: metrics at one scrape a second add under 2%.

    python bench/metrics_bench.py              # 1M rows, 5 rounds
    python bench/metrics_bench.py --rows 300000 --runs 9
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import threading
import urllib.request

import psycopg

from migrator.sandbox import Cluster, free_port
from results import report


def make_table(dsn: str, rows: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS items")
        connection.execute("DROP SCHEMA IF EXISTS migrator CASCADE")
        connection.execute("CREATE TABLE items (id bigint PRIMARY KEY, body text NOT NULL, len int)")
        connection.execute("INSERT INTO items SELECT g, md5(g::text), NULL FROM generate_series(1, %s) g", (rows,))
        connection.execute("VACUUM ANALYZE items")
        connection.execute("CHECKPOINT")


def backfill(dsn: str, scrape_interval: float | None) -> tuple[float, float]:
    """(seconds the runner took, CPU seconds of its process); scrape_interval None: no metrics endpoint."""
    command = [sys.executable, "-m", "migrator", "backfill", "run", "bench", "--table", "items", "--set", "len = length(body)",
               "--log-format", "json", "--dsn", dsn]
    stop = threading.Event()
    if scrape_interval is not None:
        port = free_port()
        command += ["--metrics-port", str(port), "--metrics-addr", "127.0.0.1", "--metrics-linger", "0"]

        def scrape() -> None:
            while not stop.wait(scrape_interval):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
                except OSError:
                    pass

        threading.Thread(target=scrape, daemon=True).start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    finally:
        stop.set()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return json.loads(result.stdout.splitlines()[-1])["seconds"], cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    options = parser.parse_args()
    variants = {"no metrics": None, "scraped every 1 s": 1.0, "scraped every 0.1 s": 0.1}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    with Cluster(replicas=1) as cluster:
        dsn = cluster.primary.dsn()
        for round_number in range(options.runs):
            order = list(variants.items()) if round_number % 2 == 0 else list(reversed(variants.items()))
            for name, interval in order:
                make_table(dsn, options.rows)
                runs[name].append(backfill(dsn, interval))

    def overhead(name: str, index: int) -> float:
        return statistics.median(run[index] / base[index] for run, base in zip(runs[name], runs["no metrics"])) * 100 - 100

    lines = [f"{options.rows:,} rows, {options.runs} rounds, median runner seconds / runner CPU seconds: "
             + ", ".join(f"{name} {statistics.median(r[0] for r in values):.2f} / {statistics.median(r[1] for r in values):.2f}"
                         for name, values in runs.items()),
             f"metrics overhead against the same round without metrics (median of the ratios), elapsed / CPU: "
             f"scraped every 1 s {overhead('scraped every 1 s', 0):+.1f}% / {overhead('scraped every 1 s', 1):+.1f}% (target < 2%); "
             f"every 0.1 s {overhead('scraped every 0.1 s', 0):+.1f}% / {overhead('scraped every 0.1 s', 1):+.1f}%",
             "elapsed of every run: " + "; ".join(f"{name} " + ", ".join(f"{r[0]:.2f}" for r in values) for name, values in runs.items())]
    report("metrics_bench", lines, record=not options.no_record)


if __name__ == "__main__":
    main()
