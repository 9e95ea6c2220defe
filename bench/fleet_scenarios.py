"""The fleet acceptance scenarios of issue 13 at full scale, every fact checked (exit 1 on the first
that fails), the figures printed and recorded in bench/RESULTS.md.

On one sandbox cluster: 200 databases and, separately, 1,000 tenant schemas of one database, each
with populated tables (owners, items: 1,000 rows) and a history of five migrations that migrator
applies in their online forms: CREATE INDEX (CONCURRENTLY), ADD FOREIGN KEY (NOT VALID, then
VALIDATE), SET NOT NULL (through a validated CHECK), ADD UNIQUE (a concurrent unique index, then
USING INDEX) and a CHECK (NOT VALID, then VALIDATE). The databases get it as a folder of .sql
files, the tenants as an Alembic project. The tables (about 100 kB) are above the small-table
budget given (--small-table 32kB), so no statement runs as written: the same path as 8 MB tables
under the default budget, at a size CI can copy 2,000 times.

For each of the two fleets:
1. Canary failure: a bad row in the canary (target 5) trips the CHECK's VALIDATE; the rollout
   stops with the canary failed and no other target touched (catalog unchanged, nothing claimed).
2. Lock on target 37: after the fix, the rollout resumes (--parallel 8, --lock-timeout 1s) while
   a transaction holds ACCESS SHARE on target 37's items and readers read it; target 37 retries
   while the others proceed, finishes once the holder lets go, and no read waits past the lock
   timeout and a read's own time on busy cores (reads served, the longest stall and the tries'
   longest lock wait are reported).
3. kill -9 of one of two runners half-way (fresh copies of the fleet): the other finishes.
After 2 and 3, every target is at head with its schema identical to a single-target apply (a
catalog fingerprint of every target, pg_dump of samples), every version stamped once, and no
follow-up left in any journal.

    python bench/fleet_scenarios.py [--databases 200] [--tenants 1000] [--no-record]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from fleet_bench import tenant_project
from migrator.fleet import Target
from migrator.loadgen import LoadGenerator
from migrator.sandbox import Cluster, find_pg_bin
from results import report

CLI = [sys.executable, "-m", "migrator"]
ROWS = 1000
PARALLEL = 8
LOCK_TIMEOUT = 1.0  # seconds: --lock-timeout, the cap of each try's lock wait (the tries wait 0.1, 0.2, 0.4, 0.8, 1 s)
# A reader of target 37 queues only behind a try that waits for a lock conflicting with its read, while the
# holder keeps its lock, and for no longer than that try's lock timeout: at most LOCK_TIMEOUT, then the read's
# own time. That own time is a primary-key read of a 1,000-row table, well under 1 ms in the server, but up to
# half a second for the client thread to get its turn on two cores busy with the rollout (1.33 s in all behind
# tries of at most 0.8 s, at load 10 in CI). The check holds the reads to LOCK_TIMEOUT + STALL_MARGIN; the line
# also reports the longest lock wait of target 37's tries (their step events) and the slowest read no try could
# hold up, so a reader held longer than the tries waited can be seen.
STALL_MARGIN = 0.5  # seconds: a read's own time on two busy cores
CANARY, BLOCKED = 5, 37  # positions in the fleet
TABLES = f"""
CREATE TABLE owners (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE items (id bigint PRIMARY KEY, owner_id bigint, v integer NOT NULL, note text, code text);
INSERT INTO owners SELECT g, 'owner ' || g FROM generate_series(1, 100) g;
INSERT INTO items SELECT g, 1 + g % 100, g, 'note ' || g, 'code-' || g FROM generate_series(1, {ROWS}) g;
"""
SQL_HISTORY = {
    "0001_items_v.sql": "CREATE INDEX items_v ON items (v);",
    "0002_items_owner.sql": "ALTER TABLE items ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id);",
    "0003_note_not_null.sql": "ALTER TABLE items ALTER COLUMN note SET NOT NULL;",
    "0004_code_unique.sql": "ALTER TABLE items ADD CONSTRAINT items_code_key UNIQUE (code);",
    "0005_v_positive.sql": "ALTER TABLE items ADD CONSTRAINT items_v_positive CHECK (v > 0);",
}
ALEMBIC_HISTORY = [
    'op.create_index("items_v", "items", ["v"])',
    'op.create_foreign_key("items_owner_fk", "items", "owners", ["owner_id"], ["id"])',
    'op.alter_column("items", "note", nullable=False)',
    'op.create_unique_constraint("items_code_key", "items", ["code"])',
    'op.create_check_constraint("items_v_positive", "items", "v > 0")',
]
ONLINE_FORMS = {  # what the steps of one target's rollout must show: every statement in its online form
    "CREATE INDEX CONCURRENTLY": "CREATE INDEX CONCURRENTLY",
    "FOREIGN KEY NOT VALID": "FOREIGN KEY",
    "CHECK IS NOT NULL NOT VALID": "IS NOT NULL) NOT VALID",
    "CREATE UNIQUE INDEX CONCURRENTLY": "CREATE UNIQUE INDEX CONCURRENTLY",
    "USING INDEX": "USING INDEX",
    "VALIDATE CONSTRAINT": "VALIDATE CONSTRAINT",
}
OPTIONS = ["--parallel", str(PARALLEL), "--small-table", "32kB", "--lock-timeout", f"{LOCK_TIMEOUT:g}s", "--claim-ttl", "5s",
           "--attempts", "20", "--log-format", "json"]  # 20 tries (about 2 minutes): target 37 outlasts its holder on busy cores
FINGERPRINT = """
WITH objects AS (
    SELECT c.relnamespace AS ns, format('relation %%s %%s', c.relname, c.relkind) AS line FROM pg_class c
    UNION ALL
    SELECT c.relnamespace, format('column %%s.%%s %%s %%s %%s %%s', c.relname, a.attnum, a.attname,
                                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT con.connamespace, format('constraint %%s.%%s %%s %%s', c.relname, con.conname, pg_get_constraintdef(con.oid),
                                    con.convalidated)
    FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
    UNION ALL
    SELECT c.relnamespace, format('index %%s %%s %%s', c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid AND i.indisready)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
)
SELECT n.nspname, md5(string_agg(replace(o.line, n.nspname || '.', ''), E'\\n' ORDER BY replace(o.line, n.nspname || '.', '')))
FROM objects o JOIN pg_namespace n ON n.oid = o.ns WHERE n.nspname = ANY(%s) GROUP BY 1
"""


class ScenarioFailed(SystemExit):
    """A fact of the acceptance that does not hold: the script exits 1 with it."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioFailed(f"FAILED: {message}")


def query(dsn: str, statement: str, params=None) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def dump(dsn: str, schema: str | None = None) -> str:
    """pg_dump --schema-only (of one schema, named `schema` replaced by TENANT), migrator's schema left out."""
    command = [str(find_pg_bin() / "pg_dump"), "--schema-only", "--exclude-schema=migrator", "--restrict-key=fleet",
               "--dbname", dsn]
    output = subprocess.run(command + ([f"--schema={schema}"] if schema else []), capture_output=True, text=True,
                            check=True, timeout=300).stdout
    return output.replace(schema, "TENANT") if schema else output


class Runner:
    """A `migrator apply` fleet runner: its JSON events, read as they come (its pipe never fills)."""

    def __init__(self, command: list[str], new_session: bool = False):
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        start_new_session=new_session)
        self.events: list[dict] = []
        self.stderr: list[str] = []
        self.stray: list[str] = []  # lines of stdout that are not events
        self.changed = threading.Condition()
        self.reading = threading.Thread(target=self._read, daemon=True)
        self.reading.start()
        self.reading_errors = threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True)
        self.reading_errors.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self.changed:
                try:
                    self.events.append(json.loads(line))
                except json.JSONDecodeError:
                    self.stray.append(line)
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, condition, timeout: float = 600) -> None:
        """Until condition(events) holds; fails when the runner ends first or the time is up."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition(self.events):
                check(self.process.poll() is None or self.reading.is_alive(), f"the runner ended before the awaited "
                      f"event: {self.of('target_failed')[:3]} {''.join(self.stderr)[-1000:]}")
                check(time.monotonic() < deadline, f"no awaited event within {timeout:.0f} s")
                self.changed.wait(0.5)

    def finish(self, timeout: float = 2400) -> tuple[int, str]:
        """Its exit status and standard error, once it ended."""
        self.process.wait(timeout)
        self.reading.join(60)
        self.reading_errors.join(60)
        elsewhere = [line for line in self.stderr if line.startswith('{"time"')]
        check(not self.stray and not elsewhere, f"stdout carries the events, all and only them: {(self.stray + elsewhere)[:3]}")
        return self.process.returncode, "".join(self.stderr)

    def of(self, kind: str, target: str | None = None) -> list[dict]:
        return [e for e in self.events if e["event"] == kind and (target is None or e.get("target") == target)]


@dataclass
class ScenarioFleet:
    """One fleet of the scenarios: databases (a .sql folder) or tenant schemas (an Alembic project)."""

    kind: str
    names: list[str]
    source: Path
    fleet_options: list[str]
    dsn: dict[str, str]  # name -> the target's connection DSN (a tenant's: its schema on the search_path)
    reference: str  # the DSN of a copy that a single `migrator apply` brings to head
    where: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (database DSN, schema)

    def command(self, control: str, rollout: str) -> list[str]:
        return CLI + ["apply", str(self.source), *self.fleet_options, "--control-dsn", control, "--rollout", rollout, *OPTIONS]

    def fingerprints(self) -> dict[str, str]:
        """Per target, a digest of its schema's catalog (relations, columns, constraints, indexes)."""
        found = {}
        by_database: dict[str, list[str]] = {}
        for name in self.names:
            by_database.setdefault(self.where[name][0], []).append(name)
        for database, names in by_database.items():
            schemas = {self.where[name][1]: name for name in names}
            for schema, digest in query(database, FINGERPRINT, (list(schemas),)):
                found[schemas[schema]] = digest
        return found

    def reference_fingerprint(self) -> str:
        database, schema = self.where["reference"]
        [(_, digest)] = query(database, FINGERPRINT, ([schema],))
        return digest

    def stamps(self) -> dict[str, list[str]]:
        """Per target, the versions its version table holds, each once per row."""
        found = {}
        if self.kind == "databases":
            for name in self.names:
                found[name] = [row[0] for row in query(self.dsn[name], "SELECT version FROM migrator.schema_migrations ORDER BY 1")]
            return found
        database = self.where[self.names[0]][0]
        union = " UNION ALL ".join(f"SELECT '{name}', version_num::text FROM {self.where[name][1]}.alembic_version"
                                   for name in self.names)
        for name, version in query(database, union):
            found.setdefault(name, []).append(version)
        return found

    def pending_followups(self) -> int:
        databases = {self.where[name][0] for name in self.names}
        return sum(query(database, "SELECT count(*) FROM migrator.apply_journal WHERE status <> 'done'")[0][0]
                   for database in databases)

    def dump(self, name: str) -> str:
        database, schema = self.where[name]
        return dump(database, None if self.kind == "databases" else schema)


