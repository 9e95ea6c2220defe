"""Benchmark: a fleet rollout against a shell loop of single `migrator apply` calls, side by side.

N databases (default 200) on one sandbox, a history of five .sql migrations (a table, a column,
a CHECK, an index, a NOT NULL); each side gets its own fresh N databases:
(a) the loop: `for dsn in ...; do migrator apply DIR --dsn "$dsn"; done` in bash;
(b) `migrator apply DIR --fleet FILE --parallel 8` (state in the first target).
Reported: targets per second of each, and the ratio (target: at least 4x on the 2-core machine).
Then (c) the same rollout run again (every target done in the state: no target is connected to),
and (d) a new rollout over targets already at the goal (each is connected to and skipped):
milliseconds per target.
With --tenants N: (e) an Alembic project of five revisions rolled out to N tenant schemas of one
database (--targets-query), at --parallel 1 and at --parallel P: targets per second and the ratio
(each tenant has its own deploy lock: P of them at once).

    python bench/fleet_bench.py [--databases 200] [--parallel 8] [--tenants 1000] [--no-record]
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
TENANT_ENV = """from alembic import context
from sqlalchemy import engine_from_config, pool

with engine_from_config(context.config.get_section(context.config.config_ini_section), prefix="sqlalchemy.",
                        poolclass=pool.NullPool).connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""
TENANT_REVISIONS = [
    'op.create_table("accounts", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("plan", sa.Text))',
    'op.add_column("accounts", sa.Column("seats", sa.Integer))',
    'op.create_index("accounts_plan", "accounts", ["plan"])',
    'op.create_check_constraint("accounts_seats_positive", "accounts", "seats > 0")',
    'op.add_column("accounts", sa.Column("region", sa.Text, server_default="eu"))',
]


def tenant_project(root: Path, dsn: str, revisions: list[str] = TENANT_REVISIONS) -> Path:
    """An Alembic project whose revisions t1, t2, ... run `revisions` (op calls) in order; its alembic.ini."""
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic" / "env.py").write_text(TENANT_ENV)
    (root / "alembic.ini").write_text(f"[alembic]\nscript_location = %(here)s/alembic\n"
                                      f"sqlalchemy.url = {dsn.replace('postgresql://', 'postgresql+psycopg://')}\n")
    down = None
    for number, body in enumerate(revisions, 1):
        (versions / f"t{number}.py").write_text(f'from alembic import op\nimport sqlalchemy as sa\n\nrevision = "t{number}"\n'
                                                f"down_revision = {down!r}\n\n\ndef upgrade():\n    {body}\n")
        down = f"t{number}"
    return root / "alembic.ini"


def tenants_rollout(cluster: Cluster, root: Path, count: int, parallel: int, database: str = "tenants") -> float:
    """Seconds to roll the tenant project out to `count` schemas of one (new) database."""
    import psycopg

    cluster.query(cluster.primary, f"CREATE DATABASE {database}")
    dsn = cluster.primary.dsn(database)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("; ".join(f"CREATE SCHEMA tenant_{number:05d}" for number in range(count)))
    ini = tenant_project(root / database, dsn)
    started = time.monotonic()
    subprocess.run(CLI + ["apply", str(ini), "--targets-query", "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant_%'",
                          "--catalog-dsn", dsn, "--parallel", str(parallel), "--log-format", "json"],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    with psycopg.connect(dsn) as connection:
        at_head = connection.execute("SELECT count(*) FROM pg_namespace n WHERE nspname LIKE 'tenant_%' AND "
                                     "to_regclass(quote_ident(nspname) || '.alembic_version') IS NOT NULL").fetchone()[0]
    if at_head != count:
        raise SystemExit(f"{at_head} of {count} tenants have a version table")
    return seconds


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


def databases_rollouts(cluster: Cluster, root: Path, count: int, parallel: int) -> list[str]:
    """(a) to (d) of the module doc, on `count` fresh databases per side."""
    folder = root / "migrations"
    folder.mkdir()
    for name, text in MIGRATIONS.items():
        (folder / name).write_text(text + "\n")
    loop_dsns = create_databases(cluster, "loop", count)
    (root / "dsns").write_text("\n".join(loop_dsns) + "\n")
    started = time.monotonic()
    subprocess.run(["bash", "-c", f'while read -r dsn; do {" ".join(CLI)} apply {folder} --dsn "$dsn" >/dev/null '
                    f'|| exit 1; done < {root / "dsns"}'], check=True, stderr=subprocess.DEVNULL)
    loop_seconds = time.monotonic() - started
    check_at_head(loop_dsns)
    drop_databases(cluster, loop_dsns)

    fleet_dsns = create_databases(cluster, "fleet", count)
    fleet = root / "fleet.toml"
    fleet.write_text("[fleet.targets]\n" + "".join(f't{i:04d} = "{dsn}"\n' for i, dsn in enumerate(fleet_dsns)))
    command = CLI + ["apply", str(folder), "--fleet", str(fleet), "--parallel", str(parallel), "--log-format", "json"]
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
    return [
        f"{count} databases, 5 migrations each (a CHECK, a CONCURRENTLY index, a SET NOT NULL)",
        f"shell loop of single `migrator apply`: {loop_seconds:.1f} s, {count / loop_seconds:.2f} targets/s",
        f"`migrator apply --fleet --parallel {parallel}`: {fleet_seconds:.1f} s, {count / fleet_seconds:.2f} targets/s",
        f"ratio: {loop_seconds / fleet_seconds:.1f}x (target >= 4x)",
        f"the same rollout again (state: all done): {rerun_seconds:.2f} s for {count} targets, including the process start",
        f"a new rollout over targets at the goal (each connected to, then skipped): {at_goal_seconds:.2f} s, "
        f"{1000 * at_goal_seconds / count:.0f} ms per target",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--databases", type=int, default=200, help="0: skip (a) to (d)")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--tenants", type=int, default=0)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    lines = [f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start"]
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(replicas=0).start()
        try:
            if args.databases:
                lines += databases_rollouts(cluster, Path(tmp), args.databases, args.parallel)
            if args.tenants:
                serial = tenants_rollout(cluster, Path(tmp), args.tenants, 1, "tenants_serial")
                seconds = tenants_rollout(cluster, Path(tmp), args.tenants, args.parallel)
                lines += [f"{args.tenants} tenant schemas of one database, an Alembic project of 5 revisions: "
                          f"--parallel 1 {serial:.1f} s, {args.tenants / serial:.2f} tenants/s; --parallel {args.parallel} "
                          f"{seconds:.1f} s, {args.tenants / seconds:.2f} tenants/s; ratio {serial / seconds:.1f}x "
                          "(each tenant its own deploy lock)"]
        finally:
            cluster.stop()
    report("fleet_bench", lines, record=not args.no_record)


if __name__ == "__main__":
    main()
