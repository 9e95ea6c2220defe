"""Fleets: one migration rolled out to many databases or tenant schemas, canary first.

Targets come from a fleet file (`[fleet]` in migrator.toml, or `--fleet FILE`) or from a query
on a catalog database (`--targets-query`). Each target runs the normal executor (its deploy
lock, timeouts, retries, rewrites, journal) in a worker process: Alembic's runtime keeps
module-wide state (alembic.context, SQLAlchemy's event hooks), so one process applies one
target at a time, and a worker is reused for the next target without starting again.

PostgreSQL coordinates the runners: the rollout's state (targets, claims, status, attempts,
last error) lives in migrator.fleet_targets on the control database (`--control-dsn`; without
it the catalog database of a `--targets-query`, else the first target). A runner claims a target
with FOR UPDATE SKIP LOCKED and keeps its claims alive with a heartbeat; a claim whose heartbeat
is older than the claim TTL (a runner that died) is claimed again, and the target's journal
finishes what was left. Every statement on the state table lives in this module.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import multiprocessing
import os
import socket
import sys
import threading
import time
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from migrator.dsn import connect, mask_password
from migrator.errors import UserError, first_line
from migrator.runners import migration_version


class FleetError(UserError):
    """A bad fleet definition or a rollout that stopped; the message says which and why."""


@dataclass(frozen=True)
class Target:
    """One database, or one schema of a database (schema-per-tenant)."""

    name: str
    dsn: str  # with its password: never printed (see shown)
    schema: str | None = None

    @property
    def connection_dsn(self) -> str:
        """The DSN the executor connects with: a tenant's schema first on its search_path, so that
        unqualified names and Alembic's version table are the tenant's own."""
        if self.schema is None:
            return self.dsn
        options = conninfo_to_dict(self.dsn).get("options", "")
        quoted = '"' + self.schema.replace('"', '""') + '"'
        return make_conninfo(self.dsn, options=f"{options} -c search_path={quoted.replace(' ', chr(92) + ' ')}".strip())

    @property
    def shown(self) -> str:
        where = mask_password(self.dsn)
        return f"{where} schema {self.schema}" if self.schema else where


@dataclass
class Fleet:
    targets: list[Target]
    canaries: list[str]  # names of the targets that run first
    control_dsn: str | None = None  # where the rollout's state lives by default (the catalog's)


# -- targets ---------------------------------------------------------------------------------------
def _env_or_dsn(value, where: str) -> str:
    """A DSN, or `$NAME`: the environment variable holding one."""
    if not isinstance(value, str) or not value:
        raise FleetError(f"{where}: a DSN or $ENVIRONMENT_VARIABLE")
    if value.startswith("$"):
        found = os.environ.get(value[1:])
        if not found:
            raise FleetError(f"{where}: environment variable {value[1:]} is not set")
        return found
    return value


def _line_of(path: Path, text: str, key: str) -> int:
    """The line of `path` where `key` is set, for messages (1 when it cannot be found)."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith((f"{key} ", f"{key}=", f'"{key}"')):
            return number
    return 1


