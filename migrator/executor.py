"""The step executor: runs planned migration steps under lock and statement timeouts, with retries.

Layers: a source (a folder of .sql files) yields migrations; the planner turns each into
steps grouped by transaction, from the shared analyzer's facts; the executor runs the groups
on a connection, retrying a whole group when it hits a lock timeout or a deadlock, and stamps
the migration once every group succeeded. A session advisory lock on its own connection keeps
two deploys from running DDL at once.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import itertools
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.pq import TransactionStatus

from migrator.analyzer import Analyzer, Lock, Statement
from migrator.config import Config
from migrator.dsn import connect
from migrator.durations import format_duration
from migrator.errors import UserError, database_error, first_line
from migrator.lint import migration_markers, read_sql_file
from migrator.lockwait import LockWaitSchedule
from migrator.rewrites import Unit, after_renames
from migrator.runners import migration_version, sql_migrations
from migrator.sqltext import Source

FOLLOWUP_STEPS = 100_000  # journal step numbers of a SQL migration's follow-ups start here
NO_OP_STEP = "SELECT WHERE false"  # what a step whose whole statement follows the commit sends in the transaction
DEPLOY_LOCK = 7_326_100  # advisory lock id held by a running apply (see Executor.acquire_deploy_lock)
SETUP_LOCK = 7_326_102  # advisory lock id: one apply at a time creates or upgrades migrator's own tables
VERSION_TABLE_SQL = """
CREATE SCHEMA IF NOT EXISTS migrator;
CREATE TABLE IF NOT EXISTS migrator.schema_migrations (
    version text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS migrator.apply_journal (
    scope text NOT NULL DEFAULT '',
    version text NOT NULL,
    step integer NOT NULL,
    statement_hash text NOT NULL,
    status text NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, version, step)
);
-- follow-ups: online steps journaled 'pending' with their SQL in the migration's own transaction
ALTER TABLE migrator.apply_journal ADD COLUMN IF NOT EXISTS sql text, ADD COLUMN IF NOT EXISTS unit integer,
    ADD COLUMN IF NOT EXISTS in_transaction boolean, ADD COLUMN IF NOT EXISTS origin text;
-- the search_path of the session an Alembic revision ran in (env.py's SET search_path), for its follow-ups; NULL: apply's own
ALTER TABLE migrator.apply_journal ADD COLUMN IF NOT EXISTS search_path text;
-- scope: whose journal a row is ('' a whole database's; a schema's for an Alembic project, see journal_scope);
-- a journal made before it gains the column, its rows the whole database's
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'migrator.apply_journal'::regclass AND attname = 'scope') THEN
        ALTER TABLE migrator.apply_journal ADD COLUMN scope text NOT NULL DEFAULT '',
            DROP CONSTRAINT apply_journal_pkey, ADD PRIMARY KEY (scope, version, step);
    END IF;
END $$;
"""
JOURNAL_COLUMNS = {"version", "step", "statement_hash", "status", "finished_at", "sql", "unit", "in_transaction", "origin", "scope",
                   "search_path"}


@contextlib.contextmanager
def _search_path(connection: psycopg.Connection, search_path: str | None):
    """Apply's session under `search_path` (None: as it is) for a follow-up, then as it was."""
    if search_path is None:
        yield
        return
    own = connection.execute("SELECT current_setting('search_path'), set_config('search_path', %s, false)",
                             (search_path,)).fetchone()[0]
    try:
        yield
    finally:
        if connection.info.transaction_status == TransactionStatus.IDLE:  # else the error in flight says more
            connection.execute("SELECT set_config('search_path', %s, false)", (own,))


def _journal_columns(connection: psycopg.Connection) -> set[str]:
    """The columns migrator.apply_journal has (none: no journal yet)."""
    return {row[0] for row in connection.execute(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass('migrator.apply_journal') AND attnum > 0 "
        "AND NOT attisdropped")}


def create_version_tables(connection: psycopg.Connection) -> None:
    """Create or upgrade migrator's own tables, when they lack something: applies of several schemas
    of one database run at once, and DDL on the journal would queue behind their transactions."""
    if JOURNAL_COLUMNS <= _journal_columns(connection) and \
            connection.execute("SELECT to_regclass('migrator.schema_migrations') IS NOT NULL").fetchone()[0]:
        return
    connection.execute(f"BEGIN; SELECT pg_advisory_xact_lock({SETUP_LOCK}); {VERSION_TABLE_SQL} COMMIT")


def pending_followups(connection: psycopg.Connection, scope: str) -> bool:
    """Whether the journal of `scope` holds follow-up steps a stopped run left to finish."""
    columns = _journal_columns(connection)
    if not columns:
        return False
    mine = "scope = %s AND " if "scope" in columns else ""
    return connection.execute(f"SELECT EXISTS (SELECT FROM migrator.apply_journal WHERE {mine}status = 'pending')",
                              (scope,) if mine else ()).fetchone()[0]


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
    small_table_bytes: int = 8 << 20  # rewrites and scans of tables up to this size run as written

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
    followups: list = field(default_factory=list)  # migrator.rewrites.Unit: run once this step's transaction commits
    names_constraint: str | None = None  # the table whose new constraint's name the follow-ups read from the catalog
    refusals: list[str] = field(default_factory=list)  # a preview's (plan's) reasons apply would refuse this step
    file: str | None = None  # an Alembic revision's step: the file of the op that sent it (the revision, or env.py)
    followup_number: int | None = None  # an Alembic op's k-th follow-up (a SQL step's is read from its index)

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
    def number(self) -> dict:
        """Its name, as plan and apply's events show it: {"step": n, "followup": None}, or for the k-th
        follow-up of step n (journaled as FOLLOWUP_STEPS + 100 n + k - 1) {"step": n, "followup": k};
        an Alembic revision's step by the file and line of its op (see op_step_number)."""
        if self.file is not None:
            return op_step_number(self.file, self.statement.line, self.followup_number)
        if self.index < FOLLOWUP_STEPS:
            return {"step": self.index, "followup": None}
        origin, offset = divmod(self.index - FOLLOWUP_STEPS, 100)
        return {"step": origin, "followup": offset + 1}

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.statement.sql.encode()).hexdigest()[:16]


