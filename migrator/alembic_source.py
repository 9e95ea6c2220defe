"""Alembic projects: applied by Alembic's own runtime, planned offline.

`migrator apply` runs the project's env.py unchanged, as `alembic upgrade` (or `downgrade`)
does: its configuration, search_path, custom types and version table settings all hold. migrator
owns the connection: `sqlalchemy.url` is set to the target database, the connection is offered
in `config.attributes["connection"]` (Alembic's documented way to share one), and whatever
connection env.py hands to `context.configure()` must reach the database that holds migrator's
deploy lock. migrator's safety sits on the execution path, at SQLAlchemy's
`before_cursor_execute`: every statement is judged as it is sent (migrator.guard), armed with
its lock and statement timeouts, and run as written, in its online form, or refused.

Each revision runs in one transaction with its version stamp (`transaction_per_migration`):
it commits whole or not at all. Online follow-ups (CONCURRENTLY builds, VALIDATE, the SET NOT
NULL steps) are journaled in that transaction and run right after it commits, before the next
revision; a re-run finishes any that a crash left. A lock timeout rolls the revision back and
the run goes on from it after a pause. An env.py whose own `with engine.begin()` holds the
transaction Alembic runs every revision in gets the same: each revision commits beneath it.
`plan` renders revisions offline (migrator.revisions) from the heads Alembic reads through
env.py, as apply does.
"""

from __future__ import annotations

import ast
import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from sqlglot.errors import TokenError

from migrator.analyzer import Analyzer, Statement
from migrator.dbapi import Session, Status, replace_placeholders
from migrator.errors import database_error, first_line
from migrator.executor import (NO_OP_STEP, ApplyError, Group, Migration, Step, followups_journal_sql, op_step_number,
                               plan_text)
from migrator.oracle import error_sqlstate
from migrator.revisions import RevisionDirectives, project_layout, render_revision, to_sql
from migrator.rewrites import after_renames

# A lock wait that gave up (lock_not_available, deadlock_detected), by SQLSTATE whatever the driver's error class:
# the revision in flight is rolled back and retried.
RETRIED_SQLSTATES = frozenset({pg_errors.LockNotAvailable.sqlstate, pg_errors.DeadlockDetected.sqlstate})
# errors of the timeouts migrator sets (and of the retried waits): a revision may not swallow them
TIMEOUT_SQLSTATES = RETRIED_SQLSTATES | {pg_errors.QueryCanceled.sqlstate}
OFFERED_DRIVERS = ("psycopg", "psycopg2")  # what --dsn may name: migrator's own engine and sqlalchemy.url use it
GUARDED_DRIVERS = ("psycopg", "psycopg2", "asyncpg")  # SQLAlchemy's names; psycopg covers its async dialect too (migrator.dbapi)
_GUARDING = threading.local()  # the run whose env.py is executing, so the env.py hook steps aside


def alembic_config(path: Path):
    """Alembic's Config for a project (see migrator.revisions.project_layout), with its paths made
    absolute so that it runs from any folder; None if `path` is not an Alembic project."""
    from alembic.config import Config

    try:
        layout = project_layout(path)
    except ValueError as error:
        raise ApplyError(str(error)) from None
    if layout is None:
        return None
    config = Config(str(layout.ini)) if layout.ini else Config()
    config.set_main_option("script_location", str(layout.script))
    if config.get_main_option("version_locations"):
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", os.pathsep.join(str(folder) for folder in layout.versions))
    sys.path[:0] = [entry for entry in layout.sys_paths if entry not in sys.path]
    config.set_main_option("prepend_sys_path", "")  # done above, from the ini's folder
    return config


