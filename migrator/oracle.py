"""PostgreSQL as the judge: run a migration on a live server and compare what it did with the analyzer.

For each statement, run inside a transaction on tables that hold rows, we record what the server
really did: the lock modes this backend holds on each relation (``pg_locks``), whether a table got a
new file with its rows copied (``relfilenode`` changed: a rewrite), whether a table was read
through (the transaction's ``seq_scan`` counter in ``pg_stat_xact_user_tables``), whether the
statement was refused in a transaction block, and how long it took. ``disagreements`` names every
fact the analyzer states differently. Used by the test suite (tests/test_oracle.py) and by
``migrator trace``.

What is not compared, and why:
- scans of DML and queries (INSERT, UPDATE, DELETE, MERGE, SELECT, WITH, COPY): the planner decides;
- a rewrite the analyzer leaves open (a type change from a type the migration does not know);
- locks on indexes and partitions of a table the analyzer names, and on sequences it does not name:
  PostgreSQL takes them as part of the table's statement;
- TRUNCATE's new file: an empty one, not a rewrite (and the index rebuild over it reads no rows).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psycopg

from migrator.analyzer import Lock, Statement
from migrator.dbapi import Session, Status
from migrator.pgtypes import parse_type, type_change_rewrites

_MODES = {lock.name.lower().replace("_", ""): lock for lock in Lock}
_NOT_COMPARED_SCANS = {"insert", "update", "delete", "merge", "select", "with", "copy", "values", "truncate"}
TRANSACTION_CONTROL = {"begin", "commit", "rollback", "savepoint", "release_savepoint", "rollback_to_savepoint"}
_USER_RELATIONS = """
    SELECT c.oid, CASE WHEN n.nspname LIKE 'pg_temp%' THEN 'pg_temp' ELSE n.nspname END, c.relname, c.relkind,
           c.relfilenode
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"""


@dataclass
class Relation:
    oid: int
    schema: str
    name: str
    relkind: str
    filenode: int

    def __str__(self) -> str:
        return self.name if self.schema in ("public", "pg_temp") else f"{self.schema}.{self.name}"


@dataclass
class Observed:
    """What the server did for one statement."""

    locks: dict[str, Lock] = field(default_factory=dict)  # relation -> strongest mode held after it
    new_locks: dict[str, Lock] = field(default_factory=dict)  # relation -> strongest mode it newly took
    rewritten: list[str] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    refused: str | None = None  # refused in a transaction block: PostgreSQL's message
    error: str | None = None  # any other error: PostgreSQL's message
    milliseconds: float = 0.0
    ran: bool = True  # False: not run (transaction control is the observer's own)
    in_transaction: bool = True  # False: run in autocommit, so its locks ended with it
    control: bool = False  # BEGIN / COMMIT / ROLLBACK of the migration itself
    sampled: bool = False  # run outside a transaction block: its locks seen from another session, its scans not observed
    before: dict[int, Relation] = field(default_factory=dict)  # the user relations before the statement
    related: set[int] = field(default_factory=set)  # relations locked along with the ones the analyzer names


@dataclass
class Expected:
    """The analyzer's facts for one top-level statement (a DO block: its body's statements together)."""

    locks: dict[int, Lock]  # relation oid -> strongest mode
    rewrites: bool | None  # None: the analyzer leaves it open
    scans: bool | None  # None: not compared
    refused: bool
    # False: a part the analyzer could not read (lint reports it unanalyzable): it may lock, rewrite or
    # scan anything, so only what the analyzer does state is held against the server
    complete: bool = True


@dataclass
class Watch:
    """A statement under observation: what was true just before it was sent."""

    observed: Observed
    expected: Expected
    truncates: bool  # TRUNCATE gives its table an empty new file, not a rewrite
    locks_before: dict[int, set[Lock]]
    scans_before: dict[int, int]
    started: float = 0.0


def _lock_mode(mode: str) -> Lock:
    return _MODES[mode.lower().replace("lock", "")]


def error_sqlstate(error: Exception) -> str | None:
    """The SQLSTATE of a psycopg 3 or psycopg2 error."""
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


class Observer:
    """Runs statements one by one on a connection inside an open transaction and records their effects.

    The connection is psycopg 3's or psycopg2's (a DBAPI connection under SQLAlchemy: see migrator.dbapi)."""

    def __init__(self, connection):
        self.session = connection if isinstance(connection, Session) else Session(connection)

    def _relations(self) -> dict[int, Relation]:
        return {row[0]: Relation(*row) for row in self.session.rows(_USER_RELATIONS)}

    def _locks(self) -> dict[int, set[Lock]]:
        held: dict[int, set[Lock]] = {}
        rows = self.session.rows(
            "SELECT relation, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted")
        for oid, mode in rows:
            held.setdefault(oid, set()).add(_lock_mode(mode))
        return held

    def _scans(self) -> dict[int, int]:
        return dict(self.session.rows("SELECT relid, seq_scan FROM pg_stat_xact_user_tables"))

    def expected(self, statements: list[Statement]) -> Expected:
        """The analyzer's facts for statements sent together, with its relation names resolved to oids by
        the server (search_path included)."""
        locks: dict[int, Lock] = {}
        rewrites, scans, refused, complete = False, False, False, True
        compare_scans = True
        for part in (part for statement in statements for part in statement.walk()):
            refused |= part.no_transaction is not None
            complete &= part.unanalyzable is None
            if part.kind in _NOT_COMPARED_SCANS:
                compare_scans = False
            part_rewrites = self._rewrites_with_catalog_types(part)
            if part_rewrites is None:  # a rewrite left open leaves the scan open too
                rewrites, compare_scans = None, False
            elif rewrites is not None:
                rewrites |= part_rewrites
            scans |= part.scans or bool(part_rewrites)  # a rewrite reads every row
            for target in part.locks:
                for oid in self._oids(target):
                    locks[oid] = max(locks.get(oid, target.lock), target.lock)
            for action in (action for action in part.actions if action.partner_lock is not None):
                for oid in self._foreign_key_partners(part.relation, action.column):
                    locks[oid] = max(locks.get(oid, action.partner_lock), action.partner_lock)
        if not complete:  # what the unread part does is open
            rewrites, scans = rewrites or None, scans or None
        return Expected(locks, rewrites, scans if compare_scans else None, refused, complete)

    def _rewrites_with_catalog_types(self, statement: Statement) -> bool | None:
        """The statement's rewrite fact; a type change the analyzer left open is decided with the column's
        type as the catalog has it (format_type), through the same type_change_rewrites the analyzer uses."""
        if all(action.rewrites is not None for action in statement.actions):
            return bool(statement.rewrites)
        verdicts = []
        for action in statement.actions:
            verdict = action.rewrites
            if verdict is None and action.kind == "alter_column_type":
                rows = self.session.rows(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                    "AND attname = %s AND NOT attisdropped", (str(statement.relation), action.column))
                old = parse_type(rows[0][0]) if rows else None
                [(version,)] = self.session.rows("SELECT current_setting('server_version_num')::int / 10000")
                verdict = type_change_rewrites(old, action.data_type, action.using_casts, version) if old else None
            verdicts.append(verdict)
        return None if None in verdicts else any(verdicts)

    def _oids(self, target) -> list[int]:
        name = str(target.relation)
        if target.kind == "domain_users":
            rows = self.session.rows(
                "SELECT DISTINCT a.attrelid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE a.atttypid = to_regtype(%s) AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm')",
                (name,))
            return [row[0] for row in rows]
        if target.kind == "owned_by":
            rows = self.session.rows("SELECT oid FROM pg_class WHERE relowner = to_regrole(%s) AND relkind IN ('r', 'p', 'm')",
                                     (name,))
            return [row[0] for row in rows]
        [(oid,)] = self.session.rows("SELECT to_regclass(%s)::oid", (name,))
        return [oid] if oid is not None else []

    def _foreign_key_partners(self, table, column: str) -> list[int]:
        """The tables at the other end of the foreign keys `column` of `table` is in, at either end."""
        rows = self.session.rows("""
            SELECT DISTINCT CASE WHEN f.conrelid = a.attrelid THEN f.confrelid ELSE f.conrelid END
            FROM pg_attribute a JOIN pg_constraint f ON f.contype = 'f'
             AND (f.conrelid = a.attrelid AND a.attnum = ANY(f.conkey) OR f.confrelid = a.attrelid AND a.attnum = ANY(f.confkey))
            WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped""", (str(table), column))
        return [row[0] for row in rows]

    def _related(self, oids) -> set[int]:
        """Relations PostgreSQL locks along with the named ones: a named index's table, a named table's
        indexes, partitions and TOAST, sequences owned by its columns."""
        if not oids:
            return set()
        rows = self.session.rows("""
            SELECT indrelid FROM pg_index WHERE indexrelid = ANY(%(o)s::oid[])
            UNION SELECT indexrelid FROM pg_index WHERE indrelid = ANY(%(o)s::oid[])
            UNION SELECT inhrelid FROM pg_inherits WHERE inhparent = ANY(%(o)s::oid[])
            UNION SELECT objid FROM pg_depend WHERE refobjid = ANY(%(o)s::oid[]) AND classid = 'pg_class'::regclass
        """, {"o": list(oids)})
        return {row[0] for row in rows}

    def run(self, sql: str, statement: Statement) -> tuple[Observed, Expected | None]:
        """Run one statement (inside a savepoint: a refusal or an error leaves the transaction usable)."""
        if statement.kind in TRANSACTION_CONTROL:
            return Observed(ran=False), None
        watch = self.start([statement])
        try:
            self.session.run(sql)
        except psycopg.Error as error:  # what PostgreSQL said is the observation
            self.failed(watch, error)
            return watch.observed, watch.expected
        self.finish(watch)
        return watch.observed, watch.expected

    def start(self, statements: list[Statement]) -> Watch:
        """Before statements are sent together (in an open transaction): the state to compare with, and a savepoint."""
        expected = self.expected(statements)
        relations = self._relations()
        watch = Watch(Observed(before=relations, related=self._related(expected.locks)), expected,
                      any(statement.kind == "truncate" for statement in statements), self._locks(), self._scans())
        self.session.run("SAVEPOINT migrator_oracle")
        watch.started = time.perf_counter()
        return watch

    def failed(self, watch: Watch, error: Exception) -> None:
        """The statement failed: PostgreSQL's message is the observation; the savepoint makes the transaction usable."""
        observed = watch.observed
        observed.milliseconds = (time.perf_counter() - watch.started) * 1000
        self.session.run("ROLLBACK TO SAVEPOINT migrator_oracle")
        message = str(error).strip().splitlines()[0]
        if error_sqlstate(error) == "25001":  # active_sql_transaction
            observed.refused = message
        else:
            observed.error = message

    def finish(self, watch: Watch) -> None:
        """The statement ran: the locks this backend now holds, rewritten and scanned tables."""
        observed, relations = watch.observed, watch.observed.before
        observed.milliseconds = (time.perf_counter() - watch.started) * 1000
        self.session.run("RELEASE SAVEPOINT migrator_oracle")
        after = self._relations()
        names = {**{oid: str(r) for oid, r in after.items()}, **{oid: str(r) for oid, r in relations.items()}}
        for oid, modes in self._locks().items():
            if oid in names:
                observed.locks[names[oid]] = max(modes)
                fresh = modes - watch.locks_before.get(oid, set())
                if fresh and max(fresh) > max(watch.locks_before.get(oid, set()), default=0):
                    observed.new_locks[names[oid]] = max(fresh)
        observed.rewritten = [str(r) for oid, r in relations.items()
                              if r.relkind in ("r", "m") and oid in after and after[oid].filenode != r.filenode
                              and not watch.truncates]
        observed.scanned = [names[oid] for oid, count in self._scans().items()
                            if oid in relations and count > watch.scans_before.get(oid, 0)]

    def disagreements(self, observed: Observed, expected: Expected | None) -> list[str]:
        """Every fact the analyzer states differently from what the server did."""
        if expected is None:
            return []
        if observed.sampled:
            return self._sampled_disagreements(observed, expected)
        if observed.refused or observed.error:
            if expected.refused and observed.refused:
                return []
            if expected.refused:
                return [f"analyzer: refused in a transaction block; server: {observed.error or 'ran'}"]
            if observed.refused:
                return [f"server refused it in a transaction block ({observed.refused}); the analyzer did not say so"]
            return [f"server error: {observed.error}"]
        problems = []
        if expected.refused:
            problems.append("analyzer: refused in a transaction block; server: ran it")
        relations = observed.before
        named, related = set(expected.locks), observed.related
        for oid, lock in expected.locks.items():
            name = str(relations[oid]) if oid in relations else None
            if name is None:
                continue  # created by this statement
            held = observed.locks.get(name)
            fresh = observed.new_locks.get(name)
            if held is None or held < lock:
                problems.append(f"{name}: analyzer says {lock.label}, server holds {held.label if held else 'no lock'}")
            elif fresh is not None and fresh > lock and expected.complete:
                problems.append(f"{name}: analyzer says {lock.label}, server took {fresh.label}")
        for oid, relation in relations.items():
            fresh = observed.new_locks.get(str(relation))
            if oid in named or oid in related or fresh is None or relation.relkind not in ("r", "p", "m") \
                    or not expected.complete:
                continue
            if fresh >= Lock.SHARE_UPDATE_EXCLUSIVE:
                problems.append(f"{relation}: server took {fresh.label}; the analyzer names no lock on it")
        problems += _rewrite_disagreement(observed, expected)
        if expected.scans is not None and expected.scans != bool(observed.scanned):
            said = "a scan" if expected.scans else "no scan"
            did = f"scanned {', '.join(observed.scanned)}" if observed.scanned else "scanned no table"
            problems.append(f"analyzer says {said}; server {did}")
        return problems

    def _sampled_disagreements(self, observed: Observed, expected: Expected) -> list[str]:
        """What a statement run outside a transaction block shows against the analyzer: a lock seen stronger than
        the one it states (one not seen may have been held between two samples), and the rewrite."""
        if observed.error:
            return []
        problems = []
        for oid, lock in expected.locks.items():
            name = str(observed.before[oid]) if oid in observed.before else None
            seen = observed.new_locks.get(name) if name else None
            if seen is not None and seen > lock and expected.complete:
                problems.append(f"{name}: analyzer says {lock.label}, server took {seen.label} (seen while it ran)")
        return problems + _rewrite_disagreement(observed, expected)