# -- building the fleets ---------------------------------------------------------------------------
def create_copies(cluster: Cluster, template: str, names: list[str]) -> None:
    """Databases copied from `template` (WAL_LOG: 0.16 s each where FILE_COPY's checkpoints take 1.4 s)."""
    with psycopg.connect(cluster.primary.dsn(), autocommit=True) as connection:
        for name in names:
            connection.execute(f"CREATE DATABASE {name} TEMPLATE {template}")


def database_fleet(cluster: Cluster, root: Path, prefix: str, count: int) -> ScenarioFleet:
    """`count` databases (copies of fleet_template), the history as a folder of .sql files."""
    names = [f"{prefix}_{number:03d}" for number in range(count)]
    create_copies(cluster, "fleet_template", names + [f"{prefix}_reference"])
    folder = root / f"{prefix}_migrations"
    folder.mkdir()
    for file, text in SQL_HISTORY.items():
        (folder / file).write_text(text + "\n")
    dsn = {name: cluster.primary.dsn(name) for name in names}
    path = root / f"{prefix}_fleet.toml"
    path.write_text("[fleet.targets]\n" + "".join(f'{name} = "{value}"\n' for name, value in dsn.items()))
    reference = cluster.primary.dsn(f"{prefix}_reference")
    fleet = ScenarioFleet("databases", names, folder, ["--fleet", str(path), "--canary", names[CANARY]], dsn, reference)
    fleet.where = {name: (value, "public") for name, value in {**dsn, "reference": reference}.items()}
    return fleet


