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

import time
from dataclasses import dataclass, field

import psycopg

from migrator.analyzer import Lock, Statement
from migrator.pgtypes import parse_type, type_change_rewrites

_MODES = {lock.name.lower().replace("_", ""): lock for lock in Lock}
_NOT_COMPARED_SCANS = {"insert", "update", "delete", "merge", "select", "with", "copy", "values", "truncate"}
_TRANSACTION_CONTROL = {"begin", "commit", "rollback", "savepoint"}
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
    before: dict[int, Relation] = field(default_factory=dict)  # the user relations before the statement
    related: set[int] = field(default_factory=set)  # relations locked along with the ones the analyzer names


@dataclass
class Expected:
    """The analyzer's facts for one top-level statement (a DO block: its body's statements together)."""

    locks: dict[int, Lock]  # relation oid -> strongest mode
    rewrites: bool | None  # None: the analyzer leaves it open
    scans: bool | None  # None: not compared
    refused: bool


def _lock_mode(mode: str) -> Lock:
    return _MODES[mode.lower().replace("lock", "")]


class Observer:
    """Runs statements one by one on a connection inside an open transaction and records their effects."""

    def __init__(self, connection):
        self.connection = connection

    def _relations(self) -> dict[int, Relation]:
        return {row[0]: Relation(*row) for row in self.connection.execute(_USER_RELATIONS).fetchall()}

    def _locks(self) -> dict[int, set[Lock]]:
        held: dict[int, set[Lock]] = {}
        rows = self.connection.execute(
            "SELECT relation, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted"
        ).fetchall()
        for oid, mode in rows:
            held.setdefault(oid, set()).add(_lock_mode(mode))
        return held

    def _scans(self) -> dict[int, int]:
        return dict(self.connection.execute("SELECT relid, seq_scan FROM pg_stat_xact_user_tables").fetchall())

    def expected(self, statement: Statement) -> Expected:
        """The analyzer's facts, with its relation names resolved to oids by the server (search_path included)."""
        locks: dict[int, Lock] = {}
        rewrites, scans, refused = False, False, False
        compare_scans = True
        for part in statement.walk():
            refused |= part.no_transaction is not None
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
        return Expected(locks, rewrites, scans if compare_scans else None, refused)

    def _rewrites_with_catalog_types(self, statement: Statement) -> bool | None:
        """The statement's rewrite fact; a type change the analyzer left open is decided with the column's
        type as the catalog has it (format_type), through the same type_change_rewrites the analyzer uses."""
        if all(action.rewrites is not None for action in statement.actions):
            return bool(statement.rewrites)
        verdicts = []
        for action in statement.actions:
            verdict = action.rewrites
            if verdict is None and action.kind == "alter_column_type":
                row = self.connection.execute(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                    "AND attname = %s AND NOT attisdropped", (str(statement.relation), action.column)).fetchone()
                old = parse_type(row[0]) if row else None
                version = self.connection.info.server_version // 10000
                verdict = type_change_rewrites(old, action.data_type, action.using_casts, version) if old else None
            verdicts.append(verdict)
        return None if None in verdicts else any(verdicts)

    def _oids(self, target) -> list[int]:
        name = str(target.relation)
        if target.kind == "domain_users":
            rows = self.connection.execute(
                "SELECT DISTINCT a.attrelid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE a.atttypid = to_regtype(%s) AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm')",
                (name,)).fetchall()
            return [row[0] for row in rows]
        oid = self.connection.execute("SELECT to_regclass(%s)::oid", (name,)).fetchone()[0]
        return [oid] if oid is not None else []

    def _related(self, oids) -> set[int]:
        """Relations PostgreSQL locks along with the named ones: a named index's table, a named table's
        indexes, partitions and TOAST, sequences owned by its columns."""
        if not oids:
            return set()
        rows = self.connection.execute("""
            SELECT indrelid FROM pg_index WHERE indexrelid = ANY(%(o)s)
            UNION SELECT indexrelid FROM pg_index WHERE indrelid = ANY(%(o)s)
            UNION SELECT inhrelid FROM pg_inherits WHERE inhparent = ANY(%(o)s)
            UNION SELECT objid FROM pg_depend WHERE refobjid = ANY(%(o)s) AND classid = 'pg_class'::regclass
        """, {"o": list(oids)}).fetchall()
        return {row[0] for row in rows}

    def run(self, sql: str, statement: Statement) -> tuple[Observed, Expected | None]:
        """Run one statement (inside a savepoint: a refusal or an error leaves the transaction usable)."""
        if statement.kind in _TRANSACTION_CONTROL:
            return Observed(ran=False), None
        expected = self.expected(statement)
        relations = self._relations()
        locks_before, scans_before = self._locks(), self._scans()
        observed = Observed(before=relations, related=self._related(expected.locks))
        self.connection.execute("SAVEPOINT migrator_oracle")
        started = time.perf_counter()
        try:
            self.connection.execute(sql)
        except psycopg.Error as error:  # what PostgreSQL said is the observation
            observed.milliseconds = (time.perf_counter() - started) * 1000
            self.connection.execute("ROLLBACK TO SAVEPOINT migrator_oracle")
            message = str(error).strip().splitlines()[0]
            if getattr(error, "sqlstate", None) == "25001":  # active_sql_transaction
                observed.refused = message
            else:
                observed.error = message
            return observed, expected
        observed.milliseconds = (time.perf_counter() - started) * 1000
        self.connection.execute("RELEASE SAVEPOINT migrator_oracle")
        after = self._relations()
        names = {**{oid: str(r) for oid, r in after.items()}, **{oid: str(r) for oid, r in relations.items()}}
        for oid, modes in self._locks().items():
            if oid in names:
                observed.locks[names[oid]] = max(modes)
                fresh = modes - locks_before.get(oid, set())
                if fresh and max(fresh) > max(locks_before.get(oid, set()), default=0):
                    observed.new_locks[names[oid]] = max(fresh)
        observed.rewritten = [str(r) for oid, r in relations.items()
                              if r.relkind in ("r", "m") and oid in after and after[oid].filenode != r.filenode
                              and statement.kind != "truncate"]
        observed.scanned = [names[oid] for oid, count in self._scans().items()
                            if oid in relations and count > scans_before.get(oid, 0)]
        return observed, expected

    def disagreements(self, statement: Statement, observed: Observed, expected: Expected | None) -> list[str]:
        """Every fact the analyzer states differently from what the server did."""
        if expected is None:
            return []
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
            elif fresh is not None and fresh > lock:
                problems.append(f"{name}: analyzer says {lock.label}, server took {fresh.label}")
        for oid, relation in relations.items():
            fresh = observed.new_locks.get(str(relation))
            if oid in named or oid in related or fresh is None or relation.relkind not in ("r", "p", "m"):
                continue
            if fresh >= Lock.SHARE_UPDATE_EXCLUSIVE:
                problems.append(f"{relation}: server took {fresh.label}; the analyzer names no lock on it")
        if expected.rewrites is not None and expected.rewrites != bool(observed.rewritten):
            said = "a rewrite" if expected.rewrites else "no rewrite"
            did = f"rewrote {', '.join(observed.rewritten)}" if observed.rewritten else "kept every table's file"
            problems.append(f"analyzer says {said}; server {did}")
        if expected.scans is not None and expected.scans != bool(observed.scanned):
            said = "a scan" if expected.scans else "no scan"
            did = f"scanned {', '.join(observed.scanned)}" if observed.scanned else "scanned no table"
            problems.append(f"analyzer says {said}; server {did}")
        return problems


