"""Benchmark: a fleet rollout against a shell loop of single `migrator apply` calls, side by side.

N databases (default 200) on one sandbox, a history of five .sql migrations (a table, a column,
a CHECK, an index, a NOT NULL); each side gets its own fresh N databases:
(a) the loop: `for dsn in ...; do migrator apply DIR --dsn "$dsn"; done` in bash;
(b) `migrator apply DIR --fleet FILE --parallel 8` (state in the first target).
Reported: targets per second of each, and the ratio (target: at least 4x on the 2-core machine).
Then (c) the same rollout run again (every target done in the state: no target is connected to),
and (d) a new rollout over targets already at the goal (each is connected to and skipped):
milliseconds per target.

    python bench/fleet_bench.py [--databases 200] [--parallel 8] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from migrator.sandbox import Cluster
from results import report

MIGRATIONS = {
    "0001_items.sql": "CREATE TABLE items (id bigint PRIMARY KEY, v integer NOT NULL);",
    "0002_note.sql": "ALTER TABLE items ADD COLUMN note text;",
    "0003_check.sql": "ALTER TABLE items ADD CONSTRAINT items_v_positive CHECK (v > 0);",
    "0004_index.sql": "CREATE INDEX CONCURRENTLY items_v ON items (v);",
    "0005_note_not_null.sql": "UPDATE items SET note = '' WHERE note IS NULL;\nALTER TABLE items ALTER COLUMN note SET NOT NULL;",
}
CLI = [sys.executable, "-m", "migrator"]


def create_databases(cluster: Cluster, prefix: str, count: int) -> list[str]:
    names = [f"{prefix}_{number:04d}" for number in range(count)]
    for name in names:
        cluster.query(cluster.primary, f"CREATE DATABASE {name}")
    return [cluster.primary.dsn(name) for name in names]


def drop_databases(cluster: Cluster, dsns: list[str]) -> None:
    for dsn in dsns:
        cluster.query(cluster.primary, f"DROP DATABASE {dsn.rsplit('/', 1)[1]}")


def check_at_head(dsns: list[str]) -> None:
    import psycopg

    for dsn in dsns:
        with psycopg.connect(dsn) as connection:
            count = connection.execute("SELECT count(*) FROM migrator.schema_migrations").fetchone()[0]
        if count != len(MIGRATIONS):
            raise SystemExit(f"{dsn}: {count} migrations applied, expected {len(MIGRATIONS)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--databases", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "migrations"
        folder.mkdir()
        for name, text in MIGRATIONS.items():
            (folder / name).write_text(text + "\n")
        cluster = Cluster(replicas=0).start()
        try:
            loop_dsns = create_databases(cluster, "loop", args.databases)
            (root / "dsns").write_text("\n".join(loop_dsns) + "\n")
            started = time.monotonic()
            subprocess.run(["bash", "-c", f'while read -r dsn; do {" ".join(CLI)} apply {folder} --dsn "$dsn" >/dev/null '
                            f'|| exit 1; done < {root / "dsns"}'], check=True, stderr=subprocess.DEVNULL)
            loop_seconds = time.monotonic() - started
            check_at_head(loop_dsns)
            drop_databases(cluster, loop_dsns)

            fleet_dsns = create_databases(cluster, "fleet", args.databases)
            fleet = root / "fleet.toml"
            fleet.write_text("[fleet.targets]\n" + "".join(f't{i:04d} = "{dsn}"\n' for i, dsn in enumerate(fleet_dsns)))
            command = CLI + ["apply", str(folder), "--fleet", str(fleet), "--parallel", str(args.parallel), "--log-format", "json"]
            started = time.monotonic()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            fleet_seconds = time.monotonic() - started
            check_at_head(fleet_dsns)
            started = time.monotonic()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            rerun_seconds = time.monotonic() - started
            started = time.monotonic()
            subprocess.run(command + ["--rollout", "at-goal"], check=True, stdout=subprocess.DEVNULL)
            at_goal_seconds = time.monotonic() - started
            drop_databases(cluster, fleet_dsns)
        finally:
            cluster.stop()
    count = args.databases
    lines = [
        f"{count} databases, 5 migrations each (a CHECK, a CONCURRENTLY index, a SET NOT NULL); load average "
        f"{load:.1f} on {os.cpu_count()} cores at the start",
        f"shell loop of single `migrator apply`: {loop_seconds:.1f} s, {count / loop_seconds:.2f} targets/s",
        f"`migrator apply --fleet --parallel {args.parallel}`: {fleet_seconds:.1f} s, {count / fleet_seconds:.2f} targets/s",
        f"ratio: {loop_seconds / fleet_seconds:.1f}x (target >= 4x)",
        f"the same rollout again (state: all done): {rerun_seconds:.2f} s for {count} targets, including the process start",
        f"a new rollout over targets at the goal (each connected to, then skipped): {at_goal_seconds:.2f} s, "
        f"{1000 * at_goal_seconds / count:.0f} ms per target",
    ]
    report("fleet_bench", lines, record=not args.no_record)


if __name__ == "__main__":
    main()
