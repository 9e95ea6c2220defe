"""What a backfill does, validated against the database before any write, and the SQL it runs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable

import psycopg
from psycopg import sql
from sqlglot import exp
from sqlglot.tokens import TokenType

from migrator.errors import UserError, first_line
from migrator.sqltext import parse_one, tokenize


class BackfillError(UserError):
    """Bad backfill input or state; the message says what and where, nothing has been written."""


@dataclass
class KeyColumn:
    name: str
    type: str  # as format_type() prints it, used to cast text key values back


@dataclass
class BackfillSpec:
    """A backfill: `SET col = expr, ...` over `table` in key order, optionally filtered.

    Either `sets` (SQL expressions) or `function` (Python: called with a connection inside the
    batch transaction and the batch's key range; returns the rows it changed).
    """

    name: str
    table: str
    sets: dict[str, str] = field(default_factory=dict)
    where: str | None = None
    key: list[str] | None = None
    function: Callable | None = None

    def definition(self) -> dict:
        """What identifies this backfill's work, stored with its state."""
        return {"table": self.table, "sets": self.sets, "where": self.where, "key": self.key,
                "function": getattr(self.function, "__qualname__", None)}

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.definition(), sort_keys=True).encode()).hexdigest()[:16]


def parse_assignment(text: str) -> tuple[str, str]:
    """`col = expr` into (col, expr), refusing anything but one column and one expression."""
    tokens = tokenize(text)
    positions = [index for index, token in enumerate(tokens) if token.token_type == TokenType.EQ]
    if not positions or positions[0] != 1 or tokens[0].token_type not in (TokenType.VAR, TokenType.IDENTIFIER):
        raise BackfillError(f"--set {text!r}: expected `column = expression`")
    column = tokens[0].text if tokens[0].token_type == TokenType.IDENTIFIER else tokens[0].text.lower()
    expression = text[tokens[1].end + 1 :].strip()
    check_expression(expression, f"--set {text!r}")
    return column, expression


def check_expression(text: str, where: str) -> None:
    """One SQL expression, not a statement (no `1; DROP TABLE x`, no subquery that writes)."""
    if not text.strip():
        raise BackfillError(f"{where}: empty expression")
    try:
        tokens = tokenize(text)
    except Exception:
        raise BackfillError(f"{where}: not a valid SQL expression (unterminated string or quote?)") from None
    if any(token.token_type == TokenType.SEMICOLON for token in tokens):
        raise BackfillError(f"{where}: must be a single SQL expression, not statements (found ';')")
    parsed = parse_one(f"SELECT {text}")
    clauses = ("from", "from_", "where", "group", "limit", "order", "having", "joins", "with", "with_")
    if not isinstance(parsed, exp.Select) or len(parsed.expressions) != 1 or any(parsed.args.get(c) for c in clauses):
        raise BackfillError(f"{where}: not a single SQL expression")
    if any(isinstance(node, (exp.Insert, exp.Update, exp.Delete, exp.Merge)) for node in parsed.walk()):
        raise BackfillError(f"{where}: expressions may not write")


def user_sql(text: str) -> sql.Composable:
    """A validated user expression as SQL; its % signs are literal, not placeholders."""
    return sql.SQL(text.replace("%", "%%"))


@dataclass
class Plan:
    """A validated backfill against one database: quoted SQL pieces and the fixed key range."""

    spec: BackfillSpec
    schema: str
    table: str
    key: list[KeyColumn]
    range_low: list[str] | None  # None: below the first key
    range_high: list[str] | None  # None: empty table
    estimated_rows: int
    histogram: list[str] | None = None  # the planner's histogram bounds of a single-column key

    @property
    def table_sql(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.table)

    def key_row(self) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(k.name) for k in self.key)

    def key_values(self, placeholder: str = "%s") -> sql.Composable:
        return sql.SQL(", ").join(sql.SQL(placeholder + "::" + k.type) for k in self.key)

    def key_text(self) -> sql.Composable:
        # aliased: an output column named like the key would make ORDER BY sort the text, not the key
        return sql.SQL(", ").join(
            sql.SQL("{}::text AS {}").format(sql.Identifier(k.name), sql.Identifier(f"migrator_key_{i}"))
            for i, k in enumerate(self.key))

    def compare(self, operator: str) -> sql.Composable:
        return sql.SQL("ROW({}) " + operator + " ROW({})").format(self.key_row(), self.key_values())

    def filter_sql(self) -> sql.Composable:
        return sql.SQL(" AND ({})").format(user_sql(self.spec.where)) if self.spec.where else sql.SQL("")

    def next_upper_sql(self, has_low: bool) -> sql.Composable:
        """The key of the n-th next row after `low`, bounded by the chunk's high key.

        A keyset position plus a bounded skip along the key index: it reads n index entries
        and no more, never paginating the table from its start. Parameters: low..., high..., n - 1.
        """
        lower = sql.SQL("{} AND ").format(self.compare(">")) if has_low else sql.SQL("")
        return sql.SQL("SELECT {key_text} FROM {table} WHERE {lower}{upper} ORDER BY {key} OFFSET %s LIMIT 1").format(
            key_text=self.key_text(), key=self.key_row(), table=self.table_sql, lower=lower, upper=self.compare("<="))

    def count_sql(self, has_low: bool) -> sql.Composable:
        """Rows left between low and high (for the last, short batch of a chunk)."""
        lower = sql.SQL("{} AND ").format(self.compare(">")) if has_low else sql.SQL("")
        return sql.SQL("SELECT count(*) FROM {table} WHERE {lower}{upper}").format(
            table=self.table_sql, lower=lower, upper=self.compare("<="))

    # Set before each batch's UPDATE: when statistics make a batch look large (a batch that covers
    # much of a small table, or statistics gone stale) the planner picks a seq scan, which reads
    # the whole table for every batch. With seq scans off it reads the batch's key range through
    # the key index (a plain or a bitmap scan: alike in an A/B of 6 interleaved runs on 1M rows).
    UPDATE_PLANNER_SETTINGS = {"enable_seqscan": "off"}

    def update_sql(self, has_low: bool) -> sql.Composable:
        columns = list(self.spec.sets)
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), user_sql(self.spec.sets[c])) for c in columns)
        targets = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        values = sql.SQL(", ").join(sql.SQL("({})").format(user_sql(self.spec.sets[c])) for c in columns)
        lower = sql.SQL("{} AND ").format(self.compare(">")) if has_low else sql.SQL("")
        return sql.SQL(
            "UPDATE {table} SET {assignments} WHERE {lower}{upper}{filter} AND ROW({targets}) IS DISTINCT FROM ROW({values})"
        ).format(table=self.table_sql, assignments=assignments, lower=lower, upper=self.compare("<="),
                 filter=self.filter_sql(), targets=targets, values=values)