def load_fleet_file(path: Path, canary: str | None = None, canary_count: int | None = None) -> Fleet:
    """Targets of a `[fleet]` table (migrator.toml or a fleet file of its own)::

        [fleet]
        canary = ["shard-01"]              # optional: these run first
        [fleet.targets]
        shard-01 = "postgresql://app@db1/app"
        shard-02 = "$SHARD_02_URL"          # an environment variable holding the DSN
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise FleetError(f"{path}: fleet file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise FleetError(f"{path}: not valid TOML: {error}") from None
    fleet = data.get("fleet")
    if not isinstance(fleet, dict):
        raise FleetError(f"{path}:1: no [fleet] table")
    unknown = sorted(set(fleet) - {"targets", "canary"})
    if unknown:
        raise FleetError(f"{path}:{_line_of(path, text, unknown[0])}: unknown fleet setting {unknown[0]!r} (known: canary, targets)")
    entries = fleet.get("targets")
    if not isinstance(entries, dict) or not entries:
        raise FleetError(f"{path}:1: [fleet.targets] names no target (name = \"DSN\" or name = \"$ENV_VAR\")")
    targets = [Target(name, _env_or_dsn(value, f"{path}:{_line_of(path, text, name)}: target {name}"))
               for name, value in entries.items()]
    named = fleet.get("canary", [])
    if isinstance(named, str):
        named = [named]
    unknown = [name for name in named if name not in entries]
    if unknown:
        raise FleetError(f"{path}:{_line_of(path, text, 'canary')}: canary {unknown[0]!r} is not a target of the fleet")
    return Fleet(targets, _canaries(targets, canary.split(",") if canary else list(named), canary_count))


def query_targets(catalog_dsn: str, query: str, canary: str | None = None, canary_count: int | None = None) -> Fleet:
    """Targets from a query on the catalog database: one row per target, (value) or (name, value),
    where the value is a DSN (a database per tenant) or a schema name (schema-per-tenant, in the
    catalog database itself)."""
    with connect(catalog_dsn, FleetError, application_name="migrator fleet") as connection:
        try:
            cursor = connection.execute(query)
        except psycopg.Error as error:
            raise FleetError(f"--targets-query: {first_line(error)}") from None
        if cursor.description is None or len(cursor.description) > 2:
            raise FleetError("--targets-query: return one column (a DSN or a schema name) or two (a name, then one)")
        rows = cursor.fetchall()
    targets = []
    for row in rows:
        value = str(row[-1])
        name = str(row[0])
        if "://" in value or "=" in value:
            targets.append(Target(name, value))
        else:
            targets.append(Target(name, catalog_dsn, value))
    if not targets:
        raise FleetError("--targets-query returned no target")
    return Fleet(targets, _canaries(targets, canary.split(",") if canary else [], canary_count), catalog_dsn)


def _canaries(targets: list[Target], named: list[str], count: int | None) -> list[str]:
    names = [t.name for t in targets]
    for name in named:
        if name not in names:
            raise FleetError(f"--canary: {name!r} is not a target of the fleet")
    if count:
        named = named + [n for n in names if n not in named][:max(0, count - len(named))]
    return named


# -- the rollout's state ---------------------------------------------------------------------------
STATE_LOCK = 7_326_101  # advisory lock id: one runner at a time creates the state table
STATE_SQL = """
CREATE SCHEMA IF NOT EXISTS migrator;
CREATE TABLE IF NOT EXISTS migrator.fleet_targets (
    rollout text NOT NULL,
    target text NOT NULL,
    position integer NOT NULL,
    canary boolean NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
    runner text,
    heartbeat timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    applied text[] NOT NULL DEFAULT '{}',
    started_at timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (rollout, target)
);
"""


class RolloutState:
    """The rollout's rows in migrator.fleet_targets on the control database."""

    def __init__(self, dsn: str, rollout: str, claim_ttl_ms: int):
        self.connection = connect(dsn, FleetError, application_name="migrator fleet")
        self.rollout, self.ttl = rollout, f"{claim_ttl_ms} milliseconds"
        self.lock = threading.Lock()  # the heartbeat thread shares the connection

    def close(self) -> None:
        self.connection.close()

    def _run(self, query: str, params: tuple = ()) -> list[tuple]:
        with self.lock:
            cursor = self.connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def register(self, targets: list[Target], canaries: list[str]) -> None:
        """Add the targets (a re-run keeps what is done); failed ones are retried (their journal
        resumes them) unless a live runner is still at work."""
        self._run(f"BEGIN; SELECT pg_advisory_xact_lock({STATE_LOCK}); {STATE_SQL} COMMIT")  # runners start together
        self._run("INSERT INTO migrator.fleet_targets (rollout, target, position, canary) "
                  "SELECT %s, name, position, name = ANY(%s) FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, position) "
                  "ON CONFLICT (rollout, target) DO UPDATE SET position = EXCLUDED.position, canary = EXCLUDED.canary",
                  (self.rollout, canaries, [t.name for t in targets]))
        self._run("UPDATE migrator.fleet_targets SET state = 'pending' WHERE rollout = %s AND state = 'failed' "
                  "AND NOT EXISTS (SELECT FROM migrator.fleet_targets WHERE rollout = %s AND state = 'running' "
                  f"AND heartbeat > now() - interval '{self.ttl}')", (self.rollout, self.rollout))

    def claim(self, runner: str) -> str | None:
        """The next target for this runner: canaries until every canary is done, then the rest;
        a claim whose runner stopped beating first, so its journal is finished before anything else."""
        rows = self._run(f"""
            UPDATE migrator.fleet_targets t SET state = 'running', runner = %(runner)s, heartbeat = now(),
                   attempts = t.attempts + 1, started_at = now(), finished_at = NULL
            WHERE (t.rollout, t.target) = (
                SELECT rollout, target FROM migrator.fleet_targets c
                WHERE c.rollout = %(rollout)s
                  AND (c.state = 'pending' OR c.state = 'running' AND c.heartbeat < now() - interval '{self.ttl}')
                  AND (c.canary OR NOT EXISTS (SELECT FROM migrator.fleet_targets k
                                               WHERE k.rollout = %(rollout)s AND k.canary AND k.state <> 'done'))
                ORDER BY c.state = 'pending', NOT c.canary, c.position
                LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING t.target""", {"runner": runner, "rollout": self.rollout})
        return rows[0][0] if rows else None

    def beat(self, runner: str) -> None:
        self._run("UPDATE migrator.fleet_targets SET heartbeat = now() WHERE rollout = %s AND runner = %s AND state = 'running'",
                  (self.rollout, runner))

    def finish(self, runner: str, target: str, applied: list[str], error: str | None) -> None:
        self._run("UPDATE migrator.fleet_targets SET state = %s, applied = applied || %s, last_error = %s, "
                  "finished_at = now() WHERE rollout = %s AND target = %s AND runner = %s",
                  ("failed" if error else "done", applied, error, self.rollout, target, runner))

    def counts(self) -> dict:
        """Targets by state, and canaries by state (canary_done, canary_failed, ...)."""
        rows = self._run("SELECT state, canary, count(*) FROM migrator.fleet_targets WHERE rollout = %s GROUP BY 1, 2",
                         (self.rollout,))
        counts = collections.Counter()
        for state, canary, number in rows:
            counts[state] += number
            if canary:
                counts[f"canary_{state}"] += number
        return counts


