"""The statement guard: each statement a migration sends, judged against the live database just
before it runs.

The shared analyzer says what the statement locks, rewrites or scans; the linter (with the
project's configuration and the migration's ignore directives) says whether that is unsafe; the
catalog says what it would cost on this database. The guard then runs it as written, runs its
online form (the part that may run in the migration's transaction now, the rest as follow-ups
after the commit), or refuses it with the table's size and an estimate. A rewrite or scan is
refused only when the table is too big for the time budget: an empty or small table, or one
created earlier in the same run, simply runs under the statement timeout. Type changes that
PostgreSQL does not rewrite (same type, binary-coercible per pg_cast, widening a typmod) are never
refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from migrator.analyzer import Analyzer, Statement
from migrator.dbapi import Session
from migrator.executor import (HANDLED_BY_EXECUTOR, NO_OP_STEP, ApplyError, Policy, Step, analyze_text, refusal_linter,
                               refuse_unanalyzable)
from migrator.rewrites import CATALOG_NAME, REWRITTEN_RULES, Unit, rewrite

# Rules whose hazard is time proportional to the table's size (a rewrite, a scan, an index
# build, a lock held for either): on a table within the small-table budget they run as written.
SIZE_BOUND_RULES = frozenset({
    "add-column-identity", "add-column-required", "add-column-serial", "add-column-stored-generated",
    "add-column-volatile-default", "add-exclusion-constraint", "add-foreign-key", "add-primary-key",
    "add-unique-constraint", "attach-partition-scan", "changing-column-type", "constraint-missing-not-valid",
    "require-concurrent-index", "require-concurrent-drop-index", "require-concurrent-reindex",
    "require-concurrent-detach", "set-not-null", "table-rewrite-command", "validate-in-same-transaction",
    "refresh-matview-concurrently", "lock-table",
})
# Rules about breaking running application code or losing data: moot for a table this same run
# created (nobody's code uses it yet) and in a downgrade (undoing is what was asked for).
BREAKING_RULES = frozenset({"drop-column", "drop-table", "rename-column", "rename-table", "ban-truncate"})
ASSUMED_BYTES_PER_SECOND = 50 * 1024 * 1024  # a rewrite or index build, for the estimate in refusals


@dataclass
class Verdict:
    """What the guard decided for one statement."""

    step: Step  # the facts timeouts come from: the statement's, or those of what is sent in its place
    sql: str | None = None  # what to send in the statement's place (its online form's first part, or nothing)
    followups: list[Unit] = field(default_factory=list)  # run after the migration's transaction commits
    constraint_table: str | None = None  # read the name PostgreSQL gave the new constraint here, after
    constraints_before: frozenset[str] = frozenset()
    creates: str | None = None  # a table this statement creates: remembered as new for this run
    note: str | None = None  # why it runs as it does, for the log


@dataclass
class Origin:
    """Where a statement comes from: the file and line to name, and the lines of the call stack there."""

    path: Path
    line: int
    stack: tuple[int, ...] = ()
    ignores: Callable[[str, tuple[int, ...]], bool] = lambda rule, stack: False


class Catalog:
    """What the database says about the tables statements touch: their size, whether this run
    created them, whether a type change rewrites. Without a connection (plan offline) every
    table is taken as big and existing, and every type change as a rewrite."""

    def __init__(self, connection, policy: Policy):
        self.session = None if connection is None else connection if isinstance(connection, Session) else Session(connection)
        self.policy = policy
        self.created: set[int] = set()  # oids of tables this run created

    def cost(self, statements: list[Statement]) -> "Cost":
        tables = _tables(statements)
        if self.session is None:
            return Cost(None, False, False)
        if not tables:
            return Cost(0, True, False)
        sizes = _sizes(self.session, tables)
        total = sum(size for _, size in sizes.values())
        new = all(oid is None or oid in self.created for oid, _ in sizes.values())
        return Cost(total, total <= self.policy.small_table_bytes, new)

    def type_change_rewrites(self, statement: Statement) -> bool:
        return self.session is None or _type_change_rewrites(self.session, statement)

    def type_change_finding(self, statement: Statement, alembic: bool = False) -> tuple[str, str] | None:
        """(message, instead) the database gives of an ALTER COLUMN ... TYPE without USING: each
        column's current type, and that the change rewrites (None: no database, or a column it does not show);
        instead as a revision writes it when alembic."""
        from lint_rules.changing_column_type import known_type_finding

        changes = [a for a in statement.actions if a.kind == "alter_column_type"]
        if self.session is None or not changes or any(a.using_casts is None for a in changes):
            return None
        said = []
        for action in changes:
            rows = self.session.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                                     "to_regclass(%s) AND attname = %s AND NOT attisdropped", (str(statement.relation), action.column))
            if not rows:
                return None
            said.append(known_type_finding(statement.relation, action, rows[0][0], alembic))
        return "; ".join(message for message, _ in said), said[0][1]

    def name_taken(self, statement: Statement) -> Callable[[str], bool]:
        if self.session is None:
            return lambda name: False
        return lambda name: _name_taken(self.session, statement, name)

    def remember_created(self, table: str) -> None:
        [(oid,)] = self.session.rows("SELECT to_regclass(%s)::oid", (table,))
        if oid is not None:
            self.created.add(oid)


@dataclass
class Cost:
    """The size of a statement's tables (None: unknown), and whether that is within budget or new to this run."""

    size: int | None
    small: bool
    new: bool

    def describe(self, policy: Policy) -> str:
        if self.size is None:
            return ""
        return (f" ({_describe_size(self.size)} on this database, about {self.size / ASSUMED_BYTES_PER_SECOND:.0f} s; "
                f"the budget is {_describe_size(policy.small_table_bytes)})")