def op_step_number(file: str, line: int, followup: int | None = None) -> dict:
    """An Alembic revision's step as plan and apply's events name it: the file (revision or env.py)
    and line of the op that sent it, its line also its "step", and its follow-up number (k: the op's
    k-th follow-up, counted over every statement the op sent, in the order they were sent)."""
    return {"step": line, "followup": followup, "file": file, "line": line}


def steps_number(steps: list[Step]) -> dict:
    """Several steps (a skipped group, a unit of follow-ups) as an event names them: "steps" their
    step numbers and "followups" their follow-up numbers (None: not one), as Step.number has them;
    an Alembic op's follow-ups also its "file" and "line"."""
    numbers = [step.number for step in steps]
    return {"steps": [number["step"] for number in numbers], "followups": [number["followup"] for number in numbers],
            **{key: numbers[0][key] for key in ("file", "line") if key in numbers[0]}}


@dataclass
class Group:
    """Steps that run together: in one transaction, or (autocommit) a single step on its own."""

    steps: list[Step]
    transaction: bool
    on_failure: str | None = None  # clean-up SQL if the group fails for another reason than a lock
    failure_message: str | None = None
    online_only: bool = False  # a revision that reads the database: its statements are judged as they are sent


@dataclass
class Migration:
    version: str
    path: Path
    checksum: str
    groups: list[Group] = field(default_factory=list)
    committed: str | None = None  # what of it already committed, when a step fails after that


def followups_journal_sql(version: str, units, origin: str, first_step: int, analyzer: Analyzer, scope: str,
                          search_path: str | None = None) -> sql.Composed:
    """Journal follow-up units (migrator.rewrites.Unit) as pending in the journal of `scope`, one row
    per statement, steps numbered from first_step: run in the migration's transaction, so they commit
    with it; `search_path`: the one they run under (None: apply's own session's)."""
    rows = []
    step = first_step
    for number, unit in enumerate(units):
        in_transaction = not any(s.no_transaction for text in unit.sql for s in analyzer.analyze(text))
        for text in unit.sql:
            rows.append(sql.SQL("({}, {}, {}, {}, 'pending', {}, {}, {}, {}, {})").format(
                sql.Literal(scope), sql.Literal(version), sql.Literal(step), sql.Literal(hashlib.sha256(text.encode()).hexdigest()[:16]),
                sql.Literal(text), sql.Literal(first_step + number), sql.Literal(in_transaction), sql.Literal(origin),
                sql.Literal(search_path)))
            step += 1
    return sql.SQL("INSERT INTO migrator.apply_journal (scope, version, step, statement_hash, status, sql, unit, in_transaction, "
                   "origin, search_path) VALUES {} ON CONFLICT (scope, version, step) DO UPDATE SET status = 'pending', "
                   "sql = EXCLUDED.sql, statement_hash = EXCLUDED.statement_hash, unit = EXCLUDED.unit, "
                   "in_transaction = EXCLUDED.in_transaction, origin = EXCLUDED.origin, search_path = EXCLUDED.search_path, "
                   "finished_at = now()").format(sql.SQL(", ").join(rows))