def tenant_fleet(cluster: Cluster, root: Path, database: str, count: int) -> ScenarioFleet:
    """`count` tenant schemas of `database` (a copy of tenants_template), the history as an Alembic project."""
    create_copies(cluster, "tenants_template", [database])
    catalog = cluster.primary.dsn(database)
    names = [f"tenant_{number:04d}" for number in range(count)]
    ini = tenant_project(root / database, catalog, ALEMBIC_HISTORY)
    targets = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1"
    dsn = {name: Target(name, catalog, name).connection_dsn for name in names + ["reference_tenant"]}
    fleet = ScenarioFleet("tenants", names, ini, ["--targets-query", targets, "--catalog-dsn", catalog, "--canary", names[CANARY]],
                  dsn, dsn.pop("reference_tenant"))
    fleet.where = {name: (catalog, name) for name in names} | {"reference": (catalog, "reference_tenant")}
    return fleet


def build_templates(cluster: Cluster, databases: int, tenants: int) -> None:
    if databases:
        cluster.query(cluster.primary, "CREATE DATABASE fleet_template")
        query(cluster.primary.dsn("fleet_template"), TABLES)
    if tenants:
        cluster.query(cluster.primary, "CREATE DATABASE tenants_template")
        schemas = [f"tenant_{number:04d}" for number in range(tenants)] + ["reference_tenant"]
        with psycopg.connect(cluster.primary.dsn("tenants_template"), autocommit=True) as connection:
            for start in range(0, len(schemas), 100):
                connection.execute("".join(f"CREATE SCHEMA {schema}; SET search_path = {schema}; {TABLES}"
                                           for schema in schemas[start:start + 100]))
        cluster.query(cluster.primary, "CHECKPOINT")