def blocks(finding, statement: Statement, cost: Cost, catalog: Catalog, rewritten: bool, downgrade: bool = False) -> bool:
    """Is this lint finding a reason to refuse the statement, on this database? (one truth for
    SQL files and Alembic revisions alike)"""
    rule = finding.rule
    if rule == "changing-column-type":  # the linter may not know the old type (a warning then): the catalog does
        return not (cost.small or cost.new) and catalog.type_change_rewrites(statement)
    if finding.severity != "error" or rule in HANDLED_BY_EXECUTOR:
        return False
    if rewritten and rule in REWRITTEN_RULES:
        return False
    if rule in SIZE_BOUND_RULES and (cost.small or cost.new):
        return False
    return not (rule in BREAKING_RULES and (cost.new or downgrade))


def refusal_message(where: str, finding, cost: Cost, catalog: Catalog, statement: Statement | None, more: str = "",
                    alembic: bool = False) -> str:
    """Why apply refuses `statement` (None: a finding not on one), in what the database says where
    the linter could only hedge (a type change from a column type the migration does not show); alembic: the
    statement is a revision's (the finding's help already is in its terms)."""
    from lint_rules._alembic import one_line

    message, instead = finding.message, finding.help
    if finding.rule == "changing-column-type" and statement is not None:
        message, instead = catalog.type_change_finding(statement, alembic) or (message, instead)
    safe = f"; instead: {one_line(instead)}" if instead else ""
    size = cost.describe(catalog.policy) if finding.rule in SIZE_BOUND_RULES else ""
    deliberate = (f"; to accept it deliberately: apply --ignore {finding.rule} (this run only), or ignore it in "
                  "migrator.toml") if finding.rule in BREAKING_RULES else ""
    return f"{where}: refused by {finding.rule}: {message}{size}{safe}{deliberate}{more}"


def online_form(units: list[Unit] | None, cost: Cost) -> list[Unit] | None:
    """A statement's online form (`units`, from rewrite()) when its table is too big to run it as written, else None."""
    return None if cost.small or cost.new else units


def split_online_form(analyzer: Analyzer, statement: Statement, units: list[Unit]) -> tuple[Statement, list[Unit], str | None]:
    """An online form split at the migration's commit: the statement sent in the transaction (its
    ADD ... NOT VALID, or NO_OP_STEP when nothing of it may run there), the follow-ups that run
    after the commit (CONCURRENTLY, VALIDATE, the SET NOT NULL steps), and the table whose new
    constraint's name the follow-ups read from the catalog (None when they name it themselves)."""
    first = [s for sql in units[0].sql for s in analyzer.analyze(sql)] if units else []
    if units and len(units[0].sql) == 1 and not _must_follow(first):
        [sent], followups = first, units[1:]
    else:
        sent, followups = replace(statement, sql=NO_OP_STEP, locks=[], actions=[]), units
    sent.line = sent.end_line = statement.line
    named_later = any(CATALOG_NAME in sql for unit in followups for sql in unit.sql)
    return sent, followups, str(statement.relation) if named_later else None