class SqlFolder:
    """Plain .sql migrations applied in name order, recorded in migrator.schema_migrations.

    Files are planned against the database they go to (the size of each table decides between
    running a statement as written, its online form, or a refusal): see plan_text."""

    def __init__(self, files: list[Path], pg_version: int = 15, rewrite: bool = True, lint_config=None, target: str | None = None):
        if target is not None and target not in {migration_version(path) for path in files}:
            raise ApplyError(f"{files[0].parent}: no migration named {target!r} to apply up to (--to takes a file name "
                             "without .sql)")
        self.files = [path for path in files if target is None or migration_version(path) <= target]
        self.analyzer, self.rewrite, self.lint_config = Analyzer(pg_version), rewrite, lint_config
        self.direction = "upgrade"
        self.preview = False  # plan: a refused step is marked (Step.refusals), the rest planned, nothing raised
        for path in self.files:  # what needs no database is refused before anything connects
            _, _, statements = analyze_text(path, _read(path), self.analyzer, lambda line: line)
            refuse_unanalyzable(path, statements, lambda line: line)

    def _plan(self, paths: list[Path], catalog=None) -> list[Migration]:
        return [plan_file(path, self.analyzer, self.rewrite, self.lint_config, catalog, self.preview) for path in paths]

    def all(self) -> list[Migration]:
        """Every migration, planned without a database (every table taken as big)."""
        return self._plan(self.files)

    def pending(self, connection: psycopg.Connection, policy: Policy | None = None) -> list[Migration]:
        from migrator.guard import Catalog

        applied = self._applied(connection)
        return self._plan([path for path in self.files if migration_version(path) not in applied], Catalog(connection, policy or Policy()))

    @staticmethod
    def _applied(connection: psycopg.Connection) -> set[str]:
        if not connection.execute("SELECT to_regclass('migrator.schema_migrations') IS NOT NULL").fetchone()[0]:
            return set()
        return {row[0] for row in connection.execute("SELECT version FROM migrator.schema_migrations")}

    def apply(self, executor: "Executor", connection: psycopg.Connection) -> list[str]:
        executor.finish_followups(connection)
        return executor.apply_planned(connection, self, self.pending(connection, executor.policy))

    @staticmethod
    def journal_scope(connection: psycopg.Connection) -> str:
        """Whose deploy lock and journal an apply takes: the whole database's (one
        migrator.schema_migrations per database)."""
        return ""

    def pending_files(self, connection: psycopg.Connection, executor=None) -> list[tuple[str, Path]]:
        """(version, file) of each migration not applied yet, unplanned (`executor`: see AlembicProject.current)."""
        applied = self._applied(connection)
        return [(migration_version(path), path) for path in self.files if migration_version(path) not in applied]

    def stop_after(self, version: str) -> None:
        """Apply no migration after `version`."""
        self.files = [path for path in self.files if migration_version(path) <= version]

    def stamp_sql(self, migration: Migration) -> sql.Composed:
        """The statement that records the migration; the executor runs it in a transaction."""
        return sql.SQL("INSERT INTO migrator.schema_migrations (version, checksum) VALUES ({}, {})").format(
            sql.Literal(migration.version), sql.Literal(migration.checksum))


def load_sql_folder(folder: Path, pg_version: int = 15, rewrite: bool = True, lint_config=None,
                    target: str | None = None) -> SqlFolder:
    """The SQL migrations of a folder in name order (runners.sql_migrations), planned, up to and
    including the one named `target` (its file name without .sql) when given."""
    if not folder.exists():
        raise ApplyError(f"{folder}: no such file or directory")
    if not folder.is_dir():
        raise ApplyError(f"{folder}: neither an Alembic project (alembic.ini, the folder holding it or env.py) "
                         "nor a folder of .sql migrations")
    files = sql_migrations(folder)
    if not files:
        raise ApplyError(f"{folder}: no .sql migrations here")
    named: dict[str, Path] = {}
    for path in files:
        first = named.setdefault(migration_version(path), path)
        if first is not path:
            raise ApplyError(f"{path}: a second migration named {migration_version(path)!r} (with {first.name}): "
                             "rename one, a file's name is its version")
    return SqlFolder(files, pg_version, rewrite, lint_config, target)


def plan_file(path: Path, analyzer: Analyzer, rewrite_enabled: bool = True, lint_config=None, catalog=None,
              preview: bool = False) -> Migration:
    """A .sql migration file, planned (see plan_text)."""
    return plan_text(migration_version(path), path, _read(path), analyzer, rewrite_enabled, lint_config=lint_config, catalog=catalog,
                     preview=preview)


def _read(path: Path) -> str:
    from migrator.lint import InputError

    try:
        return read_sql_file(path, 50 * 1024 * 1024)
    except InputError as error:
        raise ApplyError(f"{path}: {error}") from None




