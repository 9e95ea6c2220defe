"""PostgreSQL judges the disagreements of bench/peer_agreement.py: each case runs on a live sandbox.

The world a case assumes (its tables, columns, domains, schemas, roles) is built from the server's own
complaints: the case runs in a transaction that is rolled back, and each `relation "x" does not exist`
(and its kin) creates the object, until nothing the case names is missing; then every table gets a few
rows (migrator.oracle.populate). Tables of that world are the pre-existing ones; what the case creates
is new. On a fresh copy of the world per question, the server's facts:

- per statement in one transaction (migrator.oracle.Observer): the locks taken, rewrite, scans,
  refusal in a transaction block, any other refusal;
- the probe: the case run statement by statement in autocommit, with lock_timeout 1s, while another
  transaction holds ROW EXCLUSIVE (a writer's lock) on every pre-existing table: a statement that ends
  with `lock timeout` queues readers or writers (or waits for the writer); one that completes conflicts
  with neither reads nor writes of a pre-existing table;
- reruns: after each prefix of the case ran, the whole case again (does a second run succeed?);
- a failed CONCURRENTLY build: CREATE INDEX CONCURRENTLY cut short by lock_timeout while a writer holds
  the table, then run again: whether the rerun succeeds and the index is left INVALID.

`judge` decides each disagreement from these facts, by the meaning of the migrator rule: for migrator
(the rules mean different things here) only with the server fact that shows it; otherwise against.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import psycopg

from migrator.analyzer import Lock
from migrator.config import Config
from migrator.lint import Linter
from migrator.oracle import TRANSACTION_CONTROL, Observed, Observer, populate
from migrator.pgnames import quote_identifier
from migrator.sandbox import Cluster
from migrator.testing import SETTINGS

_numbers = itertools.count(1)
_USER_TABLES = """SELECT format('%I.%I', n.nspname, c.relname), CASE WHEN n.nspname = 'public' THEN c.relname
    ELSE n.nspname || '.' || c.relname END FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"""
# the server's complaints about a missing object, and what makes it
_MISSING = [
    (re.compile(r'column "(.+?)" of relation "(.+?)" does not exist'),
     lambda m, rel: f"ALTER TABLE {quote_identifier(m[2])} ADD COLUMN {quote_identifier(m[1])} int"),
    (re.compile(r'column "(.+?)" does not exist'),
     lambda m, rel: rel and f"ALTER TABLE {rel} ADD COLUMN {quote_identifier(m[1])} int"),
    (re.compile(r'relation "(.+?)" does not exist'),
     lambda m, rel: f"CREATE TABLE {quote_identifier(m[1])} (id bigint PRIMARY KEY)"),
    (re.compile(r'constraint "(.+?)" of domain "(.+?)" does not exist'),
     lambda m, rel: f"ALTER DOMAIN {quote_identifier(m[2])} ADD CONSTRAINT {quote_identifier(m[1])} CHECK (true)"),
    (re.compile(r'constraint "(.+?)" for domain (.+?) does not exist'),
     lambda m, rel: f"ALTER DOMAIN {m[2]} ADD CONSTRAINT {quote_identifier(m[1])} CHECK (true)"),
    (re.compile(r'constraint "(.+?)" of relation "(.+?)" does not exist'),
     lambda m, rel: f"ALTER TABLE {quote_identifier(m[2])} ADD CONSTRAINT {quote_identifier(m[1])} CHECK (true)"),
    (re.compile(r'type "(.+?)" does not exist'),  # a domain, and a table that uses it
     lambda m, rel: f"CREATE DOMAIN {quote_identifier(m[1])} AS int; "
                    f"CREATE TABLE {quote_identifier(m[1] + '_users')} (id bigint PRIMARY KEY, v {quote_identifier(m[1])})"),
    (re.compile(r'schema "(.+?)" does not exist'), lambda m, rel: f"CREATE SCHEMA {quote_identifier(m[1])}"),
    (re.compile(r'role "(.+?)" does not exist'), lambda m, rel: f"CREATE ROLE {quote_identifier(m[1])}"),
]


_MADE_TYPE = re.compile(r"CREATE DOMAIN (.+?) AS int; ")  # what _MISSING makes of a missing type
_TYPE_POLICIES = {"prefer-big-int", "prefer-text-field", "prefer-timestamptz", "prefer-identity"}


@dataclass
class StatementFacts:
    sql: str
    line: int
    observed: Observed | None = None  # in one transaction (None: transaction control)
    probe: str | None = None  # None: completed while writers held every pre-existing table; else the error
    first_run: str | None = None  # its error when the case runs once, statement by statement
    rerun_failures: list[str] = field(default_factory=list)  # "after statements 1-k ran, fails: error"
    failed_build: str | None = None  # a CONCURRENTLY build cut short, then run again: what the server shows


@dataclass
class CaseFacts:
    world: list[str]  # what the case assumed, made before it ran
    pre_existing: list[str]  # its tables, named as migrator.oracle names relations
    pre_existing_sql: list[str]  # the same, as SQL
    statements: list[StatementFacts]
    empty: list[str]  # pre-existing tables populate could not fill


class Judge:
    """A sandbox primary on which each case's world is built and its facts collected."""

    def __init__(self):
        self.cluster = Cluster(replicas=0, settings=SETTINGS).start()

    def close(self) -> None:
        self.cluster.stop()

    def _database(self, template: str | None = None) -> str:
        name = f"peer_{next(_numbers)}"
        with psycopg.connect(self.cluster.primary.dsn(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return name

    def facts(self, sql: str, pg_version: int = 15) -> CaseFacts:
        statements = Linter(Config(pg_version=pg_version)).analyzer.analyze(sql)
        world_db = self._database()
        world = self._build_world(world_db, statements)
        with psycopg.connect(self.cluster.primary.dsn(world_db), autocommit=True) as connection:
            empty = populate(connection)
            tables = connection.execute(_USER_TABLES).fetchall()
        facts = CaseFacts(world, [name for _, name in tables], [sql for sql, _ in tables],
                          [StatementFacts(s.sql, s.line) for s in statements], empty)
        self._observe(self._database(world_db), statements, facts)
        self._probe(self._database(world_db), statements, facts)
        for prefix in range(len(statements) + 1):
            self._rerun(self._database(world_db), statements, prefix, facts)
        for statement, fact in zip(statements, facts.statements):
            if statement.kind == "create_index" and statement.concurrently:
                fact.failed_build = self._failed_build(self._database(world_db), statement)
        return facts

    def _build_world(self, world_db: str, statements) -> list[str]:
        """Run the case on a scratch copy of the world, as psql would, statement by statement; make what the
        first complaint about a missing object names in the world; again until nothing is missing."""
        made: list[str] = []
        for _ in range(30):
            missing = None
            with psycopg.connect(self.cluster.primary.dsn(self._database(world_db)), autocommit=True) as scratch:
                for statement in statements:
                    error = _run(scratch, statement.sql)
                    missing = error and _maker(error, statement.relation)
                    if missing:
                        break
            if not missing or missing in made:
                return made
            with psycopg.connect(self.cluster.primary.dsn(world_db), autocommit=True) as world:
                if _run(world, missing):
                    return made
            made.append(missing)
        return made

    def _observe(self, database: str, statements, facts: CaseFacts) -> None:
        with psycopg.connect(self.cluster.primary.dsn(database), autocommit=True) as connection:
            observer = Observer(connection)
            connection.execute("BEGIN")
            for statement, fact in zip(statements, facts.statements):
                if statement.kind not in TRANSACTION_CONTROL:
                    fact.observed, _ = observer.run(statement.sql, statement)
            connection.execute("ROLLBACK")

    def _probe(self, database: str, statements, facts: CaseFacts) -> None:
        with psycopg.connect(self.cluster.primary.dsn(database), autocommit=True) as writer, \
                psycopg.connect(self.cluster.primary.dsn(database), autocommit=True) as connection:
            writer.execute("BEGIN")
            if facts.pre_existing_sql:
                writer.execute(f"LOCK TABLE {', '.join(facts.pre_existing_sql)} IN ROW EXCLUSIVE MODE")
            connection.execute("SET lock_timeout = '1s'")
            for statement, fact in zip(statements, facts.statements):
                fact.probe = _run(connection, statement.sql)
            writer.execute("ROLLBACK")

    def _rerun(self, database: str, statements, prefix: int, facts: CaseFacts) -> None:
        """Statements 1..prefix, then the whole case (prefix 0: its first run, whose errors are not a rerun's)."""
        with psycopg.connect(self.cluster.primary.dsn(database), autocommit=True) as connection:
            for statement in statements[:prefix]:
                _run(connection, statement.sql)
            for statement, fact in zip(statements, facts.statements):
                error = _run(connection, statement.sql)
                if prefix == 0:
                    fact.first_run = error
                elif error and fact.first_run is None:
                    fact.rerun_failures.append(f"after statements 1-{prefix} ran, fails: {error}")

    def _failed_build(self, database: str, statement) -> str:
        """A CONCURRENTLY build stopped by lock_timeout while a writer holds the table, then run again."""
        with psycopg.connect(self.cluster.primary.dsn(database), autocommit=True) as writer, \
                psycopg.connect(self.cluster.primary.dsn(database), autocommit=True) as connection:
            writer.execute("BEGIN")
            writer.execute(f"LOCK TABLE {statement.relation} IN ROW EXCLUSIVE MODE")
            connection.execute("SET lock_timeout = '1s'")
            first = _run(connection, statement.sql)
            writer.execute("ROLLBACK")
            second = _run(connection, statement.sql)
            invalid = [name for (name,) in connection.execute(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid").fetchall()]
        return (f"first build failed ({first or 'no: it completed'}); the rerun "
                f"{'failed: ' + second if second else 'succeeded'}; INVALID indexes after it: {', '.join(invalid) or 'none'}")


def _maker(message: str, relation) -> str | None:
    for pattern, make in _MISSING:
        match = pattern.search(message)
        if match:
            return make(match, str(relation) if relation else None) or None
    return None


def _run(connection, sql: str) -> str | None:
    """Run a statement in autocommit (one that only runs in a transaction block, LOCK, in one of its own);
    PostgreSQL's error, first line, or None."""
    try:
        connection.execute(sql)
    except psycopg.errors.NoActiveSqlTransaction:
        return _run(connection, f"BEGIN; {sql}; COMMIT")
    except psycopg.Error as error:
        if connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            connection.execute("ROLLBACK")
        return str(error).strip().splitlines()[0]
    return None


# --- the judgement ------------------------------------------------------------------------------
def _conflicting(observed: Observed, pre_existing: set[str]) -> list[str]:
    """Locks a statement took on pre-existing tables that conflict with reads or writes."""
    return [f"{lock.label} on {relation}" for relation, lock in observed.new_locks.items()
            if relation in pre_existing and Lock.ROW_EXCLUSIVE in lock.conflicts]


def _locks(observed: Observed | None) -> str:
    if observed is not None and observed.refused:
        return "refused in a transaction block, so run alone"
    if observed is None or not observed.new_locks:
        return "no table lock"
    return ", ".join(f"{lock.label} on {relation}" for relation, lock in observed.new_locks.items())


def judge(rule: str, migrator_flags: bool, facts: CaseFacts, flagged_lines: set[int],
          in_transaction: bool) -> tuple[bool, str]:
    """(for migrator, the deciding facts) for a disagreement, by what the migrator rule means."""
    supported, fact = _judge(rule, migrator_flags, facts, flagged_lines, in_transaction)
    if facts.empty:
        return False, fact + f" (but tables left without rows: {', '.join(facts.empty)}: not judged)"
    return supported, fact


def _judge(rule: str, migrator_flags: bool, facts: CaseFacts, flagged_lines: set[int],
           in_transaction: bool) -> tuple[bool, str]:
    statements = [s for s in facts.statements if s.observed is not None]
    pre_existing = set(facts.pre_existing)
    flagged = [s for s in statements if s.line in flagged_lines] or statements
    refused = [s for s in statements if s.observed.error]
    if refused and not any(s.observed.refused for s in refused):
        first = refused[0]
        what = f"PostgreSQL refuses `{first.sql}`: {first.observed.error}"
        # an unknown function (or arguments no function has) is counted volatile: flagging it is right
        return migrator_flags and "does not exist" in first.observed.error and "function" in first.observed.error, what
    made_types = [m[1] for made in facts.world if (m := _MADE_TYPE.match(made))]
    if rule in _TYPE_POLICIES and made_types:
        # the case names a type a stock server does not have (the world made it, as a domain): the rule's
        # verdict is about PostgreSQL's own types, which this is not
        return not migrator_flags, f"PostgreSQL has no type {made_types[0]} (the case runs only where a user made one)"
    if rule == "require-timeout-settings":
        probes = "; ".join(f"`{s.sql}`: {_locks(s.observed)}, "
                           + ("completed while a writer held ROW EXCLUSIVE on every pre-existing table (so it neither waits for nor "
                              "queues readers or writers)" if s.probe is None
                              else f"with a writer on every pre-existing table: {s.probe}") for s in statements)
        quiet = all(s.probe is None and not _conflicting(s.observed, pre_existing) for s in statements)
        return quiet != migrator_flags, probes + (f" (pre-existing: {', '.join(facts.pre_existing) or 'none'})")
    if rule in ("adding-foreign-key-constraint", "ban-alter-domain-with-add-constraint"):
        scans = [f"`{s.sql}` scanned {', '.join(s.observed.scanned)}" for s in flagged
                 if pre_existing & set(s.observed.scanned)]
        if migrator_flags:
            return bool(scans), "; ".join(scans) or "no pre-existing table scanned"
        return not scans, "; ".join(scans) or ("; ".join(f"`{s.sql}`: {_locks(s.observed)}, no table scanned"
                                                         for s in flagged))
    if rule == "ban-concurrent-index-creation-in-transaction":
        refusals = [f"`{s.sql}` refused in a transaction block: {s.observed.refused}" for s in flagged if s.observed.refused]
        if migrator_flags:
            return bool(refusals) and in_transaction, "; ".join(refusals) + (
                "; the runner wraps the file in one transaction" if in_transaction else "; no transaction block around it")
        return not (refusals and in_transaction), "; ".join(refusals) or "nothing refused in a transaction block"
    if rule == "prefer-robust-stmts":
        failures = [f"`{s.sql}` {failure}" for s in statements for failure in s.rerun_failures]
        builds = [f"`{s.sql}`: {s.failed_build}" for s in statements if s.failed_build]
        invalid = [b for b in builds if "rerun succeeded" in b and "INVALID indexes after it: none" not in b]
        if migrator_flags:
            return bool(failures or invalid), "; ".join(failures + builds) or "every rerun succeeded"
        return not failures and not invalid, "; ".join(failures + builds) or \
            "a second run succeeds after every prefix of the case: " + "; ".join(f"`{s.sql}`" for s in statements)
    return False, "no server fact decides this rule's disagreements"