# -- the scenarios ---------------------------------------------------------------------------------
def canary_failure(fleet: ScenarioFleet, control: str) -> list[str]:
    """1: the canary's bad row stops the rollout before any other target is touched."""
    canary = fleet.names[CANARY]
    before = fleet.fingerprints()
    query(fleet.dsn[canary], "UPDATE items SET v = -1 WHERE id = 42")
    started = time.monotonic()
    runner = Runner(fleet.command(control, fleet.kind))
    code, stderr = runner.finish()
    seconds = time.monotonic() - started
    others = len(fleet.names) - 1
    check(code == 1, f"{fleet.kind}: the rollout with a failing canary exited {code}: {stderr[-2000:]}")
    check(stderr.strip().splitlines()[-1].startswith(f"Error: rollout {fleet.kind} stopped: a canary failed (1 failed, "
                                                     f"{others} targets not touched)"), stderr[-2000:])
    check([e["target"] for e in runner.of("target_start")] == [canary], f"{fleet.kind}: targets started besides the canary")
    [failed] = runner.of("target_failed")
    check("items_v_positive" in failed["error"] and "violated by some row" in failed["error"], failed["error"])
    states = query(control, "SELECT state, count(*), max(attempts) FROM migrator.fleet_targets WHERE rollout = %s "
                            "GROUP BY 1 ORDER BY 1", (fleet.kind,))
    check(states == [("failed", 1, 1), ("pending", others, 0)], f"{fleet.kind}: rollout state {states}")
    after = fleet.fingerprints()
    touched = [name for name in fleet.names if name != canary and after[name] != before[name]]
    check(not touched, f"{fleet.kind}: targets changed while the canary failed: {touched[:5]}")
    check(after[canary] != before[canary], f"{fleet.kind}: the canary's schema did not change")
    if fleet.kind == "databases":
        with_state = [name for name in fleet.names if name != canary
                      and query(fleet.dsn[name], "SELECT to_regnamespace('migrator') IS NOT NULL")[0][0]]
        check(not with_state, f"databases: migrator's schema created in targets other than the canary: {with_state[:5]}")
    return [f"{fleet.kind}: canary failure ({canary}'s bad row trips VALIDATE): stopped in {seconds:.1f} s, "
            f"{others} other targets untouched (catalog fingerprints unchanged, none claimed)"]