def plan_backfill(connection: psycopg.Connection, spec: BackfillSpec) -> Plan:
    """Validate the backfill against the database (read-only) and fix its key range."""
    if not spec.name or not spec.name.replace("-", "_").replace(".", "_").isidentifier():
        raise BackfillError(f"backfill name {spec.name!r}: use letters, digits, '-', '_' or '.'")
    if not spec.sets and spec.function is None:
        raise BackfillError("nothing to do: give at least one --set \"column = expression\"")
    for column, expression in spec.sets.items():
        check_expression(expression, f"--set {column}")
    if spec.where:
        check_expression(spec.where, "--where")
    row = connection.execute(
        "SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p')", (spec.table,)).fetchone()
    if row is None:
        raise BackfillError(f"--table {spec.table}: no such table")
    oid, schema, table = row
    columns = {name: (type_, not_null) for name, type_, not_null in connection.execute(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
        "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped", (oid,))}
    for column in spec.sets:
        if column not in columns:
            raise BackfillError(f"--set {column}: table {schema}.{table} has no column {column!r}")
    key = _choose_key(connection, oid, spec, columns, f"{schema}.{table}")
    column = next((k.name for k in key if k.name in spec.sets), None)
    if column is not None:
        raise BackfillError(f"--set {column}: {column} is the backfill's key of {schema}.{table}; batches page by it, so "
                            "changing it would skip or repeat rows (set another column, or page by another --key)")
    plan = Plan(spec, schema, table, key, None, None, 0)
    if spec.sets:
        try:  # the database checks every name and type in the expressions, writing nothing
            with connection.transaction(force_rollback=True):
                connection.execute(sql.SQL("EXPLAIN ") + plan.update_sql(False), [None] * len(key))
        except psycopg.Error as error:
            raise BackfillError(f"backfill {spec.name}: {first_line(error)}") from None
    elif spec.where:
        try:
            with connection.transaction(force_rollback=True):
                connection.execute(sql.SQL("EXPLAIN SELECT 1 FROM {} WHERE {}").format(plan.table_sql, user_sql(spec.where)))
        except psycopg.Error as error:
            raise BackfillError(f"--where: {first_line(error)}") from None
    order = sql.SQL(", ").join(sql.SQL("{} DESC").format(sql.Identifier(k.name)) for k in key)
    high = connection.execute(sql.SQL("SELECT {} FROM {} ORDER BY {} LIMIT 1").format(plan.key_text(), plan.table_sql, order)).fetchone()
    plan.range_high = list(high) if high else None
    estimate = connection.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s", (oid,)).fetchone()[0]
    if estimate is None or estimate < 0:
        estimate = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(plan.table_sql)).fetchone()[0]
    plan.estimated_rows = max(int(estimate), 0)
    if len(key) == 1:
        row = connection.execute("SELECT histogram_bounds::text::text[] FROM pg_stats WHERE schemaname = %s AND tablename = %s "
                                 "AND attname = %s", (schema, table, key[0].name)).fetchone()
        plan.histogram = row[0] if row and row[0] else None
    return plan


def _choose_key(connection, oid: int, spec: BackfillSpec, columns: dict, table: str) -> list[KeyColumn]:
    """The primary key, or a unique index on NOT NULL columns; `--key` must name one of them."""
    candidates = []
    for is_primary, names in connection.execute(
        "SELECT i.indisprimary, array_agg(a.attname ORDER BY k.ordinality) FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ordinality) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = %s AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL "
        "GROUP BY i.indexrelid, i.indisprimary ORDER BY i.indisprimary DESC, i.indexrelid", (oid,)):
        if is_primary or all(columns[name][1] for name in names):
            candidates.append(list(names))
    if spec.key:
        unknown = [name for name in spec.key if name not in columns]
        if unknown:
            raise BackfillError(f"--key: table {table} has no column {unknown[0]!r}")
        if spec.key not in candidates:
            raise BackfillError(
                f"--key {','.join(spec.key)}: not the primary key or a unique index on NOT NULL columns of {table} "
                f"(usable keys: {'; '.join(','.join(c) for c in candidates) or 'none'})")
        chosen = spec.key
    elif candidates:
        chosen = candidates[0]
    else:
        raise BackfillError(
            f"table {table} has no primary key and no unique index on NOT NULL columns: a backfill needs one to "
            "page through it safely (add one, e.g. CREATE UNIQUE INDEX CONCURRENTLY, then --key)")
    return [KeyColumn(name, columns[name][0]) for name in chosen]