def sqlalchemy_url(dsn: str, driver: str | None = None) -> str:
    """A libpq DSN (URL or key=value) as a SQLAlchemy URL for `driver` (psycopg 3 by default), password kept."""
    from psycopg.conninfo import conninfo_to_dict
    from sqlalchemy.engine import URL

    parts = {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    host = parts.pop("host", None)
    port = parts.pop("port", None)
    if host and (host.startswith("/") or "," in host):  # a socket folder or several hosts: libpq reads them from the query
        parts["host"], host = host, None
        if port:
            parts["port"], port = port, None
    return URL.create(f"postgresql+{driver or 'psycopg'}", username=parts.pop("user", None), password=parts.pop("password", None),
                      host=host, port=int(port) if port else None, database=parts.pop("dbname", None),
                      query=parts).render_as_string(hide_password=False)


def connection_dsn(connection: psycopg.Connection) -> str:
    """The libpq parameters `connection` was opened with (password included; compiled-in defaults
    left out), for env.py to open its own connection to the same database."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**{option.keyword.decode(): option.val.decode() for option in connection.pgconn.info
                            if option.val is not None and option.val != option.compiled})


def libpq_dsn(url) -> str:
    """A SQLAlchemy URL (any PostgreSQL driver) as a libpq URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class AlembicProject:
    """An Alembic project: its revisions between the database's heads and `target`."""

    def __init__(self, path: Path, target: str = "head", pg_version: int = 15, rewrite: bool = True,
                 lint_config=None, config=None, url_from_project: bool = False, driver: str | None = None):
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        if not url_from_project and driver not in (None, *OFFERED_DRIVERS):
            raise ApplyError(f"--dsn: migrator connects env.py through psycopg 3 (postgresql+psycopg://, which SQLAlchemy "
                             f"runs async too) or psycopg2 (postgresql+psycopg2://), not {driver}")
        self.config = config or alembic_config(path)
        if self.config is None:
            raise ApplyError(f"{path}: not an Alembic project (no alembic.ini or env.py)")
        self.ini = Path(self.config.config_file_name) if self.config.config_file_name else path
        try:
            with contextlib.redirect_stdout(sys.stderr):  # what revisions print at import is not our output
                self.script = ScriptDirectory.from_config(self.config)
                self.scripts = list(self.script.walk_revisions())  # loads every revision: their errors surface here
        except AssertionError:  # Alembic's walk trips over a revision id that is one of its keywords
            raise ApplyError(self._reserved_revision_id() or f"{self.ini}: Alembic cannot order the revisions") from None
        except CommandError as error:
            raise ApplyError(f"{self.ini}: {error}") from None
        except SyntaxError as error:
            raise ApplyError(f"{error.filename}:{error.lineno}: syntax error: {error.msg}") from None
        except Exception as error:  # a revision's own import-time code failed
            raise ApplyError(f"{self.ini}: cannot load the revisions ({type(error).__name__}: {first_line(error)})") from None
        self.target, self.rewrite, self.lint_config = target, rewrite, lint_config
        self.url_from_project = url_from_project  # the env.py hook: the project's own URL, not --dsn
        self.driver = driver  # the driver --dsn (or the env.py hook's URL) names; None: psycopg 3
        self.analyzer = Analyzer(pg_version)
        self.direction = "upgrade"
        self.preview = False  # plan: a refused step is marked (Step.refusals), the rest planned, nothing raised
        self._check_target()

    # -- revisions ---------------------------------------------------------------------------------
    def _check_target(self) -> None:
        """An unknown target fails now, before anything connects."""
        from alembic.script.revision import RevisionError
        from alembic.util import CommandError

        target = self.target
        if target in ("head", "heads", "base") or target.lstrip("+-").isdigit() or "@" in target:
            return
        try:
            self.script.revision_map.get_revisions(target)
        except (CommandError, RevisionError) as error:
            raise ApplyError(f"{self.ini}: {error}") from None
        except AssertionError:  # Alembic's walk trips over a revision id that is one of its keywords
            raise ApplyError(self._reserved_revision_id() or f"{self.ini}: Alembic cannot order the revisions") from None

    def _resolve(self, heads: tuple[str, ...]) -> list:
        """The revisions from `heads` (the database's) up to the target, in upgrade order, as Alembic orders them."""
        from alembic.script.revision import MultipleHeads, RevisionError
        from alembic.util import CommandError

        try:
            revisions = list(self.script.iterate_revisions(self.target, heads or "base", implicit_base=True))
        except MultipleHeads as error:
            raise ApplyError(f"{self.ini}: the history has several heads ({', '.join(error.heads)}) for target "
                             f"{self.target!r}: name one with --to REVISION, or --to heads for all of them") from None
        except (CommandError, RevisionError) as error:
            raise ApplyError(f"{self.ini}: {error}") from None
        except AssertionError:
            raise ApplyError(self._reserved_revision_id() or f"{self.ini}: Alembic cannot order the revisions") from None
        return list(reversed(revisions))

    def _reserved_revision_id(self) -> str | None:
        """Where a revision is named base, head or heads (Alembic reads those names as keywords)."""
        folders = self.script.version_locations or [Path(self.script.dir, "versions")]
        for path in (path for folder in folders for path in Path(folder).rglob("*.py")):
            try:
                body = ast.parse(path.read_text(encoding="utf-8")).body
            except (SyntaxError, UnicodeDecodeError):  # not a revision Alembic loaded
                continue
            for node in body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "revision" for t in node.targets) \
                        and isinstance(node.value, ast.Constant) and node.value.value in ("base", "head", "heads"):
                    return (f"{path}:{node.lineno}: revision id {node.value.value!r} is one of Alembic's keywords "
                            "(base, head, heads): give the revision another id")
        return None

    # -- plan: rendered offline --------------------------------------------------------------------
    def _plan(self, revision, catalog=None, downgrade: bool = False) -> Migration:
        """A revision's upgrade() (or downgrade(): named REVISION-downgrade, as in the journal), planned."""
        path, function = Path(revision.path), "downgrade" if downgrade else "upgrade"
        version = f"{revision.revision}-downgrade" if downgrade else revision.revision
        with contextlib.redirect_stdout(sys.stderr):
            rendered = render_revision(path, revision.module, function, self.config,  # Alembic imported it already
                                       self._config_arguments())
        if rendered.error is not None:
            line, message = rendered.error
            shown = Statement(f"-- {function}() of {path.name}: each statement is judged as it is sent\n-- {message}",
                              line, 0, line, "live_revision")
            return Migration(version, path, "", [Group([Step(0, shown, file=path.name)], transaction=True, online_only=True)])
        text, origin, blocks = to_sql(rendered)
        return plan_text(version, path, text, self.analyzer, self.rewrite, origin, self.lint_config, catalog, downgrade,
                         self.preview, alembic=True, autocommit_blocks=blocks)

    def _config_arguments(self) -> dict:
        """The keyword arguments env.py passes to context.run_migrations() (and so to each upgrade()) that are
        Alembic's config (`config=config`, as TruLens' does): those plan can give a revision offline."""
        if not hasattr(self, "_arguments"):
            try:
                tree = ast.parse(Path(self.script.env_py_location).read_text(encoding="utf-8"))
            except (OSError, SyntaxError, UnicodeDecodeError):
                tree = ast.Module(body=[], type_ignores=[])

            def is_config(node) -> bool:  # context.config, or a name env.py bound to it
                return (isinstance(node, ast.Attribute) and node.attr == "config" and isinstance(node.value, ast.Name)
                        and node.value.id == "context") or isinstance(node, ast.Name) and node.id in names

            names: set[str] = set()
            names |= {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and is_config(node.value)
                      for target in node.targets if isinstance(target, ast.Name)}
            self._arguments = {keyword.arg: self.config for node in ast.walk(tree) if isinstance(node, ast.Call)
                               and getattr(node.func, "attr", None) == "run_migrations"
                               for keyword in node.keywords if keyword.arg and is_config(keyword.value)}
        return self._arguments

    def all(self) -> list[Migration]:
        return [self._plan(r) for r in self._resolve(())]

    def current(self, connection: psycopg.Connection, executor=None, policy=None) -> tuple[str, ...]:
        """The database's heads as Alembic reads them through env.py (its version_table and
        version_table_schema): one truth for plan, the gates and apply. env.py connects to the
        database `connection` is on (or the executor's), its own statements judged under the
        executor's policy (else `policy`); what it sends there is bookkeeping, not logged."""
        from migrator.executor import Executor, Policy
        from migrator.guard import Guard

        reader = Executor(executor.dsn if executor else connection_dsn(connection),
                          executor.policy if executor else policy or Policy())
        reader.lock_pid = executor.lock_pid if executor else None
        guard = Guard(self.analyzer, reader.policy, self.lint_config, self.rewrite)
        run = _Run(self, reader, connection, guard, lambda revision: reader.policy.lock_timeout)
        return run.current_heads()

    def pending(self, connection: psycopg.Connection, policy=None) -> list[Migration]:
        """The revisions apply would run, rendered offline and planned against this database's tables."""
        from migrator.executor import Policy
        from migrator.guard import Catalog

        catalog = Catalog(connection, policy or Policy())
        heads = self.current(connection, policy=policy)
        self.direction = self._direction(lambda: heads)
        if self.direction == "downgrade":
            return [self._plan(step.revision, catalog, True) for step in self.script._downgrade_revs(self.target, heads)]
        return [self._plan(r, catalog) for r in self._resolve(heads)]

    @staticmethod
    def journal_scope(connection: psycopg.Connection) -> str:
        """Whose deploy lock and journal an apply takes: the schema first on the search_path, where
        alembic_version lives (schema-per-tenant: each tenant's own, so tenants apply in parallel)."""
        return connection.execute("SELECT coalesce(current_schema(), '')").fetchone()[0]

    def pending_files(self, connection: psycopg.Connection, executor=None) -> list[tuple[str, Path]]:
        """(revision, file) of each revision an upgrade would run, unrendered (a downgrade: none)."""
        if self.target == "base" or self.target.startswith("-"):
            return []
        return [(revision.revision, Path(revision.path)) for revision in self._resolve(self.current(connection, executor))]

    def stop_after(self, revision: str) -> None:
        """Upgrade no further than `revision`."""
        self.target = revision

    # -- apply: Alembic's own runtime ----------------------------------------------------------------
    def apply(self, executor, connection: psycopg.Connection) -> list[str]:
        """Run env.py under the guard until the target is reached; a lock timeout rolls back the
        revision in flight and, after a pause, the run goes on from it."""
        from migrator.guard import Guard

        guard = Guard(self.analyzer, executor.policy, self.lint_config, self.rewrite)  # tables created so far outlive retries
        self.direction = self._direction(lambda: self.current(connection, executor))
        guard.downgrade = self.direction == "downgrade"
        executor.finish_followups(connection, self._reverted(executor, connection))
        schedule = executor.policy.lock_waits()
        tries, failing, started = iter(schedule), None, time.monotonic()
        attempt = next(tries)
        while True:
            attempt_started = time.monotonic()
            run = _Run(self, executor, connection, guard, lambda revision: attempt.lock_timeout
                       if revision == failing else schedule.first_lock_timeout)
            try:
                run.execute()
                return executor.applied
            except _LockTimeout as timeout:
                executor.longest_wait = max(executor.longest_wait, time.monotonic() - attempt_started)
                if timeout.revision != failing:  # each revision walks the lock-wait schedule from its first try
                    tries, failing, started = iter(schedule), timeout.revision, attempt_started
                    attempt = next(tries)
                pause = schedule.pause_after(attempt, time.monotonic() - started)
                if pause is None:
                    raise ApplyError(f"{timeout.where}: gave up after {attempt.number} attempts in "
                                     f"{time.monotonic() - started:.1f} s: {first_line(timeout.error)} (something holds a "
                                     f"conflicting lock; {run.rolled_back()})") from None
                executor.retries += 1
                executor.emit({"event": "retry", "migration": timeout.revision, **(timeout.number or {"step": 0, "followup": None}),
                               "attempt": attempt.number, "error": type(timeout.error).__name__, "wait_s": round(pause, 2)})
                time.sleep(pause)
                attempt = next(tries)

    def _reverted(self, executor, connection: psycopg.Connection) -> frozenset[str]:
        """The revisions a downgrade reverts (their journaled follow-ups are not finished but dropped)."""
        if self.direction != "downgrade":
            return frozenset()
        heads = self.current(connection, executor)
        return frozenset(step.revision.revision for step in self.script._downgrade_revs(self.target, heads))

    def _direction(self, current) -> str:
        """upgrade or downgrade, as the target lies above or below the database's heads (current(): read when needed)."""
        target = self.target
        if target == "base" or target.startswith("-"):
            return "downgrade"
        if target in ("head", "heads") or target.startswith("+"):
            return "upgrade"
        heads = current()
        below = {r.revision for r in self.script.iterate_revisions(heads, "base")} if heads else set()
        wanted = {r.revision for r in self.script.revision_map.get_revisions(target) if r is not None}
        return "downgrade" if wanted and wanted <= below and not wanted & set(heads) else "upgrade"