def plan_text(version: str, path: Path, text: str, analyzer: Analyzer, rewrite_enabled: bool = True,
              line_map: list[int] | None = None, lint_config=None, catalog=None, downgrade: bool = False,
              preview: bool = False, alembic: bool = False, autocommit_blocks: dict[int, str] | None = None) -> Migration:
    """Steps grouped by transaction: the text runs in one transaction (explicit BEGIN/COMMIT honoured),
    except statements that may not run in one, which run alone; `-- migrator:no-transaction` runs each alone.

    A statement the linter calls unsafe is refused, unless its table is within the small-table
    budget or new to this run (catalog: migrator.guard.Catalog, the live database; without one
    every table counts as big). Otherwise unsafe statements take their online form: the part
    that may run in the transaction stays there (ADD ... NOT VALID), the rest follows once it
    commits (CONCURRENTLY builds, VALIDATE, the SET NOT NULL steps), journaled with it.
    line_map gives, per line of text, the line of `path` to name in messages (rendered Alembic revisions);
    downgrade: the text reverts a revision, so dropping and renaming are not refused (as in apply);
    preview (plan): nothing is raised for a refusal, each refused statement is planned as written with
    its reasons in Step.refusals, so the whole migration shows. alembic: the text is a revision's, rendered
    (refusals give their help as op.* calls), autocommit_blocks the lines of what its autocommit_block()
    sent (migrator.revisions.to_sql): as apply runs a revision, what runs in such a block runs in
    autocommit, with no online form, and what may not run in a transaction block anywhere else
    follows the revision's commit (migrator.guard)."""
    from migrator.guard import Catalog, blocks, refusal_message, split_online_form
    from migrator.revisions import mark_autocommit_blocks, origin_line  # light: Alembic is imported only to render

    def path_line(line: int) -> int:
        return origin_line(line_map, line) if line_map else line

    catalog = catalog or Catalog(None, Policy())
    source, tokens, statements = analyze_text(path, text, analyzer, path_line)
    mark_autocommit_blocks(statements, autocommit_blocks or {})
    down_line, no_transaction = migration_markers(source, tokens)
    if down_line is not None:
        statements = [s for s in statements if s.line < down_line]
    refuse_unanalyzable(path, statements, path_line)
    in_blocks = _in_autocommit_blocks(statements)
    deferred = {id(s) for s in statements if alembic and s.no_transaction and id(s) not in in_blocks}
    costs = {id(statement): catalog.cost([statement]) for statement in statements}
    planned = _rewrites(statements, analyzer.pg_version, costs, catalog, in_blocks, alembic) if rewrite_enabled \
        else [(s, None) for s in statements]
    # linted on the text's own lines (directives and rules read them), named by path_line in messages
    by_line = {s.line: s for s in statements}
    rewritten = {s.line for s, units in planned if units}
    findings = refusal_linter(lint_config or Config(pg_version=analyzer.pg_version)).lint_statements(
        source, tokens, statements, str(path), alembic=alembic).findings
    errors = [f for f in findings if f.line not in by_line and f.severity == "error" and f.rule not in HANDLED_BY_EXECUTOR
              or f.line in by_line and id(by_line[f.line]) not in deferred
              and blocks(f, by_line[f.line], costs[id(by_line[f.line])], catalog, f.line in rewritten, downgrade)]
    errors.sort(key=lambda f: f.line)
    refusals: dict[int, list[str]] = {}  # id(statement) -> why apply refuses it (preview only)
    if errors and preview and statements:
        for finding in errors:
            statement = next((s for s in reversed(statements) if s.line <= finding.line), statements[0])
            cost = costs[id(statement)] if finding.line in by_line else catalog.cost([])
            refusals.setdefault(id(statement), []).append(
                refusal_message(f"{path}:{path_line(finding.line)}", finding, cost, catalog, by_line.get(finding.line),
                                alembic=alembic))
        planned = [(s, None if id(s) in refusals else units) for s, units in planned]
    elif errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more: run `migrator lint {path}`)" if len(errors) > 1 else ""
        cost = costs[id(by_line[first.line])] if first.line in by_line else catalog.cost([])
        raise ApplyError(refusal_message(f"{path}:{path_line(first.line)}", first, cost, catalog, by_line.get(first.line), more,
                                         alembic))
    for statement in statements:  # from here on, lines name the lines of `path`
        statement.line = path_line(statement.line)
    migration = Migration(version, path, hashlib.sha256(text.encode()).hexdigest()[:16])
    current: list[Step] = []
    explicit = False
    numbers = itertools.count()
    for statement, units in planned:
        wrapped = not explicit and not no_transaction and id(statement) not in in_blocks
        for step in current:  # their follow-ups run once the transaction commits: after this statement
            step.followups = after_renames(statement, step.followups)
        if statement.alembic_block is not None:  # autocommit_block() commits the revision's transaction, or begins the next
            _close(migration, current)
            current, explicit = [], False
            continue
        if id(statement) in deferred:  # sent in the revision's transaction: it runs once that commits (as apply does)
            current.append(Step(next(numbers), replace(statement, sql=NO_OP_STEP, locks=[], actions=[]),
                                [Unit([statement.sql])]))
            continue
        if units and wrapped:  # the transactional part stays in the transaction; the rest follows its commit
            sent, followups, named_on = split_online_form(analyzer, statement, units)
            current.append(Step(next(numbers), sent, followups, named_on))
            continue
        if units:
            _close(migration, current)
            current = []
            for unit in units:
                steps = [Step(next(numbers), _analyzed(analyzer, sql, statement.line)) for sql in unit.sql]
                migration.groups.append(Group(steps, not any(step.statement.no_transaction for step in steps),
                                              unit.on_failure, unit.failure_message))
            continue
        if statement.kind == "psql":  # a client-side psql command (`\\set ON_ERROR_STOP 1`): nothing to send
            continue
        step = Step(next(numbers), statement, refusals=refusals.get(id(statement), []))
        if statement.kind == "begin" and alembic and id(statement) not in in_blocks:
            current.append(step)  # sent inside the revision's transaction: PostgreSQL ignores it (a warning)
        elif statement.kind == "begin":
            _close(migration, current)
            current, explicit = [step] if alembic else [], True  # a revision sends it; the executor runs a file's groups
        elif statement.kind in ("commit", "rollback"):
            _close(migration, current + [step] if alembic else current)
            current, explicit = [], statement.chains  # AND CHAIN: the next statements run in one transaction
        elif statement.no_transaction or (no_transaction or id(statement) in in_blocks) and not explicit:
            _close(migration, current)
            current = []
            migration.groups.append(Group([step], transaction=False))
        else:
            current.append(step)
    _close(migration, current)
    for step in (step for group in migration.groups for step in group.steps) if alembic else ():
        step.file = path.name  # named by the line of its op in the revision (Step.number)
    return migration


def analyze_text(path: Path, text: str, analyzer: Analyzer, path_line: Callable[[int], int],
                 routines: dict | None = None) -> tuple[Source, list, list[Statement]]:
    """The statements of text (routines: those the migration created before it, see Analyzer.analyze_source)."""
    source = Source(text)
    try:
        tokens = source.tokenize()
    except Exception as error:
        raise ApplyError(f"{path}:{path_line(getattr(error, 'line', 1))}: {error}") from None
    return source, tokens, analyzer.analyze_source(source, tokens, routines=routines)


