from lint_rules import Rule


def check(statement, ctx):
    migration = ctx.migration
    [action] = statement.actions
    point = migration.savepoint(action.value)
    if not migration.in_transaction:
        ctx.report(f"ROLLBACK TO SAVEPOINT {action.value} outside a transaction block: PostgreSQL refuses it",
                   "Remove it: each statement here commits on its own, so there is nothing to roll back to.")
    elif point is None:
        ctx.report(f"ROLLBACK TO SAVEPOINT {action.value} with no SAVEPOINT {action.value} before it in this transaction: "
                   "PostgreSQL refuses it", f"Remove it, or set SAVEPOINT {action.value} where the work to undo starts.")
    else:
        ctx.report(f"ROLLBACK TO SAVEPOINT {action.value} undoes every statement since SAVEPOINT {action.value} (line "
                   f"{point.line}) each time this migration runs, while the runner records the migration as applied",
                   "Remove the savepoint, the statements it undoes and the ROLLBACK TO; for a statement that may fail, "
                   "make it idempotent (IF NOT EXISTS, IF EXISTS) or catch its error in a DO block's EXCEPTION clause.")


RULE = Rule(
    id="rollback-to-savepoint",
    severity="error",
    summary="ROLLBACK TO SAVEPOINT in a migration file undoes part of it on every run.",
    what=(
        "Flags `ROLLBACK TO SAVEPOINT` in SQL: a file has no branches, so it runs every time and undoes the "
        "statements since its SAVEPOINT (or is refused, with no such savepoint or outside a transaction block). "
        "SAVEPOINT and RELEASE SAVEPOINT alone undo nothing and pass. An Alembic revision that rolls a "
        "begin_nested() back on its own error is Python's decision, judged by `migrator apply` as it runs."
    ),
    why=(
        "The migration is recorded as applied while part of it is silently gone, and `migrator apply` would "
        "still run the follow-ups (CONCURRENTLY builds, VALIDATE) of the statements it undid."
    ),
    instead="ALTER TABLE users ADD COLUMN IF NOT EXISTS plan text;",
    check=check,
    kinds=frozenset({"rollback_to_savepoint"}),
)
