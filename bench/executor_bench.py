"""Benchmark: `migrator apply` against plain `alembic upgrade` on the same revisions, side by side.

(a) While a transaction holds ACCESS SHARE on the table for --hold seconds, a reader queries it
    20 times a second; the longest stall it sees while each tool adds a column (target for
    migrator: at most the lock timeout plus 10%; plain Alembic queues for as long as the holder holds).
(b) The overhead of `migrator apply` over `alembic upgrade head` for 50 small revisions
    (target: at most 15%), median of interleaved runs.

(c) With --instructions (needs valgrind): the instructions each client executes for (b), counted
    by callgrind, which machine noise does not move, beside those of `import sqlglot` alone.
(d) Long reader (issue 15): a transaction holds ACCESS SHARE for --long-hold seconds (20) while a
    reader queries 20 times a second and `migrator apply` adds a column (ACCESS EXCLUSIVE) with
    --lock-timeout 5s (the default) and 1s: the reader's worst stall (target: at most the longest
    try's lock timeout + 10%), its reads per second against a run with no migration, over the hold
    and until apply ends (target: at least 80%), and when apply ends after the holder lets go.

    python bench/executor_bench.py [--hold 6] [--long-hold 20] [--runs 3] [--instructions]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from migrator.sandbox import Cluster
from results import report

PLAIN_ENV = """from alembic import context
from sqlalchemy import create_engine