def _rewrite_disagreement(observed: Observed, expected: Expected) -> list[str]:
    if expected.rewrites is None or expected.rewrites == bool(observed.rewritten):
        return []
    said = "a rewrite" if expected.rewrites else "no rewrite"
    did = f"rewrote {', '.join(observed.rewritten)}" if observed.rewritten else "kept every table's file"
    return [f"analyzer says {said}; server {did}"]


# --- statements outside a transaction block -----------------------------------------------------
SAMPLE_INTERVAL = 0.002  # seconds between two reads of pg_locks while a statement runs outside a transaction block
_LOCKS_OF = """SELECT l.relation, l.mode FROM pg_locks l
    WHERE l.pid = %s AND l.locktype = 'relation' AND l.granted AND l.relation >= 16384
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"""


class OutsideWatch:
    """A statement that runs outside a transaction block, watched: it releases its locks as it ends (CONCURRENTLY
    ones commit several times on the way), so they are read from another session while it runs, every
    SAMPLE_INTERVAL (a lock held for less can be missed); a rewrite is read from the catalog after it
    (relfilenode); its scans are not observed (the statistics reach other sessions late, if at all).

    session: the statement's; watcher: another connection to the same database, used by the sampling thread;
    statements: the analyzer's, whose facts it is compared with (Observer.disagreements)."""

    def __init__(self, session: Session, watcher, statements: list[Statement]):
        self.observer = Observer(session)
        self.expected = self.observer.expected(statements)
        self.watcher = watcher if isinstance(watcher, Session) else Session(watcher)
        [(self.pid,)] = self.observer.session.rows("SELECT pg_backend_pid()")
        self.observed = Observed(in_transaction=False, sampled=True, before=self.observer._relations())
        self._seen: dict[int, Lock] = {}  # relation oid -> strongest mode seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.started = time.perf_counter()

    def _sample(self) -> None:
        while True:
            for oid, mode in self.watcher.rows(_LOCKS_OF, (self.pid,)):
                self._seen[oid] = max(self._seen.get(oid, Lock.ACCESS_SHARE), _lock_mode(mode))
            if self._stop.wait(SAMPLE_INTERVAL):
                return

    def finish(self, error: Exception | None = None) -> Observed:
        """The statement ended (with PostgreSQL's error, if it failed): what was seen of it."""
        observed = self.observed
        observed.milliseconds = (time.perf_counter() - self.started) * 1000
        self._stop.set()
        self._thread.join()
        if error is not None:
            observed.error = str(error).strip().splitlines()[0]
            return observed
        after = self.observer._relations()
        names = {oid: str(r) for oid, r in {**after, **observed.before}.items()}  # dropped by it: its name before
        observed.locks = observed.new_locks = {names[oid]: lock for oid, lock in self._seen.items() if oid in names}
        observed.rewritten = [str(r) for oid, r in observed.before.items()
                              if r.relkind in ("r", "m") and oid in after and after[oid].filenode != r.filenode]
        return observed