def status(dsn: str, rollout: str | None) -> dict:
    """A rollout's state from anywhere: counts by state, the slowest targets, the failures."""
    with connect(dsn, FleetError, application_name="migrator fleet status") as connection:
        if not connection.execute("SELECT to_regclass('migrator.fleet_targets') IS NOT NULL").fetchone()[0]:
            raise FleetError(f"no fleet rollout recorded in {mask_password(dsn)}")
        if rollout is None:
            row = connection.execute("SELECT rollout FROM migrator.fleet_targets GROUP BY 1 "
                                     "ORDER BY max(coalesce(finished_at, started_at)) DESC NULLS LAST LIMIT 1").fetchone()
            rollout = row[0] if row else None
        counts = dict(connection.execute("SELECT state, count(*) FROM migrator.fleet_targets WHERE rollout = %s GROUP BY 1 "
                                         "ORDER BY 1", (rollout,)).fetchall())
        slowest = connection.execute(
            "SELECT target, extract(epoch FROM coalesce(finished_at, now()) - started_at)::float, state "
            "FROM migrator.fleet_targets WHERE rollout = %s AND started_at IS NOT NULL ORDER BY 2 DESC LIMIT 5",
            (rollout,)).fetchall()
        failures = connection.execute("SELECT target, attempts, last_error FROM migrator.fleet_targets "
                                      "WHERE rollout = %s AND state = 'failed' ORDER BY position", (rollout,)).fetchall()
    return {"rollout": rollout, "counts": counts,
            "slowest": [{"target": t, "seconds": round(s, 3), "state": st} for t, s, st in slowest],
            "failures": [{"target": t, "attempts": a, "error": e} for t, a, e in failures]}