class Guard:
    """Judges the statements of one run of apply one by one, as they are sent (Alembic revisions)."""

    def __init__(self, analyzer: Analyzer, policy: Policy, lint_config=None, rewrite_enabled: bool = True):
        from migrator.config import Config
        from migrator.context import MigrationContext

        self.analyzer, self.policy, self.rewrite_enabled = analyzer, policy, rewrite_enabled
        self.lint_config = lint_config or Config(pg_version=analyzer.pg_version)
        self.catalog = Catalog(None, policy)
        self.downgrade = False
        # the statements are an Alembic revision's: findings give their help as op.* calls
        self._new_context = lambda: MigrationContext(analyzer.pg_version, alembic=True)
        self.so_far = self._new_context()
        self.routines = {}  # the functions and procedures the migration created so far: a call runs their body

    def start_migration(self) -> None:
        """A new migration (transaction) starts: the linter's view of it starts over."""
        self.so_far = self._new_context()
        self.routines = {}

    def judge(self, session: Session, text: str, origin: Origin, in_transaction: bool) -> Verdict:
        """The verdict for `text` (parameters inlined), about to run in `session`; raises ApplyError to refuse."""
        self.catalog.session = session
        source, tokens, statements = analyze_text(origin.path, text, self.analyzer, lambda _: origin.line, self.routines)
        refuse_unanalyzable(origin.path, statements, lambda _: origin.line)
        statement = max(statements, key=lambda s: s.max_lock or 0) if statements else self.analyzer.analyze("SELECT")[0]
        statement.line = origin.line
        findings = refusal_linter(self.lint_config).lint_statements(source, tokens, statements, str(origin.path),
                                                                    self.so_far).findings
        findings = [f for f in findings if (f.severity == "error" or f.rule == "changing-column-type")
                    and f.rule not in HANDLED_BY_EXECUTOR and not origin.ignores(f.rule, origin.stack)]
        deferred_whole = in_transaction and any(s.no_transaction for s in statements)
        units = rewrite(statement, set(), self.analyzer.pg_version, self.catalog.name_taken(statement)) \
            if self.rewrite_enabled and in_transaction and len(statements) == 1 else None
        cost = self.catalog.cost(statements) if findings or units else Cost(0, True, False)
        units = online_form(units, cost)
        for finding in findings:
            if not deferred_whole and blocks(finding, statement, cost, self.catalog, bool(units), self.downgrade):
                raise ApplyError(refusal_message(f"{origin.path}:{origin.line}", finding, cost, self.catalog, statement,
                                                 alembic=True))
        verdict = Verdict(Step(0, statement))
        if statement.kind == "create_table" and statement.relation is not None:
            verdict.creates = str(statement.relation)
        if deferred_whole:  # CONCURRENTLY and friends, sent inside the migration's transaction
            verdict.followups = [Unit([text])]
            verdict.step = Step(0, replace(statement, sql=NO_OP_STEP, locks=[], actions=[]))
            verdict.sql = NO_OP_STEP
            verdict.note = "runs after the migration's transaction commits (it may not run inside one)"
        elif units:
            sent, verdict.followups, verdict.constraint_table = split_online_form(self.analyzer, statement, units)
            verdict.step, verdict.sql = Step(0, sent), sent.sql
            if verdict.constraint_table is not None:
                verdict.constraints_before = constraint_names(session, verdict.constraint_table)
            verdict.note = f"online form: {_describe_size(cost.size or 0)} is above the small-table budget"
        elif cost.size and (statement.rewrites or statement.scans):
            verdict.note = f"runs as written ({_describe_size(cost.size)})"
        return verdict

    def after(self, session: Session, verdict: Verdict) -> list[Unit]:
        """Once the statement ran: remember what it created, and name the constraint its follow-ups need."""
        if verdict.creates:
            self.catalog.remember_created(verdict.creates)
        if verdict.constraint_table is None:
            return verdict.followups
        return resolve_constraint_name(session, verdict.constraint_table, verdict.constraints_before, verdict.followups)


def resolve_constraint_name(session: Session, table: str, before: frozenset[str], followups: list[Unit]) -> list[Unit]:
    """The follow-ups with CATALOG_NAME replaced by the constraint PostgreSQL just added to `table`."""
    from migrator.pgnames import quote_identifier

    added = constraint_names(session, table) - before
    if len(added) != 1:
        raise ApplyError(f"cannot tell which constraint PostgreSQL just added to {table} ({', '.join(sorted(added)) or 'none'})")
    [name] = added
    return [replace(unit, sql=[sql.replace(CATALOG_NAME, quote_identifier(name)) for sql in unit.sql]) for unit in followups]


def _must_follow(statements: list[Statement]) -> bool:
    """Statements that may not or should not run in the migration's transaction (CONCURRENTLY, VALIDATE, scans)."""
    return any(s.no_transaction or s.scans or s.rewrites or any(a.kind == "validate_constraint" for a in s.actions)
               for s in statements)


def _tables(statements: list[Statement]) -> list[str]:
    """The relations statements lock, tables and indexes, as named in SQL (those of a DO body or of a
    routine a statement calls included: it runs them)."""
    return sorted({str(target.relation) for top in statements for s in top.walk() for target in s.locks
                   if target.kind in ("table", "index") and target.relation is not None})