# --- tables with rows ---------------------------------------------------------------------
_VALUE_BY_TYPE = {
    "smallint": "g::smallint", "integer": "g", "bigint": "g", "numeric": "g", "real": "g", "double precision": "g",
    "text": "'v' || g", "character varying": "'v' || g", "character": "'v'", "boolean": "g % 2 = 0",
    "date": "current_date", "timestamp without time zone": "now()", "timestamp with time zone": "now()",
    "uuid": "md5(g::text)::uuid", "json": "'{}'", "jsonb": "'{}'", "bytea": "'\\x00'",
    "inet": "'10.0.0.1'", "cidr": "'10.0.0.0/8'", "interval": "'1 day'",
}


def populate(connection, rows: int = 3) -> list[str]:
    """Fill every empty user table with a few rows (referenced tables first); the tables it could not fill."""
    tables = connection.execute("""
        SELECT c.oid, format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
        ORDER BY (SELECT count(*) FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f'), c.oid""").fetchall()
    unfilled = []
    for oid, name in tables:
        columns = connection.execute("""
            SELECT a.attname, format_type(t.oid, NULL), t.typtype, a.attnotnull, a.atthasdef, a.attidentity, a.attgenerated,
                   (SELECT format('%%s', f.confrelid::regclass) FROM pg_constraint f
                    WHERE f.conrelid = a.attrelid AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]
                    LIMIT 1),
                   (SELECT format('%%I', fa.attname) FROM pg_constraint f JOIN pg_attribute fa ON fa.attrelid = f.confrelid
                    AND fa.attnum = f.confkey[1] WHERE f.conrelid = a.attrelid AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]
                    LIMIT 1),
                   t.typbasetype
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", (oid,)).fetchall()
        names, values = [], []
        for column, type_name, typtype, not_null, has_default, identity, generated, referenced, referenced_column, base in columns:
            if identity or generated or has_default:
                continue
            if referenced:
                value = f"(SELECT {referenced_column} FROM {referenced} ORDER BY 1 OFFSET (g - 1) % {rows} LIMIT 1)"
            elif typtype == "e":
                value = f"(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = '{type_name}'::regtype ORDER BY enumsortorder LIMIT 1)"
            elif typtype == "d":
                base_name = connection.execute("SELECT format_type(%s, NULL)", (base,)).fetchone()[0]
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
            if connection.execute(f"SELECT NOT EXISTS (SELECT FROM {name})").fetchone()[0]:
                sql = f"INSERT INTO {name} ({', '.join(names)}) SELECT {', '.join(values)} FROM generate_series(1, {rows}) g" \
                    if names else f"INSERT INTO {name} SELECT FROM generate_series(1, {rows})"
                try:
                    with connection.transaction():  # a savepoint inside a transaction
                        connection.execute(sql)
                except psycopg.Error:  # a CHECK or a key the generated rows break
                    unfilled.append(name)
            continue
        unfilled.append(name)
    return unfilled