# -- one target, in a worker process ---------------------------------------------------------------
_worker: dict = {}


def _start_worker(load_source: Callable, policy, events) -> None:
    """Load the migrations once per worker process (Alembic imports every revision); the executor's
    events go to the runner through `events`, so that one process writes the output."""
    _worker.update(source=load_source(), policy=policy, events=events)


def apply_target(target: Target) -> dict:
    """Apply the pending migrations to one target with the normal executor, unless it is at the goal
    already (skipped: True); never raises."""
    from migrator.executor import Executor
    from migrator.gates import GatedSource

    source, started = _worker["source"], time.monotonic()
    skipped = _skip_at_goal(target, source)
    if skipped is not None:
        return skipped

    def emit(event: dict) -> None:
        _worker["events"].put({"target": target.name, **event})

    try:
        executor = Executor(target.connection_dsn, _worker["policy"], emit)
        gated = GatedSource(source)
        applied = executor.apply(gated)
        if gated.refusal is not None:
            raise gated.refusal
        return {"applied": applied, "retries": executor.retries, "seconds": time.monotonic() - started}
    except UserError as error:
        return {"error": mask_password(first_line(error)), "seconds": time.monotonic() - started}
    except Exception as error:  # a database or driver error the executor did not name: still one line
        return {"error": mask_password(f"{type(error).__name__}: {first_line(error)}"), "seconds": time.monotonic() - started}


def at_goal(target: Target, source) -> bool:
    """Whether the target has nothing to apply: no pending migration, no follow-up a stopped run left
    in its journal. A worker asks before it runs the executor, so that a re-run takes milliseconds
    a target (an Alembic project's heads are read through env.py: in the workers, side by side)."""
    from migrator.executor import pending_followups

    with connect(target.connection_dsn, FleetError, application_name="migrator fleet") as connection:
        return not source.pending_files(connection) and not pending_followups(connection, source.journal_scope(connection))


# -- the runner ------------------------------------------------------------------------------------
@dataclass
class Rollout:
    """How a runner takes part in a rollout."""

    name: str  # the rollout's key in the state table: runners of the same name share it
    parallel: int = 4
    max_failures: int = 1
    claim_ttl_ms: int = 30_000


def rollout_name(path: Path, source) -> str:
    """A rollout is a migration source and its goal: a re-run with the same goal continues it."""
    if hasattr(source, "script"):
        goal = source.target if source.target not in ("head", "heads") else "+".join(sorted(source.script.get_heads()))
    else:
        goal = migration_version(source.files[-1])
    return f"{path.resolve().name}@{goal}"