def _sizes(session: Session, tables: list[str]) -> dict[str, tuple[int | None, int]]:
    """Per relation (as named in SQL): the oid of its table (None if it does not exist yet) and that
    table's size in bytes, indexes included (an index stands for the table it indexes)."""
    rows = session.rows(
        "SELECT name, t.oid, coalesce(pg_total_relation_size(t.oid), 0) FROM unnest(%s::text[]) name "
        "LEFT JOIN pg_index i ON i.indexrelid = to_regclass(name) "
        "LEFT JOIN pg_class t ON t.oid = coalesce(i.indrelid, to_regclass(name))", (tables,))
    return {name: (oid, size) for name, oid, size in rows}


def constraint_names(session: Session, table: str) -> frozenset[str]:
    """The names of the table's constraints."""
    rows = session.rows("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s)", (table,))
    return frozenset(row[0] for row in rows)


def _name_taken(session: Session, statement: Statement, name: str) -> bool:
    """Is a relation or constraint of this name in the schema of the statement's table (ChooseRelationName's test)?"""
    rows = session.rows(
        "SELECT EXISTS (SELECT FROM pg_class WHERE relname = %(name)s AND relnamespace = n.oid) "
        "OR EXISTS (SELECT FROM pg_constraint WHERE conname = %(name)s AND connamespace = n.oid) "
        "FROM pg_namespace n WHERE n.oid = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass(%(table)s))",
        {"name": name, "table": str(statement.relation)})
    return bool(rows and rows[0][0])


def _describe_size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


_TYPE_CLAUSE = re.compile(r"\bTYPE\s+(?P<type>.+?)(?:\s+COLLATE\s+\S+)?(?:\s+USING\s+(?P<using>.+))?\s*$",
                          re.IGNORECASE | re.DOTALL)
# Types whose typmod can grow without a rewrite (PostgreSQL's length/precision support functions).
_WIDENING = {1043: "length", 1562: "length", 1700: "numeric", 1083: "precision", 1114: "precision",
             1184: "precision", 1266: "precision"}


def _type_change_rewrites(session: Session, statement: Statement) -> bool:
    """Does this ALTER COLUMN ... TYPE rewrite the table, judged by the live catalog? True when unsure."""
    changes = [a for a in statement.actions if a.kind == "alter_column_type"]
    return any(_column_change_rewrites(session, str(statement.relation), action) for action in changes) \
        or not changes


def _column_change_rewrites(session: Session, table: str, action) -> bool:
    match = _TYPE_CLAUSE.search(action.sql or "")
    if match is None:
        return True
    rows = session.rows("SELECT atttypid, atttypmod FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                        "AND attname = %s AND NOT attisdropped", (table, action.column))
    if not rows:
        return True
    [(old_type, old_mod)] = rows
    try:  # PostgreSQL parses the target type, as a column of a view that is rolled back at once
        with session.rolled_back():
            session.run(f"CREATE TEMP VIEW migrator_type_probe AS SELECT NULL::{match['type']} AS c")
            [(new_type, new_mod)] = session.rows("SELECT atttypid, atttypmod FROM pg_attribute "
                                                 "WHERE attrelid = 'migrator_type_probe'::regclass AND attnum = 1")
    except Exception:  # not a type PostgreSQL knows here (the driver's error class varies): unsure, so a rewrite
        return True
    using = match["using"]
    if using is not None:
        column = re.escape(action.column)
        plain = rf'^\s*(?:"?{column}"?)(\s*::\s*{re.escape(match["type"].strip())})?\s*$'
        cast = rf'^\s*CAST\s*\(\s*"?{column}"?\s+AS\s+{re.escape(match["type"].strip())}\s*\)\s*$'
        if not (re.match(plain, using, re.IGNORECASE) or re.match(cast, using, re.IGNORECASE)):
            return True
    if new_type == old_type:
        return not _typmod_keeps_data(new_type, old_mod, new_mod)
    binary = session.rows("SELECT castmethod = 'b' FROM pg_cast WHERE castsource = %s AND casttarget = %s",
                          (old_type, new_type))
    return not (binary and binary[0][0] and new_mod == -1)


def _typmod_keeps_data(type_oid: int, old_mod: int, new_mod: int) -> bool:
    """Same type, another typmod: no rewrite when PostgreSQL's support function calls it a no-op."""
    if new_mod == old_mod or new_mod == -1 and type_oid in _WIDENING:
        return True
    kind = _WIDENING.get(type_oid)
    if kind == "length":
        return old_mod != -1 and new_mod >= old_mod
    if kind == "numeric":  # typmod = ((precision << 16) | scale) + 4
        return old_mod != -1 and (new_mod - 4) & 0xFFFF == (old_mod - 4) & 0xFFFF and new_mod >= old_mod
    if kind == "precision":
        return (6 if old_mod == -1 else old_mod) <= new_mod
    return False
