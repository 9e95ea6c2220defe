from lint_rules import Rule
from migrator.analyzer import Lock

WORK_KINDS = {"update", "delete", "insert", "merge", "copy", "select"}


def check(statement, ctx):
    migration = ctx.migration
    if not migration.in_transaction:
        return
    held = [h for h in migration.held_locks if h.lock == Lock.ACCESS_EXCLUSIVE and not migration.is_new(h.relation)]
    if not held:
        return
    held_names = {h.relation.name for h in held}
    others = [t for t in statement.locks if t.relation.name not in held_names and not migration.is_new(t.relation)
              and t.lock >= Lock.ROW_EXCLUSIVE]
    # reading or rewriting a table this migration created, and nothing wrote to yet, reads no rows
    works = statement.kind in WORK_KINDS or (statement.scans or statement.rewrites) and not migration.is_empty_new(statement.relation)
    if works or others:
        first = held[0]
        what = f"locks {others[0].relation} too" if others and not works else "scans or writes data"
        ctx.report(
            f"this statement {what} while the transaction still holds ACCESS EXCLUSIVE on {first.relation} "
            f"(taken on line {first.line}): {first.relation} stays blocked for all of it",
            "COMMIT right after the ACCESS EXCLUSIVE statement and do this work in its own transaction.",
        )


RULE = Rule(
    id="work-while-holding-lock",
    severity="error",
    summary="Scanning, writing or locking more tables while an ACCESS EXCLUSIVE lock is held.",
    what=(
        "Flags any statement that scans or writes data, or locks another existing table, after a statement "
        "took ACCESS EXCLUSIVE on an existing table in the same transaction. Building on a table the migration "
        "created (an index, a CHECK) counts only once a statement may have written rows to it."
    ),
    why=(
        "Locks are held until the transaction ends. A quick ALTER TABLE followed by an UPDATE or an index "
        "build in the same transaction keeps the table unreadable for the whole of that work, and locking "
        "a second table invites deadlocks with the application."
    ),
    instead="BEGIN;\nALTER TABLE users ADD COLUMN plan text;\nCOMMIT;\n-- then, separately:\nUPDATE ...  -- better: migrator backfill",
    check=check,
)
