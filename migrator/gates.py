"""Backfills that gate migrations: `-- migrator:requires-backfill NAME` (in a .sql migration, or
`# migrator:requires-backfill NAME` in an Alembic revision) holds the migration, and every one
after it, until the backfill NAME is done in the target database and no row still needs it.

The step after a backfill (SET NOT NULL, dropping the old column, switching reads) applied while
the backfill runs is how expand/contract changes lose data; `apply` refuses it with the
backfill's state, rows left and ETA, and `plan` shows the gate.
"""

from __future__ import annotations

import io
import re
import tokenize as python_tokenize
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from migrator.errors import UserError

VERB = "requires-backfill"
_PYTHON_DIRECTIVE = re.compile(r"^#\s*migrator:\s*requires-backfill\b(.*)$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class KnownBackfill:
    """A backfill of the target database that is not done, and the columns it writes and reads."""

    name: str
    status: str
    schema: str
    table: str
    writes: frozenset[str]
    reads: frozenset[str]
    targets: str = ""  # with --fleet: the targets it is unfinished on, in words

    @property
    def shown(self) -> str:
        """The name, with the targets it runs on when known."""
        return f"{self.name} on {self.targets}" if self.targets else self.name


def unfinished_backfills(connection: psycopg.Connection) -> tuple[KnownBackfill, ...]:
    """The backfills recorded in the database that are not done (cancelled ones left out)."""
    from backfill import state

    if not state.exists_schema(connection):
        return ()
    known = []
    for name, status, table, definition, key_columns in connection.execute(
            "SELECT name, status, table_name, definition, key_columns FROM migrator.backfills "
            "WHERE status NOT IN ('done', 'cancelled') ORDER BY name"):
        schema, _, table_name = table.partition(".")
        sets = definition.get("sets") or {}
        read = {column for expression in [*sets.values(), definition.get("where") or "TRUE"] for column in _columns_of(expression)}
        known.append(KnownBackfill(name, status, schema, table_name, frozenset(sets),
                                   frozenset(read | {column for column, _ in key_columns})))
    return tuple(known)


def _columns_of(expression: str) -> set[str]:
    from sqlglot import exp

    from migrator.sqltext import parse_one

    return {column.name for column in parse_one(f"SELECT {expression}").find_all(exp.Column)}


class GateError(UserError):
    """A migration waits for a backfill; the message says which, how far it is, and what to do."""


@dataclass
class Gate:
    path: Path
    line: int
    backfill: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def gates_of(path: Path) -> list[Gate]:
    """The requires-backfill directives of a migration file (.sql or an Alembic revision .py)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if "requires-backfill" not in text:
        return []
    found = []
    for line, rest in _python_directives(text) if path.suffix == ".py" else _sql_directives(text):
        name = rest.strip()
        if not _NAME.match(name):
            raise GateError(f"{path}:{line}: migrator:{VERB} needs one backfill name (letters, digits, '-', '_', '.'), "
                            f"not {name!r}")
        found.append(Gate(path, line, name))
    return found


def _sql_directives(text: str):
    from migrator.lint import directive_comments
    from migrator.sqltext import Source

    source = Source(text)
    for line, verb, rest in directive_comments(source, source.tokenize()):
        if verb == VERB:
            yield line, rest


def _python_directives(text: str):
    try:
        for token in python_tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == python_tokenize.COMMENT:
                match = _PYTHON_DIRECTIVE.match(token.string)
                if match:
                    yield token.start[0], match.group(1)
    except (python_tokenize.TokenError, SyntaxError):
        return


def describe(connection: psycopg.Connection, name: str) -> tuple[bool, str]:
    """(done and nothing left to fill, the backfill's state in words) in the target database."""
    from backfill import state

    record = state.load(connection, name) if state.exists_schema(connection) else None
    if record is None:
        return False, f"backfill {name} has never run in this database (start it: migrator backfill run {name} ...)"
    totals = state.progress(connection, name)
    done, estimate = totals["rows_processed"], max(record["estimated_rows"], totals["rows_processed"])
    if record["status"] == "done":
        left = unfilled_rows(connection, record)
        if left:
            return False, (f"backfill {name} is done, but {left:,} row{'s' if left != 1 else ''} of {record['table']} "
                           f"still match{'es' if left == 1 else ''} it (written after its key range was fixed?): "
                           f"run a backfill over them, then apply again")
        return True, f"backfill {name} is done ({done:,} rows)"
    words = f"backfill {name} is {record['status']}"
    if record["status"] == "failed" and record.get("error"):
        words += f" ({record['error']})"
    words += f": {done:,} of ~{estimate:,} rows, ~{estimate - done:,} left"
    if record["status"] == "running" and done:
        elapsed = (datetime.now(timezone.utc) - record["created_at"]).total_seconds()
        words += f", ETA {_eta((estimate - done) * elapsed / done)}"
    return False, words


def unfilled_rows(connection: psycopg.Connection, record: dict) -> int:
    """Rows of the backfill's table that its WHERE still matches and whose values differ from its
    SET expressions: what the backfill would still change (rows written after its range was fixed)."""
    definition = record["definition"]
    sets, where = definition.get("sets") or {}, definition.get("where")
    if not sets and not where:
        return 0
    conditions = []
    if where:
        conditions.append(sql.SQL("({})").format(sql.SQL(where.replace("%", "%%"))))
    if sets:
        conditions.append(sql.SQL("ROW({}) IS DISTINCT FROM ROW({})").format(
            sql.SQL(", ").join(sql.Identifier(column) for column in sets),
            sql.SQL(", ").join(sql.SQL("({})").format(sql.SQL(expression.replace("%", "%%"))) for expression in sets.values())))
    schema, _, table = record["table"].partition(".")
    query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.Identifier(schema, table), sql.SQL(" AND ").join(conditions))
    return connection.execute(query).fetchone()[0]


def _eta(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))}s"
    if seconds < 5400:
        return f"{round(seconds / 60)}min"
    return f"{seconds / 3600:.1f}h"


def check(connection: psycopg.Connection, migration) -> None:
    """Raise GateError when a backfill the migration requires is not finished."""
    for gate in gates_of(migration.path):
        finished, words = describe(connection, gate.backfill)
        if not finished:
            raise GateError(f"{gate.where}: migration {migration.version} requires backfill {gate.backfill}: {words}; "
                            "it and the migrations after it wait")


class GatedSource:
    """A migration source that stops before the first migration a backfill still holds; `refusal`
    then says why. Everything else is the wrapped source's."""

    def __init__(self, source):
        self.source = source
        self.refusal: GateError | None = None

    def __getattr__(self, name):
        return getattr(self.source, name)

    def pending(self, connection: psycopg.Connection, policy=None) -> list:
        pending = self.source.pending(connection, policy)
        for index, migration in enumerate(pending):
            try:
                check(connection, migration)
            except GateError as error:
                self.refusal = error
                return pending[:index]
        return pending

    def apply(self, executor, connection: psycopg.Connection) -> list[str]:
        """Apply what the wrapped source has pending, up to the first migration a backfill holds."""
        pending = self.source.pending_files(connection, executor)
        for index, (version, path) in enumerate(pending):
            try:
                check(connection, _Pending(version, path))
            except GateError as error:
                self.refusal = error
                if index == 0:
                    return []
                self.source.stop_after(pending[index - 1][0])
                break
        return self.source.apply(executor, connection)


@dataclass(frozen=True)
class _Pending:
    version: str
    path: Path