class _LockTimeout(Exception):
    """A lock timeout or deadlock of the revision in flight; number: its statement's (op_step_number), if known."""

    def __init__(self, error: Exception, where: str, revision: str, number: dict | None):
        super().__init__(str(error))
        self.error, self.where, self.revision, self.number = error, where, revision, number


class RevisionOrigins:
    """Which revision file sends a statement, read from the Python call stack."""

    def __init__(self, project: AlembicProject):
        self.env_path = Path(project.script.env_py_location)
        self.revisions = {}  # co_filename of a revision module -> its Script
        for script in project.scripts:
            module_file = getattr(script.module, "__file__", None) or script.path
            self.revisions[module_file] = self.revisions[str(Path(script.path))] = script

    def of(self, frame):
        """(the revision's Script or None, the file to name, its lines on the call stack, innermost first):
        the revision file that sends the statement, else env.py's line."""
        found, lines, env_line = None, [], None
        while frame is not None:
            filename = frame.f_code.co_filename
            script = self.revisions.get(filename)
            if script is not None and (found is None or filename == found):
                found = filename
                lines.append(frame.f_lineno)
            elif env_line is None and filename == str(self.env_path):
                env_line = frame.f_lineno
            frame = frame.f_back
        if found is not None:
            script = self.revisions[found]
            return script, Path(script.path), tuple(lines)
        return None, self.env_path, (env_line or _awaiting_line(str(self.env_path)) or 1,)

    def failing_line(self, traceback) -> tuple[Path, int]:
        """The innermost revision (else env.py) line in a traceback."""
        found = (self.env_path, 1)
        revision_found = None
        while traceback is not None:
            filename = traceback.tb_frame.f_code.co_filename
            if filename in self.revisions:
                revision_found = (Path(self.revisions[filename].path), traceback.tb_lineno)
            elif filename == str(self.env_path):
                found = (self.env_path, traceback.tb_lineno)
            traceback = traceback.tb_next
        return revision_found or found


