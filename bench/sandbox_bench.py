"""Benchmark: how long a sandbox (primary + one streaming replica) takes to come up and go away.

Baseline, side by side in the same run: a bare single server (initdb + pg_ctl start + stop) made
with the same binaries through the same code path (a sandbox with no replica). Target: the
session cluster up in under 10 s. Prints the figures and appends them to bench/RESULTS.md.

    python bench/sandbox_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from migrator.sandbox import Cluster, find_pg_bin, pg_major_version
from results import report


def cycle(replicas: int) -> tuple[float, float]:
    start = time.perf_counter()
    cluster = Cluster(replicas=replicas).start()
    up = time.perf_counter() - start
    cluster.stop()
    return up, time.perf_counter() - start - up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    samples = {0: [], 1: []}
    for _ in range(args.runs):
        for replicas in (0, 1):
            samples[replicas].append(cycle(replicas))
    single_up = statistics.median(s[0] for s in samples[0])
    pair_up = statistics.median(s[0] for s in samples[1])
    pair_down = statistics.median(s[1] for s in samples[1])
    lines = [
        f"PostgreSQL {pg_major_version(find_pg_bin())} from {find_pg_bin()}",
        f"primary + 1 replica up: {pair_up:.2f} s (target < 10 s); torn down in {pair_down:.2f} s",
        f"single server up (baseline): {single_up:.2f} s; replica overhead {pair_up / single_up:.2f}x",
    ]
    report("sandbox_bench", lines, record=not args.no_record)


if __name__ == "__main__":
    main()