def refuse_unanalyzable(path: Path, statements: list[Statement], path_line: Callable[[int], int]) -> None:
    """Never assume safe what the analyzer could not classify."""
    for statement in statements:
        if statement.unanalyzable:
            raise ApplyError(f"{path}:{path_line(statement.line)}: refusing a statement migrator cannot analyze: "
                             f"{statement.unanalyzable}")
        if any(action.kind == "copy_from_client" for action in statement.actions):
            raise ApplyError(f"{path}:{path_line(statement.line)}: COPY ... FROM STDIN and \\copy take their rows from "
                             "psql, which migrator apply does not send: write them as INSERT ... VALUES, or apply this "
                             "file with psql")


# Lint errors the executor itself makes moot: it sets the timeouts, runs statements that cannot
# run in a transaction block outside one, and bounds every lock wait (holding one table's lock
# while waiting for another's ends in a lock timeout and a retry, not a queue).
HANDLED_BY_EXECUTOR = frozenset({"require-lock-timeout", "require-statement-timeout", "timeout-exceeds-limit",
                                 "concurrently-in-transaction", "unbalanced-transaction", "work-while-holding-lock"})


@functools.cache
def refusal_linter(config):
    """The linter that judges what apply runs: the project's configuration (its ignore list)."""
    from migrator.lint import Linter

    return Linter(config)


def _in_autocommit_blocks(statements: list[Statement]) -> set[int]:
    """The ids of the statements an Alembic revision runs in its autocommit_block()s."""
    inside, found = False, set()
    for statement in statements:
        if statement.alembic_block is not None:
            inside = statement.alembic_block == "enter"
        elif inside:
            found.add(id(statement))
    return found