@contextlib.contextmanager
def project_environment(project: AlembicProject, dsn: str, run, hooks, application_name: str, **options):
    """Alembic's EnvironmentContext for running the project's env.py online against `dsn` (set as
    sqlalchemy.url, and offered as config.attributes["connection"]), with `hooks` ((event, function,
    retval) on every SQLAlchemy Engine) listening; `run` is the run under way, so that env.py's
    run_migrations_through_migrator steps aside. What env.py and revisions print goes to stderr."""
    from alembic.runtime.environment import EnvironmentContext
    from sqlalchemy import create_engine, event, pool
    from sqlalchemy.engine import Engine

    config = project.config
    offered = project.driver if project.driver in OFFERED_DRIVERS else None  # the env.py hook's asyncpg URL: the
    url = sqlalchemy_url(dsn, offered)  # offered connection (sync) is psycopg 3's
    if not project.url_from_project:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"application_name": application_name})
    for name, function, retval in hooks:
        event.listen(Engine, name, function, retval=retval)
    _GUARDING.run = run
    try:
        with engine.connect() as shared, contextlib.redirect_stdout(sys.stderr):
            config.attributes["connection"] = shared
            yield EnvironmentContext(config, project.script, as_sql=False, starting_rev=None,
                                     destination_rev=project.target, tag=None, **options)
    finally:
        _GUARDING.run = None
        config.attributes.pop("connection", None)
        for name, function, _ in hooks:
            event.remove(Engine, name, function)
        engine.dispose()


