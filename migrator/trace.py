"""`migrator trace`: apply migrations to a scratch database whose tables hold rows, and show per statement
what PostgreSQL did (locks taken, rewrite, scan, time) beside what `migrator lint` says about it.

SQL files: each runs as its runner runs it (one transaction, or statement by statement) and is
committed, so the next file sees its tables; before each file every empty table gets a few rows.
Alembic projects: `alembic upgrade head` as Alembic's runtime runs it, the project's env.py
unchanged; each statement a revision sends is watched on its way (SQLAlchemy's cursor events)
and attributed to the revision line that sent it; before each revision's first statement every
empty table but the version table gets a few rows. A statement that may not run in a transaction
block ends with its locks: they are read from another session while it runs (a sample), its rewrite
from the catalog after it, its scans are not observed; one a revision runs in autocommit that may
run in a transaction block is observed in one of its own, as PostgreSQL runs it anyway. Facts are
compared by migrator.oracle, the test suite's judge.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from migrator.analyzer import Lock
from migrator.dbapi import Session, Status
from migrator.errors import UserError, first_line
from migrator.findings import Finding
from migrator.lint import Linter, read_sql_file
from migrator.oracle import SAMPLE_INTERVAL, TRANSACTION_CONTROL, Observed, Observer, OutsideWatch, populate
from migrator.sqltext import Source, SqlSyntaxError


@dataclass
class StatementTrace:
    path: str
    line: int
    sql: str
    observed: Observed
    findings: list[Finding] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    note: str | None = None
    revision: str | None = None  # the Alembic revision that sent it

    def as_dict(self) -> dict:
        observed = self.observed
        return {
            "path": self.path, "line": self.line, "revision": self.revision, "sql": self.sql,
            "locks_taken": {relation: lock.label for relation, lock in observed.new_locks.items()},
            "locks_held": {relation: lock.label for relation, lock in observed.locks.items()},
            "rewritten": observed.rewritten, "scanned": observed.scanned,
            "milliseconds": round(observed.milliseconds, 3), "refused": observed.refused, "error": observed.error,
            # run outside a transaction block: its locks were sampled from another session, its scans not observed
            "locks_sampled": observed.sampled, "scans_observed": observed.ran and not observed.sampled and not observed.control,
            "note": self.note, "lint": [finding.as_dict() for finding in self.findings],
            "agrees": not self.disagreements, "disagreements": self.disagreements,
        }


def trace_file(connection, watcher, linter: Linter, path: Path, display: str, rows: bool = True) -> list[StatementTrace]:
    """Run one migration file on the connection (autocommit) and trace each of its statements (rows: first
    put a few in every empty table); watcher: another connection to the database, that reads the locks of
    statements run outside a transaction block while they run."""
    text = read_sql_file(path, linter.config.max_file_size)
    unfilled = populate(connection) if rows else []
    source = Source(text)
    try:
        tokens = source.tokenize()
    except SqlSyntaxError as error:
        return [StatementTrace(display, error.line or 1, "", Observed(ran=False), note=f"not run: {error}")]
    statements = linter.analyzer.analyze_source(source, tokens)
    result = linter.lint_statements(source, tokens, statements, display, file=path)
    observer = Observer(connection)
    traces = []
    in_block = bool(result.wrapped)  # a transaction is open: the runner's, or the file's own BEGIN
    if result.wrapped:
        connection.execute("BEGIN")
    for statement in statements[: result.statements]:  # the up section: lint leaves a down section out
        findings = [f for f in result.findings if statement.line <= f.line <= statement.end_line]
        trace = StatementTrace(display, statement.line, statement.sql, Observed(), findings)
        if statement.kind == "psql":
            trace.observed, trace.note = Observed(ran=False), "psql meta-command: psql runs it itself, nothing is sent"
        elif any(action.kind == "copy_from_client" for action in statement.actions):
            trace.observed, trace.note = Observed(ran=False), "COPY whose rows psql sends (FROM STDIN, \\copy): not run"
        elif statement.kind in ("begin", "commit", "rollback") and not result.wrapped:
            trace.observed = _run_alone(connection, statement.sql)
            trace.observed.control = True
            in_block = statement.kind == "begin" or statement.chains  # AND CHAIN: the next transaction is open
        elif statement.no_transaction and not in_block:
            watch = OutsideWatch(observer.session, watcher, [statement])
            try:
                connection.execute(statement.sql)
            except psycopg.Error as error:
                trace.observed = watch.finish(error)
            else:
                trace.observed = watch.finish()
            _judge(trace, observer, watch.expected)
        else:
            if not in_block:
                connection.execute("BEGIN")
            trace.observed, expected = observer.run(statement.sql, statement)
            _judge(trace, observer, expected)
            if not in_block:
                connection.execute("COMMIT")
            if not trace.observed.ran:
                trace.note = "transaction control inside the runner's own transaction: not run"
        if unfilled and not traces:
            trace.note = f"tables left empty (rows could not be made up): {', '.join(unfilled)}"
        traces.append(trace)
    if result.wrapped:
        connection.execute("COMMIT")
    return traces


class AlembicTrace:
    """`alembic upgrade` of a project on the scratch database, each statement a revision sends
    watched as it goes: its locks, rewrite, scan and time beside lint's verdict on that revision line."""

    def __init__(self, project, linter: Linter, dsn: str, rows: bool = True):
        from migrator.alembic_source import RevisionOrigins

        self.project, self.linter, self.dsn, self.rows = project, linter, dsn, rows
        self.origins = RevisionOrigins(project)
        self.traces: list[StatementTrace] = []
        self.stopped: str | None = None  # why the upgrade stopped before the target, at which line
        self._lint: dict[Path, list[Finding]] = {}
        self._filled_for: Path | None = None  # the revision the tables were last filled for
        self._so_far = None  # the revision's MigrationContext: facts its earlier statements decide (as lint has them)
        self._checked: set[int] = set()  # DBAPI connections seen to reach the scratch database
        self._flight = None  # (trace, watch or None, started, wrapped in a BEGIN of trace's) of the statement being sent
        self._environment = None
        self._marker = None
        self._key = random.randrange(1, 2**31)

    def run(self) -> list[StatementTrace]:
        """Upgrade to the project's target; the statements traced (self.stopped says where a failure stopped it)."""
        from sqlalchemy import exc

        from migrator.alembic_source import project_environment
        from migrator.dsn import connect

        project = self.project
        hooks = [("before_cursor_execute", self._before, False), ("after_cursor_execute", self._after, False),
                 ("handle_error", self._failed, False)]

        def upgrade(rev, context):
            return project.script._upgrade_revs(project.target, rev)

        with connect(self.dsn, UserError) as self._marker:  # env.py's connections must reach the database it locks
            self._marker.execute("SELECT pg_advisory_lock(%s)", (self._key,))
            try:
                with project_environment(project, self.dsn, self, hooks, "migrator trace", fn=upgrade) as environment:
                    self._environment = environment
                    with environment:
                        project.script.run_env()
            except UserError:
                raise
            except Exception as error:  # PostgreSQL's error, or env.py's or a revision's own code
                path, line = self.origins.failing_line(error.__traceback__)
                if isinstance(error, exc.DBAPIError) and error.orig is not None:
                    self.stopped = f"{path}:{line}: {first_line(error.orig)}"
                else:
                    self.stopped = f"{path}:{line}: {type(error).__name__}: {first_line(error)}"
                if self.rows and path != self.origins.env_path:  # a data migration may choke on made-up rows
                    self.stopped += " (the tables held rows trace made up: --no-rows traces on empty tables)"
        for trace in self.traces:
            self._findings(Path(trace.path))
            if trace.observed.error and not (self.stopped and trace is self.traces[-1]):
                trace.note = "the revision went on after this error (it caught it)"
        self._place_findings()
        return self.traces

    def _findings(self, path: Path) -> list[Finding]:
        if path not in self._lint:
            self._lint[path] = self.linter.lint_revision(path, str(path)).findings
        return self._lint[path]

    def _place_findings(self) -> None:
        """Each finding of lint goes with the statement sent from its line whose SQL it names (a helper
        called from several places sends several from one line), else the first sent from that line;
        a finding at a line that sent nothing traced (a revision-wide one, one about a comment) goes
        with the revision's last statement before it, else its first."""
        for path, findings in self._lint.items():
            mine = [t for t in self.traces if t.path == str(path)]
            for finding in findings:
                at_line = [t for t in mine if t.line == finding.line]
                same_sql = [t for t in at_line if _words(t.sql) == _words(finding.statement or "")]
                before = [t for t in mine if t.line < finding.line]
                (same_sql or at_line or before[-1:] or mine)[0].findings.append(finding)

    # -- SQLAlchemy's cursor events, for every statement env.py's connections send ----------------
    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        from migrator.alembic_source import first_row, inline

        self._flight = None
        session = Session.under(conn)
        self._check_database(session)
        script, path, stack = self.origins.of(sys._getframe(1))
        if script is None or session.status == Status.INERROR:  # Alembic's version table and env.py's own: not traced
            return
        unfilled = self._fill(session, path)
        text = inline(session, statement, first_row(parameters) if executemany else parameters).strip()
        trace = StatementTrace(str(path), stack[0], text, Observed(), revision=script.revision)
        if unfilled:
            trace.note = f"tables left empty (rows could not be made up): {', '.join(unfilled)}"
        self.traces.append(trace)
        try:
            statements = self.linter.analyzer.analyze(text)
        except SqlSyntaxError as error:
            statements, trace.disagreements = [], [f"the analyzer cannot read it: {error}"]
        for part in (part for top in statements for part in top.walk()):
            self._so_far.enter(part)
            if not part.unanalyzable:
                self._so_far.apply(part)
        if any(s.kind in TRANSACTION_CONTROL for s in statements):
            trace.observed = Observed(in_transaction=False, control=True)
            self._flight = (trace, None, time.perf_counter(), False)
        elif not session.autocommit or session.status == Status.INTRANS:
            self._flight = (trace, Observer(session).start(statements), 0.0, False)
        elif statements and not any(p.no_transaction or p.unanalyzable for top in statements for p in top.walk()):
            session.run("BEGIN")  # autocommit runs it in a transaction of its own: the same one, made explicit
            trace.note = "run in autocommit (autocommit_block()): observed in a transaction of its own, as PostgreSQL runs it"
            self._flight = (trace, Observer(session).start(statements), 0.0, True)
        else:
            self._flight = (trace, OutsideWatch(session, self._marker, statements), 0.0, False)

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self._flight is None:
            return
        trace, watch, started, wrapped = self._flight
        self._flight = None
        if watch is None:
            trace.observed.milliseconds = (time.perf_counter() - started) * 1000
            return
        if isinstance(watch, OutsideWatch):
            trace.observed = watch.finish()
            _judge(trace, watch.observer, watch.expected)
            return
        observer = Observer(Session.under(conn))
        observer.finish(watch)
        if wrapped:
            observer.session.run("COMMIT")
        trace.observed = watch.observed
        _judge(trace, observer, watch.expected)

    def _failed(self, context) -> None:
        if self._flight is None or context.connection is None:
            return
        trace, watch, started, wrapped = self._flight
        self._flight = None
        error = context.original_exception
        if watch is None:
            trace.observed.milliseconds = (time.perf_counter() - started) * 1000
            trace.observed.error = first_line(error)
            return
        if isinstance(watch, OutsideWatch):
            trace.observed = watch.finish(error)
            return
        observer = Observer(Session.under(context.connection))
        observer.failed(watch, error)
        if wrapped:
            observer.session.run("ROLLBACK")
        trace.observed = watch.observed
        if watch.observed.refused or watch.expected.refused:  # other errors: the revision may expect them (see run)
            _judge(trace, observer, watch.expected)

    def _check_database(self, session: Session) -> None:
        """Nothing runs on a database other than the scratch one (an env.py that builds its own URL,
        from DATABASE_URL say, would otherwise migrate that one)."""
        if id(session.connection) in self._checked:
            return
        [(same,)] = session.rows(
            "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND pid = %s AND objid = %s "
            "AND objsubid = 1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            (self._marker.info.backend_pid, self._key))
        if not same:
            raise UserError(f"{self.origins.env_path}: env.py connected to another database than the one being traced "
                            "(it builds its own URL?): let it use sqlalchemy.url or config.attributes['connection']")
        self._checked.add(id(session.connection))

    def _fill(self, session: Session, path: Path) -> list[str]:
        """Before a revision's first statement: a few rows in every empty table but the version table
        (and the revision's facts start over)."""
        from migrator.context import MigrationContext
        from migrator.pgnames import quote_identifier

        if path == self._filled_for:
            return []
        self._filled_for = path
        self._so_far = MigrationContext(self.linter.config.pg_version)
        if not self.rows:
            return []
        migration = self._environment.get_context()
        version_table = quote_identifier(migration.version_table)
        if migration.version_table_schema:
            version_table = f"{quote_identifier(migration.version_table_schema)}.{version_table}"
        skip = session.rows("SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c "
                            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)", (version_table,))
        return populate(session, skip=frozenset(name for (name,) in skip))


def _judge(trace: StatementTrace, observer: Observer, expected) -> None:
    """The facts the analyzer states differently from what the server did, on the trace."""
    trace.disagreements += observer.disagreements(trace.observed, expected)
    if expected is not None and not expected.complete:
        trace.note = "the analyzer could not read part of it (see lint): only the facts it states are compared"


def _words(sql: str) -> str:
    """SQL text compared with whitespace and a final semicolon left out."""
    return " ".join(sql.rstrip().rstrip(";").split())


def _run_alone(connection, sql: str) -> Observed:
    """Run transaction control of the file's own, in autocommit."""
    observed = Observed(in_transaction=False)
    started = time.perf_counter()
    try:
        connection.execute(sql)
    except psycopg.Error as error:
        observed.error = str(error).strip().splitlines()[0]
    observed.milliseconds = (time.perf_counter() - started) * 1000
    return observed


def describe(observed: Observed) -> str:
    """One line: the locks a statement took (strongest first), rewrite, scan, time."""
    if not observed.ran:
        return "not run"
    if observed.refused:
        return f"refused in a transaction block ({observed.refused})"
    if observed.error:
        return f"error: {observed.error}"
    if observed.control:
        return f"transaction control · {observed.milliseconds:.1f} ms"
    by_mode: dict[Lock, list[str]] = {}
    for relation, lock in observed.new_locks.items():
        by_mode.setdefault(lock, []).append(relation)
    locks = "; ".join(f"{lock.label} on {', '.join(sorted(names))}" for lock, names in sorted(by_mode.items(), reverse=True))
    rewrite = f"rewrote {', '.join(observed.rewritten)}" if observed.rewritten else "no rewrite"
    if observed.sampled:  # its locks end with it: seen only while it ran
        return (f"outside a transaction block · {locks or 'no lock seen'} (read from another session every "
                f"{SAMPLE_INTERVAL * 1000:g} ms while it ran: a lock held for less can be missed) · {rewrite} · "
                f"scans not observed · {observed.milliseconds:.1f} ms")
    scan = f"scanned {', '.join(observed.scanned)}" if observed.scanned else "no scan"
    return " · ".join([locks or "no new locks", rewrite, scan, f"{observed.milliseconds:.1f} ms"])