def lock_on_target_37(fleet: ScenarioFleet, control: str) -> list[str]:
    """2: the fixed canary resumes, target 37 retries behind a held lock, the others proceed, all finish."""
    canary, blocked = fleet.names[CANARY], fleet.names[BLOCKED]
    query(fleet.dsn[canary], "UPDATE items SET v = 42 WHERE id = 42")
    holder = psycopg.connect(fleet.dsn[blocked])
    holder.execute("LOCK TABLE items IN ACCESS SHARE MODE")  # a long report on target 37
    database, schema = fleet.where[blocked]  # the readers name the table by its schema (they set their own options)
    readers = LoadGenerator(database, f"{schema}.items", clients=2, rate=40, mix={"read": 1.0}, max_duration=2400).start()
    started = time.monotonic()
    runner = Runner(fleet.command(control, fleet.kind))
    try:
        runner.wait_for(lambda events: sum(e["event"] == "retry" and e["target"] == blocked for e in events) >= 2)
        first_retry = next(i for i, e in enumerate(runner.events) if e["event"] == "retry" and e.get("target") == blocked)
        blocked_at = runner.events[first_retry]["time"]
        runner.wait_for(lambda events: sum(e["event"] == "target_done" for e in events[first_retry:]) >= 2 * PARALLEL)
        check(not runner.of("target_done", blocked), f"{fleet.kind}: {blocked} finished while its lock was held")
    finally:
        released_at = time.time()
        holder.rollback()
        holder.close()
    code, stderr = runner.finish()
    seconds = time.monotonic() - started
    readers.stop()
    check(code == 0, f"{fleet.kind}: the resumed rollout exited {code}: {stderr[-2000:]}")
    done = [e["target"] for e in runner.of("target_done")]
    check(done[0] == canary and sorted(done) == sorted(fleet.names), f"{fleet.kind}: not every target done, canary first")
    retries = len(runner.of("retry", blocked))
    proceeded = sum(1 for e in runner.of("target_done") if blocked_at <= e["time"] <= released_at)
    reads = [s for s in readers.samples if s.kind == "read"]
    offset = time.time() - time.monotonic()  # event times are wall-clock, the readers' monotonic
    served = sum(1 for s in reads if s.error is None and blocked_at <= s.started + offset + s.latency <= released_at)
    check(not readers.errors(), f"{fleet.kind}: reads of {blocked} failed: {readers.errors()[:3]}")
    longest = readers.max_latency("read")
    longest_wait = max(e["lock_timeout_ms"] for e in runner.of("step", blocked)) / 1000  # of its tries
    check(longest_wait <= LOCK_TIMEOUT, f"{fleet.kind}: a try of {blocked} waited up to {longest_wait:g} s for its "
                                        f"locks (lock timeout {LOCK_TIMEOUT:g} s)")
    first_try = min(e["time"] for e in runner.of("step", blocked))
    done_at = runner.of("target_done", blocked)[0]["time"]
    own_time = max((s.latency for s in reads if s.error is None and not (
        first_try <= s.started + offset + s.latency and s.started + offset <= done_at)), default=0.0)  # no try in its way
    check(longest <= LOCK_TIMEOUT + STALL_MARGIN,
          f"{fleet.kind}: a reader of {blocked} waited {longest:.2f} s, more than the lock timeout ({LOCK_TIMEOUT:g} s) and "
          f"a read's own time on busy cores ({STALL_MARGIN:g} s); its tries waited at most {longest_wait:g} s, a read with "
          f"no try in its way {own_time:.2f} s")
    steps = " ".join(e["sql"] for e in runner.of("step", blocked))
    missing = [form for form, marker in ONLINE_FORMS.items() if marker not in steps]
    check(not missing, f"{fleet.kind}: {blocked}'s rollout lacks online forms: {missing}")
    return [f"{fleet.kind}: rollout of {len(fleet.names)} targets (--parallel {PARALLEL}) with {blocked} locked: "
            f"{seconds:.1f} s, {len(fleet.names) / seconds:.1f} targets/s; every statement in its online form",
            f"{fleet.kind}: {blocked} retried {retries} times while {proceeded} other targets finished, then finished; "
            f"its readers: {len(reads)} reads ({served} while it was blocked), longest {longest:.2f} s "
            f"(its tries waited at most {longest_wait:g} s, a read with no try in its way {own_time:.2f} s; lock "
            f"timeout {LOCK_TIMEOUT:g} s), 0 errors"]