class _Run:
    """One pass of the project's env.py with migrator's guard on every statement it sends."""

    def __init__(self, project: AlembicProject, executor, connection: psycopg.Connection | None, guard, lock_timeout):
        self.project, self.executor, self.connection, self.guard = project, executor, connection, guard
        self.applied = executor.applied  # what this apply committed, over its retries
        self.lock_timeout = lock_timeout  # revision -> this try's lock timeout (the lock-wait schedule)
        self.origins = RevisionOrigins(project)
        self.env_path, self.revisions = self.origins.env_path, self.origins.revisions
        self._directives: dict[str, RevisionDirectives] = {}
        self.queued: list[tuple[list, str]] = []  # follow-ups of the revision in flight, with where they come from
        self.journal_steps: dict[str, int] = {}  # per revision: the journal step its next follow-up gets
        self.journaled = False  # follow-ups committed with a revision, to run before anything else
        self.armed: dict[int, tuple] = {}  # per DBAPI connection: the timeouts set in its current transaction
        self.last = None  # (origin, verdict, started) of the statement in flight
        self.revision: str | None = None  # the revision whose statements are being sent
        self.savepoints: dict[str, int] = {}  # savepoint -> how many follow-ups were queued when it was set
        self.failure = None  # (error, self.last) of the last statement that failed since the latest savepoint
        self.swallowed = None  # a failure of migrator's timeouts that the revision rolled back to a savepoint and went on
        self.refusal: ApplyError | None = None  # what migrator refused in this run, whether or not the revision caught it
        self.sent: set[str] = set()  # the revisions that sent a statement of their own
        # revision -> where it first committed part of its work before its end (an autocommit_block(): as it began,
        # what the revision sent before it; in it, each statement): a retry would run all of its upgrade() again
        self.committed_part: dict[str, str] = {}
        # env.py's own `with engine.begin()` holds the transaction Alembic runs every revision in
        # (Alembic's external transaction): each revision commits beneath it (see _commit_beneath_env_py)
        self.under_env_transaction = False

    # -- running env.py -------------------------------------------------------------------------
    def execute(self) -> None:
        self._run_env(self._migrations_fn())
        self._run_followups()

    def current_heads(self) -> tuple[str, ...]:
        """The database's heads as Alembic reads them through env.py (its version table settings)."""
        heads: list[str] = []

        def record(rev, context):
            heads.extend(rev)
            return []

        self._run_env(record, dont_mutate=True)
        return tuple(heads)

    def _migrations_fn(self):
        script, target = self.project.script, self.project.target
        revisions = script._downgrade_revs if self.project.direction == "downgrade" else script._upgrade_revs

        def steps(rev, context):
            found = revisions(target, rev)
            self.executor.remaining = [*self.applied, *(step.revision.revision for step in found)]
            return found

        return steps

    def _run_env(self, fn, **options) -> None:
        """Run env.py with `fn` as Alembic's migrations function, every statement guarded; its
        failures become ApplyError (or _LockTimeout, to retry)."""
        from sqlalchemy import exc

        hooks = [("before_cursor_execute", self._refusing(self._before), True),
                 ("after_cursor_execute", self._refusing(self._after), False), ("handle_error", self._failed, False),
                 ("commit", self._refusing(self._committing), False)]
        emit, stdout = self.executor.emit, sys.stdout

        def emit_to_stdout(event: dict) -> None:  # what migrator reports keeps stdout; what revisions print does not
            with contextlib.redirect_stdout(stdout):
                emit(event)

        self.executor.emit = emit_to_stdout
        try:
            with project_environment(self.project, self.executor.dsn, self, hooks, "migrator apply", fn=fn,
                                     **options) as environment:
                with _guarded(self, environment):
                    self.project.script.run_env()
        except (ApplyError, _LockTimeout):
            raise
        except exc.DBAPIError as error:
            self._database_error(error.orig or error)
        except psycopg.Error as error:
            self._database_error(error)
        except Exception as error:  # env.py's or a revision's own code
            path, line = self.origins.failing_line(error.__traceback__)
            raise ApplyError(f"{path}:{line}: {type(error).__name__}: {first_line(error)} ({self.rolled_back()})") from None
        finally:
            self.executor.emit = emit

    def check_same_database(self, connection) -> None:
        """The connection env.py configured must be one the guard can talk through (psycopg 3, sync or
        async, psycopg2 or asyncpg) and reach the database whose deploy lock this apply holds."""
        if not hasattr(connection, "connection"):
            return
        self._refuse_unguarded(connection.dialect)
        if self.executor.lock_pid is None:
            return
        path, (line, *_) = self._origin()
        raw = Session(connection.connection.dbapi_connection)
        idle = raw.status == Status.IDLE and not raw.autocommit
        [(same,)] = raw.rows("SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND pid = %s AND granted "
                             "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
                             (self.executor.lock_pid,))
        if idle:
            raw.rollback()
        if not same:
            raise ApplyError(f"{path}:{line}: env.py connected to another database than the one being migrated "
                             "(it builds its own URL?): let it use sqlalchemy.url or config.attributes['connection']")

    def _refuse_unguarded(self, dialect) -> None:
        """The guard talks to env.py's session through psycopg 3 (sync or async), psycopg2 and asyncpg only."""
        if dialect.name != "postgresql" or dialect.driver not in GUARDED_DRIVERS:
            path, (line, *_) = self._origin()
            raise ApplyError(f"{path}:{line}: env.py connects through {dialect.name}+{dialect.driver}, and migrator judges "
                             "statements on psycopg 3 (sync or async), psycopg2 and asyncpg connections only: let env.py connect "
                             "with sqlalchemy.url (migrator sets it to --dsn) or config.attributes['connection'], or name "
                             "postgresql+psycopg:// in its own URL")

    # -- each statement ---------------------------------------------------------------------------
    def _refusing(self, hook):
        """A hook whose refusal (ApplyError: a refused statement, a follow-up that failed) is kept: a revision
        whose `except Exception` caught it may send nothing more nor commit, and is not stamped applied."""

        def refusing(*arguments):
            try:
                return hook(*arguments)
            except ApplyError as error:
                self.refusal = self.refusal or error
                raise

        return refusing

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        from migrator.guard import Origin

        self._refuse_unguarded(conn.dialect)
        raw = Session.under(conn)
        rollback_to = self._savepoint_rolled_back(statement)
        if raw.status == Status.INERROR or rollback_to is not None:  # (asyncpg cannot tell INERROR)
            self.armed.pop(id(raw.connection), None)  # it undoes the SET LOCALs made since the savepoint
            if rollback_to is not None:
                self._roll_back_to(rollback_to)
            self.last = None
            return statement, parameters
        if self.refusal is not None:  # the revision caught a refusal and went on: it fails at once
            raise self.refusal
        if raw.status == Status.IDLE:
            self._between_transactions(raw)
        path, stack = self._origin()
        directives = self._directives_of(path)
        origin = Origin(path, stack[0] if stack else 1, stack, directives.ignores if directives else Origin.ignores)
        if path != self.env_path and self.revision is not None:
            if raw.autocommit and self.revision in self.sent:  # the block's start committed what the revision sent
                self.committed_part.setdefault(self.revision, f"{path}:{origin.line}")
            self.sent.add(self.revision)
        text = inline(raw, statement, first_row(parameters) if executemany else parameters)
        verdict = self.guard.judge(raw, text, origin, in_transaction=not raw.autocommit)
        step = verdict.step
        if step.statement.kind == "savepoint" and step.statement.actions:
            self.savepoints[step.statement.actions[0].value] = len(self.queued)
            self.failure = None
        self._arm(raw, step)
        self.last = (origin, verdict, time.monotonic())
        lock_timeout, statement_timeout = step.timeouts(self.executor.policy, self.lock_timeout(self.revision))
        if verdict.sql != NO_OP_STEP:  # nothing of the op runs here (plan lists only its follow-ups): no step to name
            self.executor.emit({"event": "step", "migration": self.revision or "alembic", **self._number(origin),
                                "sql": verdict.sql or text, "lock_timeout_ms": lock_timeout,
                                "statement_timeout_ms": statement_timeout, **({"note": verdict.note} if verdict.note else {})})
        if verdict.sql is not None:  # the online form's first part, or nothing: never the driver's placeholders
            if conn.dialect.paramstyle in ("format", "pyformat"):
                return verdict.sql.replace("%", "%%"), {}
            return verdict.sql, ()  # asyncpg's $1: % is no placeholder
        return statement, parameters

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.last is None:  # a statement sent as it came (see _before)
            return
        origin, verdict, started = self.last
        session = Session.under(conn)
        if session.autocommit and origin.path != self.env_path and self.revision is not None:  # it committed as it ran
            self.committed_part.setdefault(self.revision, f"{origin.path}:{origin.line}")
        followups = self.guard.after(session, verdict)
        # the follow-ups queued so far run once the transaction commits: after this statement (a table it renames)
        self.queued = [(after_renames(verdict.step.statement, units), where) for units, where in self.queued]
        if followups:
            self.queued.append((followups, f"{origin.path}:{origin.line}"))
        if verdict.sql != NO_OP_STEP:
            self.executor.emit({"event": "step_done", "migration": self.revision or "alembic", **self._number(origin),
                                "seconds": round(time.monotonic() - started, 3)})

    def _failed(self, context) -> None:
        """A statement failed: what it was, for a ROLLBACK TO SAVEPOINT the revision may send in its except clause."""
        self.failure = (context.original_exception, self.last)

    def _savepoint_rolled_back(self, statement: str) -> str | None:
        """The savepoint a ROLLBACK TO SAVEPOINT names (SQLAlchemy's begin_nested(), or the revision's own SQL)."""
        if statement.lstrip()[:8].upper() != "ROLLBACK":  # the analyzer reads only what may be one
            return None
        parsed = self.project.analyzer.analyze(statement)
        return parsed[0].actions[0].value if len(parsed) == 1 and parsed[0].kind == "rollback_to_savepoint" else None

    def _roll_back_to(self, name: str) -> None:
        """The revision undid its work since a savepoint, as its own code decides (zuul's try a statement and roll
        back on its error): what that work queued to follow the commit is gone with it. But when what failed was
        a lock or statement timeout migrator set, plain alembic upgrade would have waited and gone on: the
        revision is not allowed to carry on without it, and fails (or is retried) once it ends as if uncaught."""
        del self.queued[self.savepoints.get(name, len(self.queued)):]
        error = self.failure[0] if self.failure else None
        if error_sqlstate(getattr(error, "orig", None) or error) in TIMEOUT_SQLSTATES:
            self.swallowed = self.failure

    @staticmethod
    def _number(origin) -> dict:
        """A statement's name in events, as plan names it: the file (the revision, or env.py) and line it comes from."""
        return op_step_number(origin.path.name, origin.line)

    def version_applied(self, ctx, step, heads, run_args) -> None:
        """Alembic moved the version table, in the revision's transaction: journal its follow-ups there."""
        if self.refusal is not None:  # the revision caught it and sent nothing more: not stamped, rolled back
            raise self.refusal
        if self.swallowed is not None:  # outside the revision's code: nothing there can catch it
            error, self.last = self.swallowed
            self._database_error(getattr(error, "orig", None) or error)
        revision = step.up_revision_id if step.is_upgrade else f"{step.up_revision_id}-downgrade"
        raw = Session(ctx.connection.connection.dbapi_connection)
        if not step.is_upgrade:  # what the reverted revision still owed goes with it
            raw.run(sql.SQL("DELETE FROM migrator.apply_journal WHERE scope = {} AND version = {} AND status = 'pending'").format(
                sql.Literal(self.executor.scope), sql.Literal(step.up_revision_id)))
        self._journal_queued(raw, revision)
        if self.under_env_transaction:
            self._commit_beneath_env_py(raw)
        self.applied.append(step.up_revision_id)
        self.executor.emit({"event": "done", "migration": step.up_revision_id,
                            **({} if step.is_upgrade else {"direction": "downgrade"})})

    def _journal_queued(self, raw: Session, version: str) -> None:
        """Journal the follow-ups queued in the transaction about to commit on `raw`, numbered on from
        those of the revision journaled before (to run once it has committed)."""
        if not self.queued:
            return
        number = self.journal_steps.get(version, 1)
        [(search_path,)] = raw.rows("SELECT current_setting('search_path')")  # env.py's, for the follow-ups
        for units, where in self.queued:
            raw.run(followups_journal_sql(version, units, where, number, self.project.analyzer, self.executor.scope,
                                          search_path))
            number += sum(len(unit.sql) for unit in units)
        self.journal_steps[version] = number
        self.queued, self.journaled = [], True

    def _committing(self, conn) -> None:
        """A transaction commits within the revision (its autocommit_block() begins): what ran before
        it committed, so the follow-ups it queued are journaled with it and run before the block. Not
        after a refusal the revision caught: what it did before is rolled back with it."""
        if self.refusal is not None:
            raise self.refusal
        if self.queued and self.revision is not None:
            downgrade = self.project.direction == "downgrade"
            self._journal_queued(Session.under(conn), f"{self.revision}-downgrade" if downgrade else self.revision)

    def _commit_beneath_env_py(self, raw: Session) -> None:
        """The revision commits on its own although env.py's `with engine.begin()` holds the
        transaction Alembic runs them all in: on the session beneath SQLAlchemy's transaction, which
        stays open for env.py's block to end (its commit then commits what followed the last
        revision; its rollback, the revision in flight). What env.py ran before configure() commits
        with the first revision. Its follow-ups run, and the next revision's transaction starts with
        what the committed one had SET LOCAL (`SET LOCAL search_path`, set_config(..., true)), which
        under Alembic held for the whole run."""
        local = raw.rows("SELECT name, current_setting(name) FROM pg_settings WHERE source = 'session' AND name NOT IN "
                         "('lock_timeout', 'statement_timeout', 'transaction_isolation', 'transaction_read_only', "
                         "'transaction_deferrable')")  # migrator's own, and what only a transaction's start may set
        raw.commit()
        self._between_transactions(raw)
        if local:
            values = sql.SQL(", ").join(sql.SQL("({}, {})").format(sql.Literal(name), sql.Literal(value)) for name, value in local)
            raw.run(sql.SQL("SELECT set_config(name, value, true) FROM (VALUES {}) AS local (name, value) "
                            "WHERE current_setting(name) IS DISTINCT FROM value").format(values))

    def refuse_autocommit_block(self):
        """Alembic's autocommit_block() cannot leave env.py's own transaction (alembic upgrade fails
        there on an assertion): refused at the revision's line, the revisions before it committed."""
        path, (line, *_) = self._origin()
        self.refusal = ApplyError(f"{path}:{line}: autocommit_block() needs a connection outside a transaction, and env.py "
                                  "hands Alembic one inside its `with ... begin()` block (alembic upgrade fails here too): "
                                  f"let env.py connect with engine.connect() ({self.rolled_back()})")
        raise self.refusal

    def _between_transactions(self, raw: Session) -> None:
        """A statement is about to open a transaction: the last one ended, so its follow-ups run now."""
        self.armed.pop(id(raw.connection), None)
        self.guard.start_migration()
        self.queued = []  # what a rolled-back transaction queued is gone with it
        self._run_followups()

    def _run_followups(self) -> None:
        if self.journaled:
            self.journaled = False
            self.executor.finish_followups(self.connection)

    def _arm(self, raw: Session, step: Step) -> None:
        """Set the statement's lock and statement timeouts on its connection, when they change."""
        timeouts = step.timeouts(self.executor.policy, self.lock_timeout(self.revision))
        if self.armed.get(id(raw.connection)) == (timeouts, raw.autocommit):
            return
        lock_timeout, statement_timeout = timeouts
        scope = "SESSION" if raw.autocommit else "LOCAL"  # autocommit_block(): for the session
        raw.run(f"SET {scope} lock_timeout = '{lock_timeout}ms'; SET {scope} statement_timeout = '{statement_timeout}ms'")
        self.armed[id(raw.connection)] = (timeouts, raw.autocommit)

    # -- where a statement comes from ---------------------------------------------------------------
    def _origin(self) -> tuple[Path, tuple[int, ...]]:
        """The revision file that sends the statement and its lines on the call stack (env.py's, else)."""
        script, path, lines = self.origins.of(sys._getframe(2))
        if script is not None:
            self.revision = script.revision
        return path, lines

    def _directives_of(self, path: Path) -> RevisionDirectives | None:
        key = str(path)
        if key not in self._directives:
            self._directives[key] = RevisionDirectives(path.read_text(encoding="utf-8")) if path.is_file() else None
        return self._directives[key]

    # -- failures ----------------------------------------------------------------------------------
    def _database_error(self, error: Exception):
        origin = self.last[0] if self.last else None
        where = f"{origin.path}:{origin.line}" if origin else str(self.env_path)
        if error_sqlstate(error) in RETRIED_SQLSTATES and self.revision not in self.committed_part:
            raise _LockTimeout(error, where, self.revision or "alembic", self._number(origin) if origin else None) from None
        retried = "" if error_sqlstate(error) not in RETRIED_SQLSTATES else ", not retried"
        raise ApplyError(f"{where}: {database_error(error)}{retried} ({self.rolled_back()})") from None

    def rolled_back(self) -> str:
        """The revision in flight rolled back, what this run committed before it and what it did not reach."""
        progress = self.executor.progress(self.revision)
        if not self.applied and self.revision not in self.committed_part:
            progress.insert(0, "nothing was committed")
        started = f"revision {self.revision} was rolled back" if self.revision else "no revision had started"
        if self.revision in self.committed_part:
            started = (f"revision {self.revision} committed part of its work outside its transaction "
                       f"({self.committed_part[self.revision]}) and the rest was rolled back, unstamped: apply runs "
                       "its upgrade() again from the top, so let that part run twice (IF NOT EXISTS) or finish it by hand "
                       "and stamp the revision")
        return "; ".join([started, *progress])