def run(fleet: Fleet, rollout: Rollout, source, load_source: Callable, policy, control_dsn: str | None,
        show: Callable[[dict], None]) -> collections.Counter:
    """Apply to every target this runner can claim; returns the rollout's counts by state at the end.
    `source` is what load_source() returns (workers load their own).
    Raises FleetError when a canary failed or --max-failures targets did (after the claimed ones end)."""
    tenants = [t.name for t in fleet.targets if t.schema is not None]
    if tenants and not hasattr(source, "script"):
        raise FleetError(f"target {tenants[0]}: schema-per-tenant targets need an Alembic project (a folder of .sql "
                         "migrations keeps its versions in migrator.schema_migrations, one table per database)")
    by_name = {t.name: t for t in fleet.targets}
    state = RolloutState(control_dsn or fleet.control_dsn or fleet.targets[0].dsn, rollout.name, rollout.claim_ttl_ms)
    runner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    stop, showing = threading.Event(), threading.Lock()
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    shown = show

    def show(event: dict) -> None:  # called by the main loop and by the thread relaying the workers' events
        with showing:
            shown(event)

    def relay() -> None:
        for event in iter(events.get, None):
            show(event)

    def heartbeat() -> None:
        while not stop.wait(rollout.claim_ttl_ms / 3000):
            state.beat(runner)

    beating = threading.Thread(target=heartbeat, name="fleet heartbeat", daemon=True)
    relaying = threading.Thread(target=relay, name="fleet events", daemon=True)
    relaying.start()
    pool = concurrent.futures.ProcessPoolExecutor(rollout.parallel, mp_context=context, initializer=_start_worker,
                                                  initargs=(load_source, policy, events))
    in_flight: dict[concurrent.futures.Future, str] = {}
    try:
        state.register(fleet.targets, fleet.canaries)
        beating.start()
        show({"event": "rollout", "rollout": rollout.name, "runner": runner, "targets": len(fleet.targets),
              "canaries": fleet.canaries, "parallel": rollout.parallel})
        while True:
            counts = state.counts()
            stopping = counts["canary_failed"] > 0 or counts["failed"] >= rollout.max_failures
            while not stopping and len(in_flight) < rollout.parallel:
                name = state.claim(runner)
                if name is None:
                    break
                show({"event": "target_start", "target": name})
                in_flight[pool.submit(apply_target, by_name[name])] = name
            if not in_flight:
                if stopping or counts["pending"] == 0 and counts["running"] == 0:
                    break
                # canaries or expired claims are another runner's to finish or ours to take over: poll
                concurrent.futures.wait([], timeout=0.5)
                continue
            done, _ = concurrent.futures.wait(in_flight, timeout=0.5, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                name = in_flight.pop(future)
                result = future.result()
                state.finish(runner, name, result.get("applied", []), result.get("error"))
                kind = "target_failed" if "error" in result else "target_skipped" if result.get("skipped") else "target_done"
                show({"event": kind, "target": name, **{k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}})
        counts = state.counts()
    finally:
        stop.set()
        for future in in_flight:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        events.put(None)
        relaying.join()
        state.close()
    show({"event": "summary", "rollout": rollout.name, **{k: counts[k] for k in ("done", "failed", "pending", "running")}})
    if counts["canary_failed"]:
        raise FleetError(f"rollout {rollout.name} stopped: a canary failed ({counts['failed']} failed, "
                         f"{counts['pending']} targets not touched); `migrator fleet status` shows the error")
    if counts["failed"] >= rollout.max_failures:
        raise FleetError(f"rollout {rollout.name} stopped after {counts['failed']} failed target"
                         f"{'s' if counts['failed'] != 1 else ''} (--max-failures {rollout.max_failures}); "
                         f"{counts['pending']} not started; `migrator fleet status` shows the errors")
    return counts


def run_backfills(fleet: Fleet, make_runner: Callable, max_targets: int, show: Callable[[dict], None]) -> None:
    """Run a backfill (backfill.runner.Runner, made per target) on every target, max_targets at once,
    each with its own throttle; Ctrl-C stops them all at their checkpoints. Raises FleetError naming
    the targets that did not finish."""
    import signal

    tenants = [t.name for t in fleet.targets if t.schema is not None]
    if tenants:
        raise FleetError(f"target {tenants[0]}: a backfill records its state in migrator.backfills, one table per "
                         "database: run it on each tenant schema by name (--table SCHEMA.TABLE) instead")
    showing, runners = threading.Lock(), []

    def shown(event: dict) -> None:
        with showing:
            show(event)

    def backfill(target: Target) -> str:
        shown({"event": "target_start", "target": target.name})
        try:
            runner = make_runner(target)
            runner.emit = lambda event: shown({"target": target.name, **event})
            runners.append(runner)
            result = runner.run()
        except UserError as error:
            shown({"event": "target_failed", "target": target.name, "error": mask_password(first_line(error))})
            return "failed"
        kind = "target_done" if result.status == "done" else "target_failed"
        shown({"event": kind, "target": target.name, "status": result.status, "rows_changed": result.rows_changed,
               "seconds": round(result.elapsed, 2), **({"error": result.status} if kind == "target_failed" else {})})
        return result.status

    def stop_all(*_) -> None:
        for runner in runners:
            runner.stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_all)
    with concurrent.futures.ThreadPoolExecutor(max_targets) as pool:
        statuses = dict(zip((t.name for t in fleet.targets), pool.map(backfill, fleet.targets)))
    unfinished = [name for name, status in statuses.items() if status != "done"]
    if unfinished:
        raise FleetError(f"backfill not done on {len(unfinished)} of {len(statuses)} targets: {', '.join(unfinished[:10])}"
                         f"{' ...' if len(unfinished) > 10 else ''}; run the same command again to resume them")


