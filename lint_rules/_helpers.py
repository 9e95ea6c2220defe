"""Small helpers shared by rule modules."""

from __future__ import annotations

from migrator.analyzer import Action, Statement
from migrator.pgtypes import PgType


def on_existing_table(statement: Statement, ctx) -> bool:
    """The statement alters a table that existed before this migration."""
    return statement.relation is not None and ctx.shared(statement, "on_existing_table",
                                                         lambda: not ctx.migration.is_new(statement.relation))


def outside_transaction_block(ctx) -> str:
    """Where a help's CONCURRENTLY form runs, said for this file as its migration tool runs it."""
    migration = ctx.migration
    if not migration.in_transaction:
        return "outside a transaction block, as this statement runs"
    if migration.explicit_transaction:
        return "outside a transaction block: COMMIT the transaction before it"
    return f"outside a transaction block: {migration.escape[0].lower()}{migration.escape[1:].rstrip('.')}"


def actions(statement: Statement, ctx, kind: str) -> list[Action]:
    """The ALTER TABLE actions of a kind, when the table existed before this migration."""
    if statement.kind != "alter_table" or not on_existing_table(statement, ctx):
        return []
    return [action for action in statement.actions if action.kind == kind]




def locks_on_existing(statement: Statement, ctx) -> list:
    """The locks this statement takes on relations that existed before the migration."""
    if not statement.locks:
        return []
    return ctx.shared(statement, "locks_on_existing", lambda: [
        t for t in statement.locks if not ctx.migration.is_new(t.relation, "index" if t.kind == "index" else "table")])


def blocking_locks_on_existing(statement: Statement, ctx) -> list:
    """Locks of SHARE or stronger this statement takes on relations that existed before the migration."""
    if not statement.locks:
        return []
    return ctx.shared(statement, "blocking_locks_on_existing",
                      lambda: [target for target in locks_on_existing(statement, ctx) if target.lock.blocks_writes])


_ON_EVERY = {"schema": "every table of schema {}", "database": "every table of database {}",
             "system": "every system catalog of database {}", "domain_users": "every table with a column of domain {}",
             "owned_by": "every table role {} owns", "index": "index {}"}


def describe_locks(targets) -> str:
    strongest = max(targets, key=lambda target: target.lock)
    where = _ON_EVERY.get(strongest.kind, "{}").format(strongest.relation)
    return f"{strongest.lock.label} on {where}" + (" in turn" if strongest.kind in ("schema", "database", "system") else "")


def existing_table_actions(statement: Statement, ctx, predicate) -> list[Action]:
    """ALTER TABLE actions on a pre-existing table for which predicate(action) holds."""
    if statement.kind != "alter_table" or not on_existing_table(statement, ctx):
        return []
    return [action for action in statement.actions if predicate(action)]


def column_types(statement: Statement) -> list[tuple[str, PgType, Action]]:
    """(column, type, action) for every column a CREATE TABLE, ADD COLUMN or ALTER COLUMN ... TYPE declares."""
    kinds = ("column",) if statement.kind == "create_table" else ("add_column", "alter_column_type")
    if statement.kind not in ("create_table", "alter_table"):
        return []
    return [(a.column, a.data_type, a) for a in statement.actions if a.kind in kinds and a.data_type is not None]