def _awaiting_line(filename: str) -> int | None:
    """The line of `filename` where the running asyncio task awaits: a statement env.py's own async
    code sends runs in a greenlet of SQLAlchemy's, whose call stack does not hold env.py's coroutine."""
    import asyncio

    try:
        task = asyncio.current_task()
    except RuntimeError:  # no event loop in this thread
        return None
    coroutine = task.get_coro() if task is not None else None
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None)
        if frame is not None and frame.f_code.co_filename == filename:
            return frame.f_lineno
        coroutine = getattr(coroutine, "cr_await", None)
    return None


def first_row(parameters):
    """One row of an executemany's parameters, for the analyzer: a list of rows, or (psycopg2's
    insertmanyvalues batches) already one mapping."""
    if isinstance(parameters, (list, tuple)):
        return parameters[0] if parameters else None
    return parameters


def inline(raw: Session, statement: str, parameters) -> str:
    """The statement with its parameters inlined as literals, for the analyzer."""
    try:
        return raw.mogrify(statement, parameters)
    except Exception:  # a value psycopg cannot adapt on its own: the analyzer needs the statement's shape only
        try:
            return replace_placeholders(statement, raw.asyncpg, lambda number: "NULL")
        except TokenError:  # not SQL the tokenizer reads: the analyzer says so on the statement as sent
            return statement