# --- tables with rows ---------------------------------------------------------------------
_VALUE_BY_TYPE = {
    "smallint": "g::smallint", "integer": "g", "bigint": "g", "numeric": "g", "real": "g", "double precision": "g",
    "text": "'v' || g", "character varying": "'v' || g", "character": "'v'", "boolean": "g % 2 = 0",
    "date": "current_date", "timestamp without time zone": "now()", "timestamp with time zone": "now()",
    "uuid": "md5(g::text)::uuid", "json": "'{}'", "jsonb": "'{}'", "bytea": "'\\x00'",
    "inet": "'10.0.0.1'", "cidr": "'10.0.0.0/8'", "interval": "'1 day'",
}


def populate(connection, rows: int = 3, skip: frozenset[str] = frozenset()) -> list[str]:
    """Fill every empty user table with a few rows (referenced tables first); the tables it could not fill.

    connection: psycopg 3's or psycopg2's, or a migrator.dbapi Session; skip: tables left alone
    (schema.name as format('%I.%I') writes it: a migration tool's version table)."""
    session = connection if isinstance(connection, Session) else Session(connection)
    tables = session.rows("""
        SELECT c.oid, format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
        ORDER BY (SELECT count(*) FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f'), c.oid""")
    unfilled = []
    for oid, name in tables:
        if name in skip:
            continue
        columns = session.rows("""
            SELECT a.attname, format_type(t.oid, NULL), t.typtype, a.attnotnull, a.atthasdef, a.attidentity, a.attgenerated,
                   (SELECT format('%%s', f.confrelid::regclass) FROM pg_constraint f
                    WHERE f.conrelid = a.attrelid AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]
                    LIMIT 1),
                   (SELECT format('%%I', fa.attname) FROM pg_constraint f JOIN pg_attribute fa ON fa.attrelid = f.confrelid
                    AND fa.attnum = f.confkey[1] WHERE f.conrelid = a.attrelid AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]
                    LIMIT 1),
                   t.typbasetype
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", (oid,))
        names, values = [], []
        for column, type_name, typtype, not_null, has_default, identity, generated, referenced, referenced_column, base in columns:
            if identity or generated or has_default:
                continue
            if referenced:
                value = f"(SELECT {referenced_column} FROM {referenced} ORDER BY 1 OFFSET (g - 1) % {rows} LIMIT 1)"
            elif typtype == "e":
                value = f"(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = '{type_name}'::regtype ORDER BY enumsortorder LIMIT 1)"
            elif typtype == "d":
                [(base_name,)] = session.rows("SELECT format_type(%s, NULL)", (base,))
                value = _VALUE_BY_TYPE.get(base_name.removesuffix("[]"))
            else:
                value = _VALUE_BY_TYPE.get(type_name.removesuffix("[]"))
            if value is not None and type_name.endswith("[]"):
                value = f"ARRAY[{value}]"
            if value is None:
                if not_null:
                    break
                continue
            names.append(f'"{column}"')
            values.append(f"({value})::{type_name}")
        else:
            if session.rows(f"SELECT NOT EXISTS (SELECT FROM {name})")[0][0]:
                sql = f"INSERT INTO {name} ({', '.join(names)}) SELECT {', '.join(values)} FROM generate_series(1, {rows}) g" \
                    if names else f"INSERT INTO {name} SELECT FROM generate_series(1, {rows})"
                if not _insert(session, sql):  # a CHECK or a key the generated rows break
                    unfilled.append(name)
            continue
        unfilled.append(name)
    return unfilled


def _insert(session: Session, sql: str) -> bool:
    """Run an INSERT that may fail without spoiling the transaction in progress (a savepoint; in
    autocommit a failed statement spoils nothing); whether it succeeded."""
    savepoint = not session.autocommit or session.status != Status.IDLE
    if savepoint:
        session.run("SAVEPOINT migrator_populate")
    try:
        session.run(sql)
    except session.errors:
        if savepoint:
            session.run("ROLLBACK TO SAVEPOINT migrator_populate")
        return False
    if savepoint:
        session.run("RELEASE SAVEPOINT migrator_populate")
    return True