with create_engine(context.config.get_main_option("sqlalchemy.url")).connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
"""


def make_project(root: Path, dsn: str, revisions: int, table: str) -> Path:
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic" / "env.py").write_text(PLAIN_ENV)
    (root / "alembic.ini").write_text(
        f"[alembic]\nscript_location = %(here)s/alembic\nsqlalchemy.url = {dsn.replace('postgresql://', 'postgresql+psycopg://')}\n")
    down = None
    for number in range(1, revisions + 1):
        revision = f"r{number:03d}"
        (versions / f"{revision}.py").write_text(
            f'from alembic import op\nimport sqlalchemy as sa\n\nrevision = "{revision}"\ndown_revision = {down!r}\n\n\n'
            f'def upgrade():\n    op.add_column("{table}", sa.Column("c{number}", sa.Integer))\n\n\ndef downgrade():\n    pass\n')
        down = revision
    return root / "alembic.ini"


def fresh_database(cluster: Cluster, name: str) -> str:
    cluster.query(cluster.primary, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    cluster.query(cluster.primary, f"CREATE DATABASE {name}")
    dsn = cluster.primary.dsn(name)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE TABLE items (id bigint PRIMARY KEY)")
        connection.execute("INSERT INTO items SELECT generate_series(1, 1000)")
    return dsn


def upgrade_command(tool: str, ini: Path, dsn: str) -> list[str]:
    if tool == "alembic":
        return [sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"]
    return [sys.executable, "-m", "migrator", "apply", str(ini), "--dsn", dsn, "--lock-timeout", "1s",
            "--attempts", "1000", "--deadline", "5m"]


@dataclass
class HeldRun:
    """A 20 Hz reader while a transaction holds ACCESS SHARE: its reads (start, end), and when the
    hold began and ended and the command (if any) exited, all on the monotonic clock."""

    reads: list[tuple[float, float]]
    started: float
    released: float
    finished: float
    output: str

    @property
    def worst_stall(self) -> float:
        return max(end - start for start, end in self.reads)

    def read_rate(self, until: float) -> float:
        """Reads served per second from the start of the hold until `until`."""
        return sum(self.started < end <= until for _, end in self.reads) / (until - self.started)


def run_under_holder(cluster: Cluster, name: str, hold: float, command=None) -> HeldRun:
    """Hold ACCESS SHARE on items for `hold` s with a reader going; run command(ini, dsn) meanwhile
    (None: only the holder and the reader, for `hold` s)."""
    dsn = fresh_database(cluster, name)
    with tempfile.TemporaryDirectory() as folder:
        ini = make_project(Path(folder), dsn, 1, "items")
        holder = psycopg.connect(dsn)
        holder.execute("SELECT count(*) FROM items").fetchone()
        released = threading.Event()
        reads, stop = [], threading.Event()

        def release():
            holder.commit()
            released.set()

        def read():
            with psycopg.connect(dsn, autocommit=True) as connection:
                while not stop.is_set():
                    started = time.monotonic()
                    connection.execute("SELECT count(*) FROM items WHERE id < 10").fetchone()
                    reads.append((started, time.monotonic()))
                    stop.wait(0.05)

        reader = threading.Thread(target=read, daemon=True)
        timer = threading.Timer(hold, release)
        reader.start()
        started = time.monotonic()
        timer.start()
        output = ""
        try:
            if command is None:
                released.wait()
            else:
                output = subprocess.run(command(ini, dsn), capture_output=True, text=True, check=True, timeout=600).stdout
            finished = time.monotonic()
        finally:
            timer.join()
            holder.close()
            stop.set()
            reader.join()
    return HeldRun(reads, started, started + hold, finished, output)


def longest_stall(cluster: Cluster, tool: str, hold: float) -> float:
    return run_under_holder(cluster, f"stall_{tool}", hold, lambda ini, dsn: upgrade_command(tool, ini, dsn)).worst_stall


def long_reader(cluster: Cluster, hold: float, lock_timeout: str, baseline: HeldRun) -> str:
    """(d): one apply under a long holder, against the baseline run with no migration."""
    run = run_under_holder(cluster, f"long_reader_{lock_timeout}", hold, lambda ini, dsn: [
        sys.executable, "-m", "migrator", "apply", str(ini), "--dsn", dsn, "--lock-timeout", lock_timeout, "--log-format", "json"])
    tries = [event["lock_timeout_ms"] for event in map(json.loads, run.output.splitlines())
             if event["event"] == "step" and event["sql"].startswith("ALTER")]  # not Alembic's own version-table reads
    idle = baseline.read_rate(baseline.released)
    during_hold, until_applied = run.read_rate(run.released) / idle, run.read_rate(run.finished) / idle
    target = max(tries) / 1000 * 1.1
    return (f"--lock-timeout {lock_timeout}, holder {hold:g} s: {len(tries)} tries (lock timeouts "
            f"{', '.join(f'{t / 1000:g}' for t in tries)} s); worst stall {run.worst_stall:.2f} s (target <= {target:.2f} s); "
            f"reads served vs no migration: {during_hold:.0%} during the hold, {until_applied:.0%} until apply ended "
            f"(target >= 80%); apply ended {run.finished - run.released:.1f} s after the holder let go")


def overhead(cluster: Cluster, runs: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {"alembic": [], "migrator": []}
    for run in range(runs):
        for tool in samples:
            dsn = fresh_database(cluster, f"many_{tool}_{run}")
            with tempfile.TemporaryDirectory() as folder:
                ini = make_project(Path(folder), dsn, 50, "items")
                started = time.perf_counter()
                subprocess.run(upgrade_command(tool, ini, dsn), capture_output=True, check=True, timeout=300)
                samples[tool].append(time.perf_counter() - started)
    return {tool: statistics.median(values) for tool, values in samples.items()}


def instructions(command: list[str]) -> int:
    """Instructions the client process executes, counted by callgrind."""
    result = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
                            capture_output=True, text=True, check=True, timeout=600)
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))


def client_instructions(cluster: Cluster) -> dict[str, int]:
    counts = {}
    for tool in ("alembic", "migrator"):
        dsn = fresh_database(cluster, f"count_{tool}")
        with tempfile.TemporaryDirectory() as folder:
            counts[tool] = instructions(upgrade_command(tool, make_project(Path(folder), dsn, 50, "items"), dsn))
    counts["import sqlglot"] = instructions([sys.executable, "-c", "import sqlglot"]) - instructions([sys.executable, "-c", "pass"])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=6.0)
    parser.add_argument("--long-hold", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--instructions", action="store_true", help="also count client instructions with valgrind")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    # Byte-compile both sides as installed packages are (this environment sets PYTHONDONTWRITEBYTECODE).
    import alembic

    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(alembic.__file__).parent),
                    *(str(root / p) for p in ("migrator", "lint_rules", "backfill"))], check=True)
    with Cluster(replicas=0) as cluster:
        stall = {tool: longest_stall(cluster, tool, args.hold) for tool in ("alembic", "migrator")}
        baseline = run_under_holder(cluster, "long_reader_baseline", args.long_hold)
        long_reads = [long_reader(cluster, args.long_hold, lock_timeout, baseline) for lock_timeout in ("5s", "1s")]
        times = overhead(cluster, args.runs)
        counts = client_instructions(cluster) if args.instructions else None
    lines = [
        f"lock holder for {args.hold:g} s, 20 Hz reader, longest stall: alembic upgrade {stall['alembic']:.2f} s, "
        f"migrator apply {stall['migrator']:.2f} s (lock timeout 1 s; target <= 1.1 s)",
        *(f"long reader, 20 Hz (no migration: {baseline.read_rate(baseline.released):.1f} reads/s): {line}" for line in long_reads),
        f"50 small revisions: alembic upgrade {times['alembic']:.2f} s, migrator apply {times['migrator']:.2f} s, "
        f"overhead {times['migrator'] / times['alembic'] - 1:+.0%} (target <= +15%)",
    ]
    if counts:
        lines.append(f"client instructions for the 50 revisions (callgrind): alembic upgrade {counts['alembic'] / 1e9:.2f} G, "
                     f"migrator apply {counts['migrator'] / 1e9:.2f} G ({counts['migrator'] / counts['alembic'] - 1:+.0%}); "
                     f"`import sqlglot` alone: {counts['import sqlglot'] / 1e9:.2f} G")
    report("executor_bench", lines, record=not args.no_record)


if __name__ == "__main__":
    main()