def _guarded(run: _Run, environment):
    """Alembic's EnvironmentContext as env.py sees it, whose configure() puts each revision in its
    own transaction with its version stamp, adds the version callback that journals follow-ups,
    and checks the connection reaches the database being migrated."""
    configure = environment.configure

    def guarded_configure(connection=None, **options):
        if connection is None:
            raise ApplyError(f"{run.env_path}: env.py configured Alembic without a connection: migrator applies online only")
        if getattr(connection, "in_transaction", lambda: False)():
            if not _held_by_block(connection):
                raise ApplyError(f"{run.env_path}:{_line_in(run.env_path)}: env.py handed Alembic a connection inside a "
                                 "transaction that no `with ... begin()` block of env.py holds (a statement on it began one: "
                                 "SQLAlchemy 2 autobegins): alembic upgrade runs every revision in it and commits nothing "
                                 "unless env.py commits it later: commit it first (connection.commit(), as Alembic's "
                                 "cookbook does), or begin it with `with connection.begin():`")
        run.check_same_database(connection)
        options["transaction_per_migration"] = True
        options["on_version_apply"] = [*(options.get("on_version_apply") or ()), run.version_applied]
        configure(connection=connection, **options)
        if _held_by_block(connection):  # Alembic runs every revision in that transaction, its external one
            run.under_env_transaction = True
            environment.get_context().autocommit_block = run.refuse_autocommit_block

    environment.configure = guarded_configure  # what the alembic.context proxy hands env.py
    return environment


