"""The step executor: runs planned migration steps under lock and statement timeouts, with retries.

Layers: a source (a folder of .sql files) yields migrations; the planner turns each into
steps grouped by transaction, from the shared analyzer's facts; the executor runs the groups
on a connection, retrying a whole group when it hits a lock timeout or a deadlock, and stamps
the migration once every group succeeded. A session advisory lock on its own connection keeps
two deploys from running DDL at once.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.pq import TransactionStatus

from migrator.analyzer import Analyzer, Lock, Statement
from migrator.dsn import connect
from migrator.durations import format_duration
from migrator.errors import UserError, first_line
from migrator.lint import migration_markers, read_sql_file
from migrator.lockwait import LockWaitSchedule
from migrator.sqltext import Source

DEPLOY_LOCK = 7_326_100  # advisory lock id held by a running apply
VERSION_TABLE_SQL = """
CREATE SCHEMA IF NOT EXISTS migrator;
CREATE TABLE IF NOT EXISTS migrator.schema_migrations (
    version text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS migrator.apply_journal (
    version text NOT NULL,
    step integer NOT NULL,
    statement_hash text NOT NULL,
    status text NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version, step)
);
"""


class ApplyError(UserError):
    """A migration that could not be applied; the message says which and why. Exit status 1."""


@dataclass
class Policy:
    """Timeouts and retries (milliseconds); lock_timeout is the longest wait of one try (see lock_waits)."""

    lock_timeout: int = 5000
    statement_timeout: int = 5000
    max_timeout: int = 5000
    online_statement_timeout: int = 0  # CONCURRENTLY and VALIDATE: none by default
    attempts: int = 10
    deadline: int = 300_000
    lock_wait: int = 60_000

    def __post_init__(self) -> None:
        for name in ("lock_timeout", "statement_timeout"):
            if getattr(self, name) > self.max_timeout:
                raise ApplyError(f"--{name.replace('_', '-')} {format_duration(getattr(self, name))} is above the "
                                 f"configured maximum {format_duration(self.max_timeout)}")

    def lock_waits(self) -> LockWaitSchedule:
        """The tries of a transaction that waits for locks, up to lock_timeout, attempts and deadline."""
        return LockWaitSchedule(self.lock_timeout, self.attempts, self.deadline)


@dataclass
class Step:
    index: int
    statement: Statement

    @property
    def online(self) -> bool:
        return self.statement.concurrently or any(a.kind == "validate_constraint" for a in self.statement.actions)

    @property
    def guarded(self) -> bool:
        """Takes a lock that queues application traffic: runs under the short timeouts."""
        lock = self.statement.max_lock
        return lock is not None and lock >= Lock.SHARE and not self.online

    def timeouts(self, policy: Policy, lock_timeout: int | None = None) -> tuple[int, int]:
        """(lock_timeout, statement_timeout) in ms; lock_timeout: this try's (default: the policy's, the longest)."""
        lock_timeout = policy.lock_timeout if lock_timeout is None else lock_timeout
        if self.online:
            return 0, policy.online_statement_timeout
        if self.guarded:
            # PostgreSQL counts the lock wait in statement_timeout: the statement gets its full
            # statement_timeout once it holds the lock, and a lock wait always ends as a lock timeout
            return lock_timeout, lock_timeout + policy.statement_timeout
        return lock_timeout, 0

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.statement.sql.encode()).hexdigest()[:16]


@dataclass
class Group:
    """Steps that run together: in one transaction, or (autocommit) a single step on its own."""

    steps: list[Step]
    transaction: bool
    on_failure: str | None = None  # clean-up SQL if the group fails for another reason than a lock
    failure_message: str | None = None
    # Code that sends the group's statements itself (a revision that reads the database): called
    # in the group's transaction with the connection and a hook that takes each statement's Step
    # (from plan_live_statement) before it runs.
    live: Callable[[psycopg.Connection, Callable[[Step], None]], None] | None = None


@dataclass
class Migration:
    version: str
    path: Path
    checksum: str
    groups: list[Group] = field(default_factory=list)


class SqlFolder:
    """Plain .sql migrations applied in name order, recorded in migrator.schema_migrations."""

    def __init__(self, files: list[Path], pg_version: int = 15, rewrite: bool = True):
        analyzer = Analyzer(pg_version)
        self.migrations = [plan_file(path, analyzer, rewrite) for path in files]

    def all(self) -> list[Migration]:
        return self.migrations

    def pending(self, connection: psycopg.Connection) -> list[Migration]:
        exists = connection.execute("SELECT to_regclass('migrator.schema_migrations') IS NOT NULL").fetchone()[0]
        if not exists:
            return self.migrations
        applied = {row[0] for row in connection.execute("SELECT version FROM migrator.schema_migrations")}
        return [m for m in self.migrations if m.version not in applied]

    def stamp_sql(self, migration: Migration) -> sql.Composed:
        """The statement that records the migration; the executor runs it in a transaction."""
        return sql.SQL("INSERT INTO migrator.schema_migrations (version, checksum) VALUES ({}, {})").format(
            sql.Literal(migration.version), sql.Literal(migration.checksum))


def load_sql_folder(folder: Path, pg_version: int = 15, rewrite: bool = True) -> SqlFolder:
    """The .sql files of a folder in name order, planned (down migrations left out)."""
    if not folder.is_dir():
        raise ApplyError(f"{folder}: not a folder of .sql migrations")
    files = sorted(p for p in folder.glob("*.sql") if not (p.name == "down.sql" or p.name.endswith(".down.sql")))
    if not files:
        raise ApplyError(f"{folder}: no .sql migrations here")
    return SqlFolder(files, pg_version, rewrite)


def plan_file(path: Path, analyzer: Analyzer, rewrite_enabled: bool = True) -> Migration:
    """A .sql migration file, planned (see plan_text)."""
    from migrator.lint import InputError

    try:
        text = read_sql_file(path, 50 * 1024 * 1024)
    except InputError as error:
        raise ApplyError(f"{path}: {error}") from None
    return plan_text(path.stem, path, text, analyzer, rewrite_enabled)


def plan_text(version: str, path: Path, text: str, analyzer: Analyzer, rewrite_enabled: bool = True,
              line_map: list[int] | None = None) -> Migration:
    """Steps grouped by transaction: the text runs in one transaction (explicit BEGIN/COMMIT honoured),
    except statements that may not run in one, which run alone; `-- migrator:no-transaction` runs each alone.
    Unsafe statements become their online forms (see migrator.rewrites), each part in its own transaction.
    line_map gives, per line of text, the line of `path` to name in messages (rendered Alembic revisions)."""
    from migrator.revisions import origin_line  # light: Alembic is imported only to render

    def path_line(line: int) -> int:
        return origin_line(line_map, line) if line_map else line

    source, tokens, statements = _analyze_text(path, text, analyzer, path_line)
    down_line, no_transaction = migration_markers(source, tokens)
    if down_line is not None:
        statements = [s for s in statements if s.line < down_line]
    _refuse_unanalyzable(path, statements, path_line)
    planned = _rewrites(statements, analyzer.pg_version) if rewrite_enabled else [(s, None) for s in statements]
    # linted on the text's own lines (directives and rules read them), named by path_line in messages
    refuse_lint_errors(path, source, tokens, statements, analyzer.pg_version, {s.line for s in statements if s.no_transaction},
                       {s.line for s, units in planned if units}, path_line)
    for statement in statements:  # from here on, lines name the lines of `path`
        statement.line = path_line(statement.line)
    migration = Migration(version, path, hashlib.sha256(text.encode()).hexdigest()[:16])
    current: list[Step] = []
    explicit = False
    numbers = itertools.count()
    for statement, units in planned:
        if units:
            _close(migration, current)
            current = []
            for unit in units:
                steps = [Step(next(numbers), _analyzed(analyzer, sql, statement.line)) for sql in unit.sql]
                migration.groups.append(Group(steps, not any(step.statement.no_transaction for step in steps),
                                              unit.on_failure, unit.failure_message))
            continue
        step = Step(next(numbers), statement)
        if statement.kind == "begin":
            _close(migration, current)
            current, explicit = [], True
        elif statement.kind in ("commit", "rollback"):
            _close(migration, current)
            current, explicit = [], False
        elif statement.no_transaction or (no_transaction and not explicit):
            _close(migration, current)
            current = []
            migration.groups.append(Group([step], transaction=False))
        else:
            current.append(step)
    _close(migration, current)
    return migration


def plan_live_statement(path: Path, text: str, line: int, analyzer: Analyzer, migration) -> Step:
    """A statement a live revision is about to send, planned like a step of a SQL migration and
    refused the same way; no rewrite is possible, and it must run in the revision's transaction.
    migration: the linter's state of the revision so far (migrator.context.MigrationContext), so
    that, say, an index on a table the revision just created is not taken for one on a live table."""
    source, tokens, statements = _analyze_text(path, text, analyzer, lambda _: line)
    _refuse_unanalyzable(path, statements, lambda _: line)
    for statement in statements:
        if statement.no_transaction:
            raise ApplyError(f"{path}:{line}: {statement.no_transaction}, and this revision reads the database, so it runs "
                             "in one transaction: move the statement to a revision of its own")
    refuse_lint_errors(path, source, tokens, statements, analyzer.pg_version, set(), set(), lambda _: line, migration)
    statement = max(statements, key=lambda s: s.max_lock or 0) if statements else _analyzed(analyzer, "SELECT", line)
    statement.sql, statement.line = text, line
    return Step(0, statement)


def _analyze_text(path: Path, text: str, analyzer: Analyzer, path_line: Callable[[int], int]) -> tuple[Source, list, list[Statement]]:
    source = Source(text)
    try:
        tokens = source.tokenize()
    except Exception as error:
        raise ApplyError(f"{path}:{path_line(getattr(error, 'line', 1))}: {error}") from None
    return source, tokens, analyzer.analyze_source(source, tokens)


def _refuse_unanalyzable(path: Path, statements: list[Statement], path_line: Callable[[int], int]) -> None:
    """Never assume safe what the analyzer could not classify."""
    for statement in statements:
        if statement.unanalyzable:
            raise ApplyError(f"{path}:{path_line(statement.line)}: refusing a statement migrator cannot analyze: "
                             f"{statement.unanalyzable}")


# Lint errors the executor itself makes moot: it sets the timeouts, and runs statements that
# cannot run in a transaction block outside one.
HANDLED_BY_EXECUTOR = frozenset({"require-lock-timeout", "require-statement-timeout", "timeout-exceeds-limit",
                                 "concurrently-in-transaction", "unbalanced-transaction"})


def refuse_lint_errors(path: Path, source: Source, tokens, statements: list[Statement], pg_version: int,
                       autocommit_lines: set[int], rewritten_lines: set[int], path_line: Callable[[int], int],
                       migration=None) -> None:
    """Refuse, before anything runs, a migration the linter calls unsafe (its ignore directives honoured).

    Statements on autocommit_lines run outside the file's transaction, so holding its locks is no
    concern; statements on rewritten_lines run in their online form. path_line names a line of
    the analyzed text as a line of `path` (they differ for rendered Alembic revisions). migration:
    the linter's state of the migration so far, for statements that come one at a time.
    """
    from migrator.rewrites import REWRITTEN_RULES

    findings = _refusal_linter(pg_version).lint_statements(source, tokens, statements, str(path), migration).findings
    errors = [f for f in findings if f.severity == "error" and f.rule not in HANDLED_BY_EXECUTOR
              and not (f.rule == "work-while-holding-lock" and f.line in autocommit_lines | rewritten_lines)
              and not (f.rule in REWRITTEN_RULES and f.line in rewritten_lines)]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more: run `migrator lint {path}`)" if len(errors) > 1 else ""
        safe = f"; instead: {first.help.splitlines()[0]}" if first.help else ""
        raise ApplyError(f"{path}:{path_line(first.line)}: refused by {first.rule}: {first.message}{safe}{more}")


@functools.cache
def _refusal_linter(pg_version: int):
    """The linter with its default rules, one per PostgreSQL version."""
    from migrator.config import Config
    from migrator.lint import Linter

    return Linter(Config(pg_version=pg_version))


def _rewrites(statements: list[Statement], pg_version: int) -> list[tuple[Statement, list | None]]:
    """Each statement with its online form, if it needs one (none inside explicit BEGIN ... COMMIT)."""
    from migrator.rewrites import rewrite

    created: set[str] = set()
    explicit = False
    planned = []
    for statement in statements:
        if statement.kind == "begin":
            explicit = True
        elif statement.kind in ("commit", "rollback"):
            explicit = False
        planned.append((statement, None if explicit else rewrite(statement, created, pg_version)))
        if statement.kind == "create_table" and statement.relation is not None:
            created.add(statement.relation.name)
    return planned


def _analyzed(analyzer: Analyzer, sql: str, line: int) -> Statement:
    [statement] = analyzer.analyze(sql)
    statement.line = statement.end_line = line  # messages point at the statement it came from
    return statement


def _close(migration: Migration, steps: list[Step]) -> None:
    if steps:
        migration.groups.append(Group(list(steps), transaction=True))


Event = Callable[[dict], None]


class Executor:
    """Applies planned migrations to one database."""

    def __init__(self, dsn: str, policy: Policy, emit: Event | None = None):
        self.dsn = dsn
        self.policy = policy
        self.emit = emit or (lambda event: None)
        self.retries = 0
        self.longest_wait = 0.0

    def connect(self, name: str = "migrator apply") -> psycopg.Connection:
        """An autocommit connection named in pg_stat_activity (the deploy lock's message shows it)."""
        return connect(self.dsn, ApplyError, application_name=name)

    # -- deploy lock -------------------------------------------------------------------------
    def acquire_deploy_lock(self, connection: psycopg.Connection) -> None:
        """Wait up to lock_wait for the session advisory lock; say who holds it if it never comes."""
        deadline = time.monotonic() + self.policy.lock_wait / 1000
        while not connection.execute("SELECT pg_try_advisory_lock(%s)", (DEPLOY_LOCK,)).fetchone()[0]:
            if time.monotonic() >= deadline:
                holder = connection.execute(
                    "SELECT a.pid, coalesce(a.client_hostname, host(a.client_addr), 'local socket'), a.backend_start, a.application_name "
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted", (DEPLOY_LOCK,)).fetchone()
                who = f" (pid {holder[0]} from {holder[1]}, {holder[3] or 'no name'}, since {holder[2]:%Y-%m-%d %H:%M:%S %Z})" if holder else ""
                raise ApplyError(f"another migrator apply holds the deploy lock{who}; waited {format_duration(self.policy.lock_wait)}")
            time.sleep(0.2)

    @staticmethod
    def refuse_transaction_pooling(first: psycopg.Connection, second: psycopg.Connection) -> None:
        """Two sessions must keep two distinct server backends from one transaction to the next.

        Behind PgBouncer transaction (or statement) pooling a client gets whichever server is free
        for each transaction: the backend pids of two idle clients repeat or change, and neither
        session settings nor the deploy lock would hold. Session pooling passes."""
        pids = [connection.execute("SELECT pg_backend_pid()").fetchone()[0] for connection in (first, second, first, second)]
        if pids[0] == pids[1] or pids[0] != pids[2] or pids[1] != pids[3]:
            raise ApplyError("the connection does not keep its server session between transactions (PgBouncer transaction "
                             "pooling?): connect migrator directly to PostgreSQL or through session pooling")

    # -- applying ------------------------------------------------------------------------------
    def apply(self, source) -> list[str]:
        """Apply what the source has pending, in order, under the deploy lock; returns the versions applied."""
        with self.connect() as lock_connection, self.connect() as connection:
            self.refuse_transaction_pooling(lock_connection, connection)
            self.acquire_deploy_lock(lock_connection)
            connection.execute(VERSION_TABLE_SQL)
            pending = source.pending(connection)
            done: dict[str, set[int]] = {}
            for version, step in connection.execute(
                    "SELECT version, step FROM migrator.apply_journal WHERE status = 'done' AND version = ANY(%s)",
                    ([m.version for m in pending],)):
                done.setdefault(version, set()).add(step)
            applied = []
            for migration in pending:
                self._apply_one(connection, migration, done.get(migration.version, set()), source)
                self.emit({"event": "done", "migration": migration.version})
                applied.append(migration.version)
            return applied

    def _apply_one(self, connection: psycopg.Connection, migration: Migration, done: set[int], source) -> None:
        """Run the groups not yet journaled as done, then stamp the version: in the last group's
        transaction when it has one, so the schema change and its record commit together."""
        self.emit({"event": "migration", "migration": migration.version, "groups": len(migration.groups)})
        stamped = False
        for group in migration.groups:
            if all(step.index in done for step in group.steps):
                self.emit({"event": "skip", "migration": migration.version, "steps": [s.index for s in group.steps]})
                continue
            stamped = group is migration.groups[-1] and group.transaction
            self._run_group(connection, migration, group, source if stamped else None)
        if not stamped:  # one message of several statements is one (implicit) transaction
            connection.execute(source.stamp_sql(migration))

    def _run_group(self, connection: psycopg.Connection, migration: Migration, group: Group, stamp_source) -> None:
        """Run the group, retrying it whole on a lock timeout or deadlock along the policy's lock-wait schedule."""
        schedule = self.policy.lock_waits()
        started = time.monotonic()
        for attempt in schedule:
            attempt_started = time.monotonic()
            try:
                if group.transaction:
                    self._transaction(connection, migration, group, stamp_source, attempt.lock_timeout)
                elif not self._index_already_built(connection, migration, group.steps[0]):
                    [step] = group.steps
                    self._execute(connection, migration, step, attempt.lock_timeout, transaction=False)
                    connection.execute(_journal_sql(migration, [step]))
                return
            except (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected) as error:
                waited = time.monotonic() - started
                self.longest_wait = max(self.longest_wait, time.monotonic() - attempt_started)
                pause = schedule.pause_after(attempt, waited)
                if pause is None:
                    raise ApplyError(
                        f"{migration.path}:{group.steps[0].statement.line}: gave up after {attempt.number} attempts in "
                        f"{waited:.1f} s: {first_line(error)} (something holds a conflicting lock; nothing of this "
                        "transaction was applied)") from None
                self.retries += 1
                self.emit({"event": "retry", "migration": migration.version, "step": group.steps[0].index,
                           "attempt": attempt.number, "error": type(error).__name__, "wait_s": round(pause, 2)})
                time.sleep(pause)
            except psycopg.Error as error:
                line = _failing_step(group, error).statement.line
                if group.on_failure:
                    connection.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', '0', false)",
                                       (f"{self.policy.lock_timeout}ms",))
                    connection.execute(group.on_failure)
                    raise ApplyError(f"{migration.path}:{line}: {group.failure_message}: {first_line(error)}") from None
                raise ApplyError(f"{migration.path}:{line}: {first_line(error)} (this transaction was rolled back)") from None

    def _transaction(self, connection: psycopg.Connection, migration: Migration, group: Group, stamp_source,
                     lock_timeout: int) -> None:
        """One transaction for the group's steps, their journal entries and (stamp_source) the version,
        its lock waits bounded by this try's lock_timeout.

        BEGIN travels with the first step and the journal, stamp and COMMIT in one message: a
        one-statement migration costs two round trips, where psycopg's transaction() would take four.
        """
        try:
            if group.live is not None:
                self._run_live(connection, migration, group, lock_timeout)
            else:
                for position, step in enumerate(group.steps):
                    self._execute(connection, migration, step, lock_timeout, transaction=True, begin=position == 0)
            stamp = [stamp_source.stamp_sql(migration)] if stamp_source is not None else []
            connection.execute(sql.SQL("; ").join([_journal_sql(migration, group.steps), *stamp, sql.SQL("COMMIT")]))
        except BaseException:
            if connection.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                connection.execute("ROLLBACK")
            raise

    def _execute(self, connection: psycopg.Connection, migration: Migration, step: Step, lock_timeout: int,
                 transaction: bool, begin: bool = False) -> None:
        lock_timeout, statement_timeout = step.timeouts(self.policy, lock_timeout)
        started = time.monotonic()
        self.emit({"event": "step", "migration": migration.version, "step": step.index, "sql": step.statement.sql,
                   "lock_timeout_ms": lock_timeout, "statement_timeout_ms": statement_timeout})
        try:
            if transaction:  # the settings travel with the statement, in one simple-protocol message
                connection.execute(f"{'BEGIN; ' if begin else ''}{_set_local_timeouts(lock_timeout, statement_timeout)}; "
                                   f"{step.statement.sql}")
            else:  # CONCURRENTLY may not share a message with other statements (an implicit transaction)
                connection.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
                                   (f"{lock_timeout}ms", f"{statement_timeout}ms"))
                connection.execute(step.statement.sql)
        except psycopg.Error as error:
            error.migrator_step = step  # which statement failed, for the message
            raise
        self.emit({"event": "step_done", "migration": migration.version, "step": step.index,
                   "seconds": round(time.monotonic() - started, 3)})

    def _run_live(self, connection: psycopg.Connection, migration: Migration, group: Group, lock_timeout: int) -> None:
        """Open the group's transaction and let its code send its statements, each armed with its
        own timeouts as a step of a SQL migration is; a database error names the statement's line."""
        connection.execute("BEGIN")
        sent: list[Step] = []

        def before(step: Step) -> None:
            sent.append(step)
            step_lock_timeout, statement_timeout = step.timeouts(self.policy, lock_timeout)
            connection.execute(_set_local_timeouts(step_lock_timeout, statement_timeout))
            self.emit({"event": "step", "migration": migration.version, "step": group.steps[0].index, "sql": step.statement.sql,
                       "lock_timeout_ms": step_lock_timeout, "statement_timeout_ms": statement_timeout})

        try:
            group.live(connection, before)
        except psycopg.Error as error:
            if sent:
                error.migrator_step = sent[-1]
            raise

    def _index_already_built(self, connection: psycopg.Connection, migration: Migration, step: Step) -> bool:
        """Before CREATE INDEX CONCURRENTLY: wait for a build of the index still running on the server
        (see _wait_for_running_build), then drop an INVALID leftover of a failed build; a valid one
        (built just before a crash kept it out of the journal) counts as done."""
        statement = step.statement
        if statement.kind != "create_index" or not statement.concurrently or not statement.actions[0].constraint:
            return False
        name = statement.actions[0].constraint
        index = _find_index(connection, name)
        if index is not None and not index[1] and self._wait_for_running_build(connection, migration, step, index[0], name):
            index = _find_index(connection, name)  # the build finished, failed, or its index was dropped
        if index is None:
            return False
        _, valid, qualified = index
        if valid:
            self.emit({"event": "skip", "migration": migration.version, "steps": [step.index], "reason": f"index {name} exists and is valid"})
            connection.execute(_journal_sql(migration, [step]))
            return True
        self.emit({"event": "invalid_index", "migration": migration.version, "index": name})
        connection.execute("SELECT set_config('lock_timeout', '0', false), set_config('statement_timeout', '0', false)")
        connection.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {qualified}")
        return False

    def _wait_for_running_build(self, connection: psycopg.Connection, migration: Migration, step: Step, index: int,
                                name: str) -> bool:
        """Wait while a backend still builds the INVALID index (pg_stat_progress_create_index); returns
        whether one did.

        Most often it is the CREATE INDEX CONCURRENTLY of an apply that was killed: the server goes on
        building for a client that is gone. Dropping the index under it deadlocks (DROP INDEX
        CONCURRENTLY waits for the build's lock while the build waits for the DROP's snapshot to end)
        and cancelling it throws its work away; waiting takes no lock and costs no more time than
        building anew. The wait is bounded as our own build would be: by --online-statement-timeout
        when one is set."""
        running = ("SELECT p.pid, p.phase, a.application_name, a.backend_start FROM pg_stat_progress_create_index p "
                   "JOIN pg_stat_activity a USING (pid) WHERE p.index_relid = %s")
        builder = connection.execute(running, (index,)).fetchone()
        if builder is None:
            return False
        pid, phase, application, since = builder
        self.emit({"event": "wait_for_build", "migration": migration.version, "step": step.index, "index": name,
                   "pid": pid, "application": application, "phase": phase})
        limit = self.policy.online_statement_timeout / 1000
        started = time.monotonic()
        while connection.execute(running, (index,)).fetchone() is not None:
            if limit and time.monotonic() - started >= limit:
                raise ApplyError(f"{migration.path}:{step.statement.line}: index {name} is still being built by pid {pid} "
                                 f"({application or 'no name'}, since {since:%Y-%m-%d %H:%M:%S %Z}); waited "
                                 f"{format_duration(self.policy.online_statement_timeout)}: let it finish, or stop it with "
                                 f"SELECT pg_cancel_backend({pid}), and apply again")
            time.sleep(0.25)
        return True