def _skip_at_goal(target: Target, source) -> dict | None:
    """None when the target has work for a worker; else what to record: skipped, or why it failed."""
    started = time.monotonic()
    try:
        if not at_goal(target, source):
            return None
    except UserError as error:
        return {"error": mask_password(first_line(error))}
    except psycopg.Error as error:
        return {"error": mask_password(f"{type(error).__name__}: {first_line(error)}")}
    return {"skipped": True, "seconds": round(time.monotonic() - started, 3)}


def plan(fleet: Fleet, source) -> list[dict]:
    """Per target: the revisions it is behind by; `drift` marks targets whose position differs
    from the majority's."""
    rows = []
    for target in fleet.targets:
        try:
            with connect(target.connection_dsn, FleetError, application_name="migrator plan") as connection:
                behind = [version for version, _ in source.pending_files(connection)]
            rows.append({"target": target.name, "behind": behind})
        except UserError as error:
            rows.append({"target": target.name, "error": mask_password(first_line(error))})
    positions = collections.Counter(tuple(row["behind"]) for row in rows if "behind" in row)
    majority = positions.most_common(1)[0][0] if positions else ()
    for row in rows:
        row["drift"] = "behind" in row and tuple(row["behind"]) != majority
    return rows


# -- output ----------------------------------------------------------------------------------------
class FleetView:
    """JSON events, one a line with the target's name, or (on a terminal) a live rich table:
    counts by state, the targets in flight and the failures."""

    def __init__(self, json_events: bool):
        self.json_events = json_events
        # the events' stream, fixed now: whatever runs env.py in this process swaps sys.stdout for
        # sys.stderr meanwhile (process-wide), and the relay thread shows the workers' events at any time
        self.out = sys.stdout
        self.counts: collections.Counter = collections.Counter()
        self.running: dict[str, float] = {}
        self.notes: dict[str, str] = {}  # a running target's latest retry
        self.lock = threading.RLock()  # rich's refresh thread reads what show() writes (and print refreshes)
        self.failures: list[tuple[str, str]] = []
        self.live = None

    def __enter__(self) -> "FleetView":
        if not self.json_events:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(console=Console(stderr=True), refresh_per_second=4, get_renderable=self._table)
            self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.stop()

    def show(self, event: dict) -> None:
        if self.json_events:
            print(json.dumps({"time": round(time.time(), 3), **event}), file=self.out, flush=True)
            return
        with self.lock:
            self._record(event)

    def _record(self, event: dict) -> None:
        kind, name = event["event"], event.get("target")
        if kind == "target_start":
            self.running[name] = time.monotonic()
        elif kind in ("target_done", "target_skipped", "target_failed"):
            self.running.pop(name, None)
            self.notes.pop(name, None)
            self.counts[kind.removeprefix("target_")] += 1
            if kind == "target_failed":
                self.failures.append((name, event["error"]))
        elif kind == "retry":
            self.notes[name] = f"retry {event['attempt']} after {event['error']}"
        elif kind == "summary":
            self.live.console.print(f"rollout {event['rollout']}: {event['done']} done, {event['failed']} failed, "
                                    f"{event['pending']} pending")

    def _table(self):
        from rich.table import Table

        with self.lock:
            table = Table(title=", ".join(f"{state} {self.counts[state]}" for state in ("done", "skipped", "failed")), expand=False)
            for column in ("target", "state", "seconds / error"):
                table.add_column(column)
            now = time.monotonic()
            for name, since in list(self.running.items())[:20]:
                table.add_row(name, "[yellow]running", f"{now - since:.1f} {self.notes.get(name, '')}")
            for name, error in self.failures[-10:]:
                table.add_row(name, "[red]failed", error)
            return table