def _held_by_block(connection) -> bool:
    """Whether env.py's `with engine.begin()` or `with connection.begin()` block (sync, or async:
    AsyncConnection.begin() enters the sync transaction's block) holds the connection's transaction,
    committing it when the block ends well and rolling it back when it raises."""
    transaction = getattr(connection, "get_transaction", lambda: None)()
    return (transaction is not None and not connection.in_nested_transaction()
            and getattr(connection, "_trans_context_manager", None) is transaction)


def _line_in(path: Path) -> int:
    """The line of `path` (env.py) on the call stack (1 when it is not there)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename != str(path):
        frame = frame.f_back
    return frame.f_lineno if frame is not None else 1


def _names_postgresql(config) -> bool:
    """Whether the database an Alembic config names is PostgreSQL: the dialect of the connection
    shared in `config.attributes["connection"]`, else of `sqlalchemy.url` (true when there is none,
    so that the hook says it misses one). A URL SQLAlchemy cannot parse is not: env.py reports it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    connection = config.attributes.get("connection")
    if connection is not None:
        return getattr(getattr(connection, "dialect", None), "name", None) == "postgresql"
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        return True
    try:
        return make_url(url).get_backend_name() == "postgresql"
    except ArgumentError:
        return False


def run_migrations_through_migrator(context, run_migrations_online) -> None:
    """Route `alembic upgrade` through migrator; every other command stays plain Alembic.

    In env.py, in place of the call to your online function::

        from migrator.alembic_source import run_migrations_through_migrator
        run_migrations_through_migrator(context, run_migrations_online)

    `alembic upgrade` then applies through migrator's executor (deploy lock, timeouts, retries,
    online rewrites, journal), which runs this env.py again with its guard on; `stamp`,
    `downgrade`, `current`, `check`, `history` and offline `--sql` call run_migrations_online()
    (or the offline path) exactly as before. The database is the one env.py's configuration names.
    A database that is not PostgreSQL (the connection shared in `config.attributes["connection"]`,
    or else `sqlalchemy.url`) stays plain Alembic for every command, upgrade included.
    """
    environment = getattr(context, "_proxy", context)  # alembic.context is a proxy of the EnvironmentContext
    upgrading = getattr(getattr(environment, "context_opts", {}).get("fn"), "__name__", "") == "upgrade"
    if (getattr(_GUARDING, "run", None) is not None or context.is_offline_mode() or not upgrading
            or not _names_postgresql(context.config)):
        run_migrations_online()
        return
    from sqlalchemy.engine import make_url

    from migrator.executor import Executor, Policy

    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise ApplyError(f"{config.config_file_name}: no sqlalchemy.url for migrator to apply to")
    target = context.get_revision_argument() or "head"
    if isinstance(target, tuple):
        target = target[0] if len(target) == 1 else "heads"
    source = AlembicProject(Path(config.config_file_name or "."), target, config=config, url_from_project=True,
                            driver=make_url(url).get_driver_name())

    def show(event: dict) -> None:
        if event["event"] in ("retry", "done"):
            detail = f" retry {event['attempt']} after {event['error']}" if event["event"] == "retry" else " applied"
            print(f"migrator: {event['migration']}{detail}", file=sys.stderr, flush=True)

    try:
        Executor(libpq_dsn(make_url(url)), Policy(), show).apply(source)
    finally:  # the run's own EnvironmentContext took alembic.context over: hand it back to `alembic upgrade`'s
        environment._install_proxy()