def kill_one_of_two_runners(fleet: ScenarioFleet, control: str) -> tuple[list[str], list[str]]:
    """3: two runners share the rollout; one is killed -9 half-way; the other finishes the fleet.
    Returns the figures and the targets the killed runner held."""
    command = fleet.command(control, f"{fleet.kind}-kill")
    half = [*command[:command.index("--parallel") + 1], str(PARALLEL // 2), *command[command.index("--parallel") + 2:]]
    started = time.monotonic()
    first, second = Runner(half, new_session=True), Runner(half)
    first.wait_for(lambda events: bool(events) and events[0]["event"] == "rollout")
    dead = first.events[0]["runner"]
    count = "SELECT count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'running' AND runner = %s) " \
            "FROM migrator.fleet_targets WHERE rollout = %s"
    deadline = time.monotonic() + 2400
    while True:
        [(done, held)] = query(control, count, (dead, f"{fleet.kind}-kill"))
        if done >= len(fleet.names) // 2 and held:
            break
        check(time.monotonic() < deadline and first.process.poll() is None, f"{fleet.kind}: never half-way with a claim held")
        time.sleep(0.05)
    os.killpg(first.process.pid, signal.SIGKILL)  # the runner and its workers: a machine gone
    first.finish()
    claimed = [row[0] for row in query(control, "SELECT target FROM migrator.fleet_targets WHERE rollout = %s AND "
                                                "state = 'running' AND runner = %s", (f"{fleet.kind}-kill", dead))]
    code, stderr = second.finish()
    seconds = time.monotonic() - started
    check(code == 0, f"{fleet.kind}: the surviving runner exited {code}: {stderr[-2000:]}")
    summary = second.events[-1]
    check(summary["event"] == "summary" and summary["done"] == len(fleet.names), f"{fleet.kind}: summary {summary}")
    rows = query(control, "SELECT state, count(*), count(DISTINCT runner) FROM migrator.fleet_targets WHERE rollout = %s "
                          "GROUP BY 1", (f"{fleet.kind}-kill",))
    check(rows == [("done", len(fleet.names), 2)], f"{fleet.kind}: rollout state after the kill {rows}")
    retaken = query(control, "SELECT target, attempts, runner FROM migrator.fleet_targets WHERE rollout = %s AND "
                             "target = ANY(%s)", (f"{fleet.kind}-kill", claimed))
    survivor = second.events[0]["runner"]
    check(claimed and all(attempts == 2 and runner == survivor for _, attempts, runner in retaken),
          f"{fleet.kind}: the dead runner's claims {retaken}")
    return [f"{fleet.kind}: two runners (--parallel {PARALLEL // 2} each), one killed -9 at {done} of {len(fleet.names)} "
            f"done holding {len(claimed)} claims ({', '.join(claimed)}): the other finished the fleet in {seconds:.1f} s "
            f"from the start, taking the dead runner's claims over"], claimed


def at_head_like_a_single_apply(fleet: ScenarioFleet, samples: list[str]) -> list[str]:
    """Every target at head, its schema identical to a single-target apply, every version stamped once."""
    single = subprocess.run(CLI + ["apply", str(fleet.source), "--dsn", fleet.reference, "--small-table", "32kB"],
                            capture_output=True, text=True, timeout=300)
    check(single.returncode == 0, f"{fleet.kind}: the single-target apply failed: {single.stderr[-2000:]}")
    expected = fleet.reference_fingerprint()
    differ = [name for name, digest in fleet.fingerprints().items() if digest != expected]
    check(not differ, f"{fleet.kind}: schemas unlike the single-target apply's: {differ[:5]}")
    reference_dump = fleet.dump("reference")
    for name in samples:
        check(fleet.dump(name) == reference_dump, f"{fleet.kind}: pg_dump of {name} differs from the single-target apply's")
    head = sorted(file[:-4] for file in SQL_HISTORY) if fleet.kind == "databases" else [f"t{len(ALEMBIC_HISTORY)}"]
    stamps = fleet.stamps()
    wrong = [name for name in fleet.names if stamps.get(name) != head]
    check(not wrong, f"{fleet.kind}: version tables not at head, once each: {[(n, stamps.get(n)) for n in wrong[:3]]}")
    check(fleet.pending_followups() == 0, f"{fleet.kind}: follow-ups left in a journal")
    return [f"{fleet.kind}: all {len(fleet.names)} at head, versions stamped once, schema identical to a single-target "
            f"apply (catalog fingerprint of every target; pg_dump of {', '.join(samples)})"]


def scenarios(cluster: Cluster, root: Path, kind: str, count: int) -> list[str]:
    """The three scenarios on a fleet of `count` targets of `kind`; the figures, also shown as they come."""
    lines: list[str] = []

    def note(new: list[str]) -> None:
        lines.extend(new)
        print("\n".join(new), file=sys.stderr, flush=True)

    control = cluster.primary.dsn("control")
    started = time.monotonic()
    fleet = database_fleet(cluster, root, "db", count) if kind == "databases" else tenant_fleet(cluster, root, "tenants", count)
    note([f"{kind}: {count} targets copied from a template in {time.monotonic() - started:.1f} s"])
    note(canary_failure(fleet, control))
    note(lock_on_target_37(fleet, control))
    note(at_head_like_a_single_apply(fleet, [fleet.names[CANARY], fleet.names[BLOCKED]]))
    started = time.monotonic()
    fresh = database_fleet(cluster, root, "kill", count) if kind == "databases" else tenant_fleet(cluster, root, "tenants_kill", count)
    note([f"{kind}: {count} fresh targets for the kill copied in {time.monotonic() - started:.1f} s"])
    kill_lines, retaken = kill_one_of_two_runners(fresh, control)
    note(kill_lines)
    note(at_head_like_a_single_apply(fresh, retaken[:2]))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--databases", type=int, default=200, help="0: skip the databases fleet")
    parser.add_argument("--tenants", type=int, default=1000, help="0: skip the tenants fleet")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    check(all(count == 0 or count > BLOCKED + 2 * PARALLEL for count in (args.databases, args.tenants)),
          f"--databases, --tenants: 0 or more than {BLOCKED + 2 * PARALLEL} (target {BLOCKED} is locked while "
          f"{2 * PARALLEL} others finish)")
    started = time.monotonic()
    lines = [f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start"]
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(replicas=0).start()
        try:
            cluster.query(cluster.primary, "CREATE DATABASE control")
            build_templates(cluster, args.databases, args.tenants)
            lines.append(f"templates ({ROWS} items per target) built in {time.monotonic() - started:.1f} s")
            for kind, count in (("databases", args.databases), ("tenants", args.tenants)):
                if count:
                    lines += scenarios(cluster, Path(tmp), kind, count)
        finally:
            cluster.stop()
    lines.append(f"all scenarios passed in {time.monotonic() - started:.0f} s")
    report("fleet_scenarios", lines, record=not args.no_record)


if __name__ == "__main__":
    main()