def _find_index(connection: psycopg.Connection, name: str) -> tuple[int, bool, str] | None:
    """(oid, valid, schema-qualified name) of the index `name` on the search path, if there is one."""
    return connection.execute(
        "SELECT c.oid, i.indisvalid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND pg_table_is_visible(c.oid)", (name,)).fetchone()


def _set_local_timeouts(lock_timeout: int, statement_timeout: int) -> str:
    """The transaction's lock and statement timeouts (milliseconds), as simple-protocol SQL."""
    return f"SET LOCAL lock_timeout = '{lock_timeout}ms'; SET LOCAL statement_timeout = '{statement_timeout}ms'"


def _journal_sql(migration: Migration, steps: list[Step]) -> sql.Composed:
    """Record steps as done in migrator.apply_journal (resuming skips them)."""
    rows = sql.SQL(", ").join(sql.SQL("({}, {}, {}, 'done')").format(
        sql.Literal(migration.version), sql.Literal(step.index), sql.Literal(step.hash)) for step in steps)
    return sql.SQL("INSERT INTO migrator.apply_journal (version, step, statement_hash, status) VALUES {} "
                   "ON CONFLICT (version, step) DO UPDATE SET status = 'done', finished_at = now()").format(rows)


def _failing_step(group: Group, error: Exception) -> Step:
    return getattr(error, "migrator_step", group.steps[0])


def describe_plan(migrations: list[Migration], policy: Policy) -> list[dict]:
    """What apply would do, step by step: SQL, locks, rewrite/scan, transaction, timeouts."""
    plan = []
    for migration in migrations:
        for number, group in enumerate(migration.groups):
            for step in group.steps:
                statement = step.statement
                lock_timeout, statement_timeout = step.timeouts(policy)
                plan.append({
                    "migration": migration.version, "group": number, "step": step.index,
                    "transaction": "transaction" if group.transaction else "autocommit",
                    "sql": statement.sql,
                    "locks": [{"relation": str(t.relation), "lock": t.lock.label} for t in statement.locks],
                    "rewrites": statement.rewrites, "scans": statement.scans,
                    "lock_timeout_ms": lock_timeout, "statement_timeout_ms": statement_timeout,
                    "online_only": group.live is not None,
                })
    return plan
