from lint_rules import Rule, _alembic
from migrator.analyzer import Lock, touches_no_table

WORK_KINDS = {"update", "delete", "insert", "merge", "copy", "select"}


def check(statement, ctx):
    migration = ctx.migration
    if not migration.in_transaction or not any(h.lock.blocks_writes for h in migration.held_locks):
        return
    # a lock on a relation created in this migration blocks nobody: nobody else can see the relation yet
    existing = [h for h in migration.held_locks if not migration.is_new(h.relation, h.kind)]
    # nor does one on a table dropped since: a query that waits for it finds no table when it gets it
    held = [h for h in existing if h.lock.blocks_writes and not (h.kind == "table" and migration.is_dropped(h.relation))]
    if not held:
        return
    waits = [t for t in statement.locks if _new_wait(t, existing, migration)]
    # reading or rewriting a table this migration created, or truncated in this transaction, and nothing wrote to since, reads no rows
    empty = migration.is_empty_new(statement.relation) or migration.is_emptied(statement.relation)
    # a SELECT that reads no table and calls nothing that may (SELECT 1, registering an extension's table) does no work
    works = (statement.kind in WORK_KINDS and not (statement.kind == "select" and touches_no_table(statement.sql))
             or (statement.scans or statement.rewrites) and not empty)
    if works or waits:
        # name the held lock that the statement keeps blocked, on another relation than the one it waits for
        elsewhere = [h for h in held if not waits or migration.resolve(h.relation) != migration.resolve(waits[0].relation)]
        first = max(elsewhere or held, key=lambda h: h.lock)
        what = f"takes {waits[0].lock.label} on {waits[0].relation} too" if waits and not works else \
            "may rewrite the table (its column's current type is not known to this migration)" if _unsure(statement) \
            else "scans or writes data"
        blocked = "stays blocked" if first.lock == Lock.ACCESS_EXCLUSIVE else "stays blocked for writes"
        held_on = f"index {first.relation}" if first.kind == "index" else first.relation  # DROP INDEX's, REINDEX's
        if waits and not works and not elsewhere:  # the one table it holds: a stronger lock on it, queued behind its readers
            message = (f"this statement upgrades the transaction's {first.lock.label} on {held_on} (taken on line "
                       f"{first.line}) to {waits[0].lock.label}: while it waits for the queries reading it, "
                       f"{held_on} {blocked}, and every later query on it queues behind the wait")
        else:
            message = (f"this statement {what} while the transaction still holds {first.lock.label} on {held_on} "
                       f"(taken on line {first.line}): {held_on} {blocked} for all of it")
        ctx.report(
            message,
            ctx.help(f"COMMIT right after the {first.lock.label} statement and do this work in its own transaction.",
                     lambda: f"Commit the {first.lock.label} on {first.relation} first: put this op inside "
                     "autocommit_block(), which commits what ran before it (each statement in the block then commits on "
                     "its own), or move it to a later revision under transaction_per_migration=True; as the SQL it sends:\n"
                     + _alembic.outside_transaction(statement.sql)),
        )


def _unsure(statement) -> bool:
    """Is the statement's only work a type change that rewrites the table or not as the column's current type,
    which the migration does not show, decides (its finding is changing-column-type's warning)?"""
    return (statement.kind not in WORK_KINDS and not statement.scans
            and all(action.rewrites is None for action in statement.actions if action.rewrites is not False))


def _new_wait(target, existing, migration) -> bool:
    """Can this lock wait behind the application's queries, when the transaction's locks so far do not cover it?

    Queries lock a table ACCESS SHARE, ROW SHARE or ROW EXCLUSIVE, and its indexes ACCESS SHARE or ROW
    EXCLUSIVE only once they hold the table: so an index lock that blocks no writer (ALTER INDEX ... RENAME)
    never waits for them. An existing index's table is not in the SQL: DROP INDEX's ACCESS EXCLUSIVE on it is
    require-concurrent-drop-index's finding, and is no new wait when that table is one held here already."""
    if target.kind == "index" or migration.is_new(target.relation, target.kind):
        return False
    key = migration.resolve(target.relation)
    # tables, indexes and sequences share one namespace (pg_class); a domain's or role's name is not a relation's
    held = [h.lock for h in existing if h.kind not in ("domain_users", "owned_by") and migration.resolve(h.relation) == key]
    return target.lock >= Lock.ROW_EXCLUSIVE and not target.lock.covered_by(held)


RULE = Rule(
    id="work-while-holding-lock",
    severity="error",
    summary="Scanning, writing or waiting for another lock while holding a lock that blocks writes or reads.",
    what=(
        "Flags any statement that scans or writes data, or takes a lock on an existing table that the "
        "transaction's locks so far do not cover, after a statement took a lock that blocks writes (SHARE or "
        "stronger: CREATE INDEX, a foreign key, any ALTER TABLE that takes ACCESS EXCLUSIVE) on an existing "
        "table in the same transaction. Building on a table the migration created (an index, a CHECK) counts "
        "only once a statement may have written rows to it, and so does building on a table truncated earlier in the transaction; steps on relations created in the migration "
        "(renaming the primary key's index of a new table) and catalog-only steps on indexes wait for nobody, "
        "a SELECT that reads no table and calls only catalog functions does no work, and a lock on a table dropped since keeps nobody waiting for rows (a query that gets it finds no table)."
    ),
    why=(
        "Locks are held until the transaction ends. A quick ALTER TABLE followed by an UPDATE or an index "
        "build in the same transaction keeps the table unreadable for the whole of that work, and waiting "
        "for a lock on a second table keeps the first blocked while it waits, and invites deadlocks with the "
        "application."
    ),
    instead="BEGIN;\nALTER TABLE users ADD COLUMN plan text;\nCOMMIT;\n-- then, separately:\nUPDATE ...  -- better: migrator backfill",
    instead_alembic=(
        'op.add_column("users", sa.Column("plan", sa.Text()))\n'
        + _alembic.outside_transaction("UPDATE users SET plan = 'free'") + "  # better: migrator backfill"
    ),
    check=check,
)
