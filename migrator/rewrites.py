"""Automatic safe rewrites: unsafe statements turned into their online forms.

Each rewrite is a list of units; a unit is SQL that runs in its own transaction (or alone in
autocommit when it may not run in a transaction), with an optional clean-up to run if it fails
so that nothing is left half applied (a NOT VALID constraint whose validation failed is dropped).
Only single-action statements on tables that existed before the migration are rewritten.
Constraints keep the names PostgreSQL would give them: an unnamed CHECK or FOREIGN KEY is added
NOT VALID without a name (PostgreSQL names it) and its VALIDATE names CATALOG_NAME, which the
executor replaces with the name read from the catalog; a unique index built for ADD UNIQUE or ADD
PRIMARY KEY gets the name PostgreSQL's ChooseRelationName() would give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from migrator.analyzer import Statement
from migrator.pgnames import choose_relation_name, index_name_addition
from migrator.sqltext import Relation, constraint_name, insert_after_keyword, quote_identifier

# Stands for the name PostgreSQL gave a constraint added without one; read from the catalog once added.
CATALOG_NAME = "<constraint named by PostgreSQL>"

# Lint rules whose findings a rewrite resolves.
REWRITTEN_RULES = frozenset({
    "require-concurrent-index", "require-concurrent-drop-index", "add-foreign-key", "constraint-missing-not-valid",
    "set-not-null", "add-unique-constraint", "add-primary-key", "validate-in-same-transaction",
})


@dataclass
class Unit:
    sql: list[str]
    on_failure: str | None = None
    failure_message: str | None = None


def rewrite(statement: Statement, created_tables: set[str], pg_version: int,
            taken=lambda name: False) -> list[Unit] | None:
    """The online form of a statement, or None when it is fine as it is (or cannot be rewritten).

    taken(name): is a relation or constraint of that name in the table's schema (for naming a new
    unique index as PostgreSQL would; without a catalog, nothing is)."""
    table = statement.relation
    if table is None or table.name in created_tables:
        return None
    if statement.kind == "create_index" and not statement.concurrently and statement.actions[0].value != "only":
        return [Unit([insert_after_keyword(statement.sql, "INDEX", "CONCURRENTLY")])]
    if statement.kind == "drop_index" and not statement.concurrently and len(statement.locks) == 1 \
            and not re.search(r"\bCASCADE\s*$", statement.sql, re.IGNORECASE):
        # it follows the commit: what the migration did after it (dropping the index's column or table, as
        # Glance's ocata_contract01 does) may have dropped the index already, as asked
        return [Unit([insert_after_keyword(statement.sql, "INDEX", "CONCURRENTLY" if statement.if_exists else "CONCURRENTLY IF EXISTS")])]
    if statement.kind != "alter_table" or len(statement.actions) != 1:
        return None
    action = statement.actions[0]
    if action.kind == "add_constraint" and action.constraint_type in ("check", "foreign_key") and not action.not_valid:
        name = quote_identifier(action.constraint) if action.constraint else CATALOG_NAME
        return [Unit([statement.sql.rstrip().rstrip(";") + " NOT VALID"]), _validate(table, name)]
    if action.kind == "set_not_null" and pg_version >= 12:
        name = constraint_name(table.name, [action.column], "not_null")
        column = quote_identifier(action.column)
        return [
            Unit([f"ALTER TABLE {table} ADD CONSTRAINT {quote_identifier(name)} CHECK ({column} IS NOT NULL) NOT VALID"]),
            _validate(table, quote_identifier(name)),
            Unit([f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL",
                  f"ALTER TABLE {table} DROP CONSTRAINT {quote_identifier(name)}"]),
        ]
    if action.kind == "add_constraint" and action.constraint_type in ("unique", "primary_key") and not action.using_index \
            and action.columns and "(expression)" not in action.columns:
        keyword = "UNIQUE" if action.constraint_type == "unique" else "PRIMARY KEY"
        name = action.constraint or (choose_relation_name(table.name, index_name_addition(list(action.columns)), "key", taken)
                                     if keyword == "UNIQUE" else choose_relation_name(table.name, None, "pkey", taken))
        columns = ", ".join(quote_identifier(c) for c in action.columns)
        return [
            Unit([f"CREATE UNIQUE INDEX CONCURRENTLY {quote_identifier(name)} ON {table} ({columns})"],
                 on_failure=f"DROP INDEX CONCURRENTLY IF EXISTS {quote_identifier(name)}",
                 failure_message=f"building the unique index for {name} failed; the partial index was dropped"),
            Unit([f"ALTER TABLE {table} ADD CONSTRAINT {quote_identifier(name)} {keyword} USING INDEX {quote_identifier(name)}"]),
        ]
    return None


def after_renames(statement: Statement, units: list[Unit]) -> list[Unit]:
    """Follow-up units queued earlier in a transaction, which run once it commits, as they must read after
    `statement` ran in it: a table it renames is named anew where they name it (ALTER TABLE t, ON t), and
    in those on its table, a column or constraint it renames."""
    renames = [action for action in statement.actions if action.new_name
               and action.kind in ("rename_table", "rename_column", "rename_constraint")]
    if not units or not renames or statement.relation is None:  # most statements: nothing to look at
        return units
    table = str(statement.relation)
    on_table = re.compile(rf"(?:(?<=ALTER TABLE )|(?<= ON )|(?<= ON ONLY )){re.escape(table)}(?=[ (]|$)")
    for action in renames:
        if action.kind == "rename_table":
            units = _renamed(units, on_table, on_table, str(Relation(action.new_name, statement.relation.schema)))
        elif action.kind == "rename_column" and action.column:
            written = "|".join(re.escape(form) for form in {quote_identifier(action.column), '"' + action.column.replace('"', '""') + '"'})
            column = re.compile(rf"(?<![\w\"'$.])(?:{written})(?![\w\"'$])")
            units = _renamed(units, on_table, column, quote_identifier(action.new_name))
        elif action.kind == "rename_constraint" and action.constraint:
            constraint = re.compile(rf"(?:(?<=CONSTRAINT )|(?<=CONSTRAINT IF EXISTS )){re.escape(quote_identifier(action.constraint))}(?=\s|$)")
            units = _renamed(units, on_table, constraint, quote_identifier(action.new_name))
    return units


def _renamed(units: list[Unit], on_table: re.Pattern, old: re.Pattern, new: str) -> list[Unit]:
    """units with what `old` matches written `new`, in the statements that act on the table `on_table` finds."""
    def rename(text: str | None) -> str | None:
        return text if text is None or not on_table.search(text) else old.sub(lambda _: new, text)

    return [replace(unit, sql=[rename(text) for text in unit.sql], on_failure=rename(unit.on_failure)) for unit in units]


def _validate(table, name: str) -> Unit:
    """VALIDATE of the constraint `name` (already quoted, or CATALOG_NAME)."""
    return Unit(
        [f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}"],
        on_failure=f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}",
        failure_message=f"existing rows violate {name}; the NOT VALID constraint was dropped, nothing is left half applied",
    )
