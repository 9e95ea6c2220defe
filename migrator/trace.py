"""`migrator trace`: apply migrations to a scratch database whose tables hold rows, and show per statement
what PostgreSQL did (locks taken, rewrite, scan, time) beside what `migrator lint` says about it.

Each file runs as its runner runs it (one transaction, or statement by statement) and is committed,
so the next file sees its tables; before each file every empty table gets a few rows. A statement
that may not run in a transaction block runs alone in autocommit: its locks cannot be read after
it ends, only its time. Facts are compared by migrator.oracle, the test suite's judge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from migrator.analyzer import Lock
from migrator.findings import Finding
from migrator.lint import Linter, read_sql_file
from migrator.oracle import Observed, Observer, populate
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

    def as_dict(self) -> dict:
        observed = self.observed
        return {
            "path": self.path, "line": self.line, "sql": self.sql,
            "locks_taken": {relation: lock.label for relation, lock in observed.new_locks.items()},
            "locks_held": {relation: lock.label for relation, lock in observed.locks.items()},
            "rewritten": observed.rewritten, "scanned": observed.scanned,
            "milliseconds": round(observed.milliseconds, 3), "refused": observed.refused, "error": observed.error,
            "note": self.note, "lint": [finding.as_dict() for finding in self.findings],
            "agrees": not self.disagreements, "disagreements": self.disagreements,
        }


def trace_file(connection, linter: Linter, path: Path, display: str) -> list[StatementTrace]:
    """Run one migration file on the connection (autocommit) and trace each of its statements."""
    text = read_sql_file(path, linter.config.max_file_size)
    unfilled = populate(connection)
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
        if statement.kind in ("begin", "commit", "rollback") and not result.wrapped:
            trace.observed = _run_alone(connection, statement.sql)
            trace.observed.control = True
            in_block = statement.kind == "begin"
        elif statement.no_transaction and not in_block:
            trace.observed = _run_alone(connection, statement.sql)
        else:
            if not in_block:
                connection.execute("BEGIN")
            trace.observed, expected = observer.run(statement.sql, statement)
            trace.disagreements = observer.disagreements(statement, trace.observed, expected)
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


def _run_alone(connection, sql: str) -> Observed:
    """Run a statement in autocommit (transaction control, or one that may not run in a transaction block)."""
    import psycopg

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
    if not observed.in_transaction:  # its locks end with it: nothing to read afterwards
        return f"ran outside a transaction block · {observed.milliseconds:.1f} ms"
    by_mode: dict[Lock, list[str]] = {}
    for relation, lock in observed.new_locks.items():
        by_mode.setdefault(lock, []).append(relation)
    locks = "; ".join(f"{lock.label} on {', '.join(sorted(names))}" for lock, names in sorted(by_mode.items(), reverse=True))
    parts = [locks or "no new locks"]
    parts.append(f"rewrote {', '.join(observed.rewritten)}" if observed.rewritten else "no rewrite")
    parts.append(f"scanned {', '.join(observed.scanned)}" if observed.scanned else "no scan")
    parts.append(f"{observed.milliseconds:.1f} ms")
    return " · ".join(parts)