def _rewrites(statements: list[Statement], pg_version: int, costs: dict, catalog, in_blocks: set[int] = frozenset(),
              alembic: bool = False) -> list[tuple[Statement, list | None]]:
    """Each statement with its online form, if it needs one (none inside explicit BEGIN ... COMMIT
    or an Alembic autocommit_block() (in_blocks: their ids), none on a table this migration
    creates, or one within the small-table budget). A revision's own BEGIN outside such a block
    changes nothing: it is sent inside the revision's transaction, as the statements after it."""
    from migrator.context import MigrationContext
    from migrator.guard import online_form
    from migrator.rewrites import rewrite

    created = MigrationContext(pg_version)  # the tables the migration created so far, renamed ones too, as lint tracks them
    explicit = False
    planned = []
    for statement in statements:
        if statement.alembic_block is not None:
            explicit = False
        elif statement.kind == "begin":
            explicit = not alembic
        elif statement.kind in ("commit", "rollback"):
            explicit = statement.chains and not alembic
        new = created.is_new(statement.relation)
        units = None if explicit or new or id(statement) in in_blocks else rewrite(statement, set(), pg_version, catalog.name_taken(statement))
        planned.append((statement, online_form(units, costs[id(statement)])))
        created.apply(statement)
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
        self.lock_pid: int | None = None  # the backend holding the deploy lock, once apply took it
        self.scope = ""  # whose deploy lock and journal (the source's journal_scope), once apply took the lock
        self.longest_wait = 0.0
        self.older_transactions_wait = 0.0  # seconds CONCURRENTLY steps waited for older transactions (not lock timeouts)
        self.applied: list[str] = []  # the versions this run committed, in order
        self.remaining: list[str] = []  # the versions this run set out to apply (or revert), in order

    def progress(self, failing: str) -> list[str]:
        """What this run committed before `failing` and what it did not reach, for the message of a failure."""
        before = [version for version in self.applied if version != failing]
        left = [version for version in self.remaining if version not in self.applied and version != failing]
        return [*([f"committed before it: {', '.join(before)}"] if before else []),
                *([f"not run: {', '.join(left)}"] if left else [])]

    def connect(self, name: str = "migrator apply") -> psycopg.Connection:
        """An autocommit connection named in pg_stat_activity (the deploy lock's message shows it)."""
        return connect(self.dsn, ApplyError, application_name=name)

    # -- deploy lock -------------------------------------------------------------------------
    def acquire_deploy_lock(self, connection: psycopg.Connection, scope: str = "") -> None:
        """Wait up to lock_wait for the session advisory lock; say who holds it if it never comes.

        scope '' (a whole database): DEPLOY_LOCK, exclusive. A schema (an Alembic project's
        version table there, schema-per-tenant): DEPLOY_LOCK shared, so that whole-database applies
        wait, and (DEPLOY_LOCK, the schema's hash) exclusive: two applies of one schema never run
        at once, those of two schemas do."""
        deadline = time.monotonic() + self.policy.lock_wait / 1000
        [(key,)] = connection.execute("SELECT hashtext(%s) & 2147483647", (scope,)).fetchall()
        while not _try_deploy_lock(connection, scope, key):
            if time.monotonic() >= deadline:
                holder = connection.execute(
                    "SELECT a.pid, coalesce(a.client_hostname, host(a.client_addr), 'local socket'), a.backend_start, a.application_name "
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE "
                    "datname = current_database()) AND (l.objsubid = 1 AND l.classid = 0 AND l.objid = %(lock)s "
                    "AND (%(scope)s = '' OR l.mode = 'ExclusiveLock') OR %(scope)s <> '' AND l.objsubid = 2 "
                    "AND l.classid = %(lock)s AND l.objid = %(key)s) ORDER BY l.objsubid DESC LIMIT 1",
                    {"lock": DEPLOY_LOCK, "scope": scope, "key": key}).fetchone()
                who = f" (pid {holder[0]} from {holder[1]}, {holder[3] or 'no name'}, since {holder[2]:%Y-%m-%d %H:%M:%S %Z})" if holder else ""
                of = f" of schema {scope}" if scope else ""
                raise ApplyError(f"another migrator apply holds the deploy lock{of}{who}; waited {format_duration(self.policy.lock_wait)}")
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
        """Apply what the source has pending, in order, under the deploy lock; returns the versions applied.

        The source first finishes the follow-up steps an earlier run journaled and left (a crash, a
        failed VALIDATE): a migration's follow-ups always run before the next migration."""
        with self.connect() as lock_connection, self.connect() as connection:
            self.refuse_transaction_pooling(lock_connection, connection)
            scope = source.journal_scope(connection)
            self.acquire_deploy_lock(lock_connection, scope)
            self.lock_pid, self.scope = lock_connection.info.backend_pid, scope
            create_version_tables(connection)
            return source.apply(self, connection)

    def apply_planned(self, connection: psycopg.Connection, source, pending: list[Migration]) -> list[str]:
        """Run planned migrations (a folder of .sql files, or `--to` a SQL version): groups, journal, stamp."""
        done: dict[str, set[int]] = {}
        for version, step in connection.execute(
                "SELECT version, step FROM migrator.apply_journal WHERE scope = %s AND status = 'done' AND version = ANY(%s)",
                (self.scope, [m.version for m in pending])):
            done.setdefault(version, set()).add(step)
        self.remaining = [migration.version for migration in pending]
        for migration in pending:
            self._apply_one(connection, migration, done.get(migration.version, set()), source)
            self.emit({"event": "done", "migration": migration.version})
            self.applied.append(migration.version)
        return self.applied

    def _apply_one(self, connection: psycopg.Connection, migration: Migration, done: set[int], source) -> None:
        """Run the groups not yet journaled as done, then stamp the version: in the last group's
        transaction when it has one, so the schema change and its record commit together."""
        self.emit({"event": "migration", "migration": migration.version, "groups": len(migration.groups)})
        stamped = False
        for group in migration.groups:
            if all(step.index in done for step in group.steps):
                self.emit({"event": "skip", "migration": migration.version, **steps_number(group.steps)})
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
                    connection.execute(_journal_sql(migration, [step], self.scope))
                return
            except (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected) as error:
                self.longest_wait = max(self.longest_wait, time.monotonic() - attempt_started)
                waited = time.monotonic() - started
                pause = schedule.pause_after(attempt, waited)
                if pause is None:
                    raise ApplyError(
                        f"{migration.path}:{group.steps[0].statement.line}: gave up after {attempt.number} attempts in "
                        f"{waited:.1f} s: {first_line(error)} (something holds a conflicting lock; "
                        f"{'; '.join(['nothing of this transaction was applied', *self.progress(migration.version)])})") from None
                self.retries += 1
                self.emit({"event": "retry", "migration": migration.version, **group.steps[0].number,
                           "attempt": attempt.number, "error": type(error).__name__, "wait_s": round(pause, 2)})
                time.sleep(pause)
            except psycopg.Error as error:
                line = _failing_step(group, error).statement.line
                if group.on_failure:
                    connection.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', '0', false)",
                                       (f"{self.policy.lock_timeout}ms",))
                    connection.execute(group.on_failure)
                    raise ApplyError(f"{migration.path}:{line}: {group.failure_message}: {database_error(error)}") from None
                said = [f"{migration.committed}; this step is journaled: fix the cause and run apply again to finish it"
                        if migration.committed else "this transaction was rolled back", *self.progress(migration.version)]
                raise ApplyError(f"{migration.path}:{line}: {database_error(error)} ({'; '.join(said)})") from None

    # -- follow-ups: online steps that run after their migration's transaction commits -----------
    def finish_followups(self, connection: psycopg.Connection, skip: frozenset[str] = frozenset()) -> None:
        """Run every follow-up step journaled as pending, in order (each unit with its retries), but
        those of the versions in `skip` (a downgrade reverts them)."""
        rows = connection.execute(
            "SELECT version, step, sql, unit, in_transaction, origin, search_path, (SELECT count(*) FROM migrator.apply_journal "
            "AS o WHERE o.scope = j.scope AND o.version = j.version AND o.origin = j.origin AND o.step <= j.step) "
            "FROM migrator.apply_journal AS j WHERE scope = %s AND status = 'pending' AND version <> ALL(%s) "
            "ORDER BY finished_at, version, step", (self.scope, list(skip))).fetchall()
        units: dict[tuple[str, int], list] = {}
        for row in rows:
            units.setdefault((row[0], row[3]), []).append(row)
        analyzer = Analyzer()
        for (version, _), members in units.items():
            path, _, line = members[0][5].rpartition(":")
            steps = [_journaled_followup(step, _analyzed(analyzer, text, int(line) if line.isdigit() else 1), Path(path), nth)
                     for _, step, text, *_, nth in members]
            migration = Migration(version, Path(path or version), "", committed=f"migration {version} committed")
            self.emit({"event": "followup", "migration": version, **steps_number(steps)})
            with _search_path(connection, members[0][6]):
                self._run_group(connection, migration, Group(steps, transaction=bool(members[0][4])), None)

    def _transaction(self, connection: psycopg.Connection, migration: Migration, group: Group, stamp_source,
                     lock_timeout: int) -> None:
        """One transaction for the group's steps, their journal entries and (stamp_source) the version,
        its lock waits bounded by this try's lock_timeout; follow-ups journaled in it run once it commits.

        BEGIN travels with the first step and the journal, stamp and COMMIT in one message: a
        one-statement migration costs two round trips, where psycopg's transaction() would take four.
        """
        from migrator.dbapi import Session
        from migrator.guard import constraint_names, resolve_constraint_name

        followups = []
        try:
            begun = False
            for step in group.steps:
                before = None
                if step.names_constraint:
                    if not begun:
                        connection.execute("BEGIN")
                    begun = True
                    before = constraint_names(Session(connection), step.names_constraint)
                if step.statement.sql != NO_OP_STEP:
                    self._execute(connection, migration, step, lock_timeout, transaction=True, begin=not begun)
                    begun = True
                units = step.followups
                if before is not None:
                    units = resolve_constraint_name(Session(connection), step.names_constraint, before, units)
                if units:
                    followups.append(followups_journal_sql(migration.version, units, f"{migration.path}:{step.statement.line}",
                                                           _first_followup(step), Analyzer(), self.scope))
            stamp = [stamp_source.stamp_sql(migration)] if stamp_source is not None else []
            connection.execute(sql.SQL("; ").join([*([] if begun else [sql.SQL("BEGIN")]),
                                                   _journal_sql(migration, group.steps, self.scope),
                                                   *followups, *stamp, sql.SQL("COMMIT")]))
        except BaseException:
            if connection.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                connection.execute("ROLLBACK")
            raise
        if followups:
            migration.committed = f"migration {migration.version} committed"
            self.finish_followups(connection)

    def _execute(self, connection: psycopg.Connection, migration: Migration, step: Step, lock_timeout: int,
                 transaction: bool, begin: bool = False) -> None:
        lock_timeout, statement_timeout = step.timeouts(self.policy, lock_timeout)
        started, watch = time.monotonic(), None
        self.emit({"event": "step", "migration": migration.version, **step.number, "sql": step.statement.sql,
                   "lock_timeout_ms": lock_timeout, "statement_timeout_ms": statement_timeout})
        try:
            if transaction:  # the settings travel with the statement, in one simple-protocol message
                connection.execute(f"{'BEGIN; ' if begin else ''}{_set_local_timeouts(lock_timeout, statement_timeout)}; "
                                   f"{step.statement.sql}")
            else:  # CONCURRENTLY may not share a message with other statements (an implicit transaction)
                connection.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
                                   (f"{lock_timeout}ms", f"{statement_timeout}ms"))
                with (self._older_transactions_watch(connection.info.backend_pid) if step.statement.concurrently
                      else contextlib.nullcontext()) as watch:
                    connection.execute(step.statement.sql)
        except psycopg.Error as error:
            error.migrator_step = step  # which statement failed, for the message
            raise
        waited = {"older_transactions_wait_s": round(watch.seconds, 2)} if watch is not None else {}
        self.emit({"event": "step_done", "migration": migration.version, **step.number,
                   "seconds": round(time.monotonic() - started, 3), **waited})

    @contextlib.contextmanager
    def _older_transactions_watch(self, pid: int):
        """While a CONCURRENTLY statement runs on backend `pid`: how long it waits for transactions
        older than it to end (PostgreSQL's virtualxid lock wait: an open read transaction holds a
        build up this way, no lock_timeout ends it), sampled from another session every 50 ms and
        added to older_transactions_wait."""
        watch = _WaitWatch(self.connect, pid)
        watch.start()
        try:
            yield watch
        finally:
            watch.stop()
            self.older_transactions_wait += watch.seconds

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
            self.emit({"event": "skip", "migration": migration.version, **steps_number([step]),
                       "reason": f"index {name} exists and is valid"})
            connection.execute(_journal_sql(migration, [step], self.scope))
            return True
        self.emit({"event": "invalid_index", "migration": migration.version, **step.number, "index": name})
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
        self.emit({"event": "wait_for_build", "migration": migration.version, **step.number, "index": name,
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


class _WaitWatch(threading.Thread):
    """Samples pg_stat_activity for backend `pid` waiting on a virtualxid lock (see
    Executor._older_transactions_watch)."""

    def __init__(self, connect, pid: int):
        super().__init__(daemon=True)
        self.connect, self.pid, self.seconds, self.stopping = connect, pid, 0.0, threading.Event()

    def run(self) -> None:
        with contextlib.suppress(psycopg.Error, UserError), self.connect("migrator apply watch") as watcher:
            last = time.monotonic()
            while not self.stopping.wait(0.05):
                [(waiting,)] = watcher.execute("SELECT coalesce(bool_or(wait_event_type = 'Lock' AND wait_event = 'virtualxid'), "
                                               "false) FROM pg_stat_activity WHERE pid = %s", (self.pid,)).fetchall()
                now = time.monotonic()
                self.seconds += (now - last) if waiting else 0.0
                last = now

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def _find_index(connection: psycopg.Connection, name: str) -> tuple[int, bool, str] | None:
    """(oid, valid, schema-qualified name) of the index `name` on the search path, if there is one."""
    return connection.execute(
        "SELECT c.oid, i.indisvalid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND pg_table_is_visible(c.oid)", (name,)).fetchone()


def _first_followup(step: Step) -> int:
    """The journal step number of the first follow-up of a SQL migration's step (see Step.number)."""
    return FOLLOWUP_STEPS + 100 * step.index


def _journaled_followup(step: int, statement: Statement, path: Path, nth: int) -> Step:
    """A follow-up read back from the journal, to be named as plan names it: a SQL migration's by its
    journal step number (Step.number); an Alembic revision's (journaled from 1 by its revision) as
    the nth follow-up of the op at its origin, `path`."""
    if step >= FOLLOWUP_STEPS:
        return Step(step, statement)
    return Step(step, statement, file=path.name, followup_number=nth)


def _set_local_timeouts(lock_timeout: int, statement_timeout: int) -> str:
    """The transaction's lock and statement timeouts (milliseconds), as simple-protocol SQL."""
    return f"SET LOCAL lock_timeout = '{lock_timeout}ms'; SET LOCAL statement_timeout = '{statement_timeout}ms'"


def _try_deploy_lock(connection: psycopg.Connection, scope: str, key: int) -> bool:
    """One try at the deploy lock of `scope` (see Executor.acquire_deploy_lock); key: the scope's hash."""
    if not scope:
        return connection.execute("SELECT pg_try_advisory_lock(%s)", (DEPLOY_LOCK,)).fetchone()[0]
    if not connection.execute("SELECT pg_try_advisory_lock_shared(%s)", (DEPLOY_LOCK,)).fetchone()[0]:
        return False
    if connection.execute("SELECT pg_try_advisory_lock(%s, %s)", (DEPLOY_LOCK, key)).fetchone()[0]:
        return True
    connection.execute("SELECT pg_advisory_unlock_shared(%s)", (DEPLOY_LOCK,))  # a whole-database apply may go first
    return False


def _journal_sql(migration: Migration, steps: list[Step], scope: str) -> sql.Composed:
    """Record steps as done in the journal of `scope` (resuming skips them)."""
    rows = sql.SQL(", ").join(sql.SQL("({}, {}, {}, {}, 'done')").format(
        sql.Literal(scope), sql.Literal(migration.version), sql.Literal(step.index), sql.Literal(step.hash)) for step in steps)
    return sql.SQL("INSERT INTO migrator.apply_journal (scope, version, step, statement_hash, status) VALUES {} "
                   "ON CONFLICT (scope, version, step) DO UPDATE SET status = 'done', finished_at = now()").format(rows)


def _failing_step(group: Group, error: Exception) -> Step:
    return getattr(error, "migrator_step", group.steps[0])


def describe_plan(migrations: list[Migration], policy: Policy, pg_version: int = 15) -> list[dict]:
    """What apply would do, step by step: SQL, locks, rewrite/scan, transaction, timeouts. A
    rewrite's follow-ups come after the transaction they follow, as "after commit" groups. Each
    step's facts are decided by what the steps before it do on the server, in the order apply sends
    them (a SET NOT NULL after the VALIDATE of a CHECK (col IS NOT NULL) scans nothing on 12+)."""
    from migrator.context import MigrationContext

    analyzer = Analyzer(pg_version)
    sent = MigrationContext(pg_version, wrapped=False)
    plan = []

    def entry(migration: Migration, group: int, step: Step, transaction: str, online_only: bool = False) -> dict:
        statement = step.statement
        sent.enter(statement)
        sent.apply(statement)
        lock_timeout, statement_timeout = step.timeouts(policy)
        return {"migration": migration.version, "group": group, **step.number, "transaction": transaction,
                "sql": statement.sql, "locks": [{"relation": str(t.relation), "lock": t.lock.label} for t in statement.locks],
                "rewrites": statement.rewrites, "scans": statement.scans, "lock_timeout_ms": lock_timeout,
                "statement_timeout_ms": statement_timeout, "online_only": online_only, "refusals": step.refusals}

    for migration in migrations:
        if not migration.groups:  # nothing to send, yet the version moves: apply counts it too
            plan.append(entry(migration, 0, Step(0, _analyzed(analyzer, "SELECT", 1)), "transaction"))
            plan[-1]["sql"] = "-- no SQL for PostgreSQL: only the version record moves"
        number = 0
        ops = collections.Counter()  # an Alembic op's follow-ups so far, over the statements it sent (as apply counts them)
        for group in migration.groups:
            followups = []
            for step in group.steps:
                if step.statement.sql != NO_OP_STEP:
                    plan.append(entry(migration, number, step, "transaction" if group.transaction else "autocommit",
                                      group.online_only))
                for offset, text in enumerate(text for unit in step.followups for text in unit.sql):
                    followup = Step(_first_followup(step) + offset, _analyzed(analyzer, text, step.statement.line), file=step.file)
                    if step.file is not None:
                        ops[step.file, step.statement.line] += 1
                        followup.followup_number = ops[step.file, step.statement.line]
                    followups.append(followup)
            for followup in followups:
                number += 1
                kind = "after commit, autocommit" if followup.statement.no_transaction else "after commit"
                plan.append(entry(migration, number, followup, kind))
            number += 1
    return plan
