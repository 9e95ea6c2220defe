from lint_rules import Rule
from lint_rules._helpers import blocking_locks_on_existing, describe_locks


def check(statement, ctx):
    if statement.kind == "lock_table":
        targets = blocking_locks_on_existing(statement, ctx)
        if targets:
            ctx.report(f"explicit LOCK TABLE takes {describe_locks(targets)} until the transaction ends",
                       "Let each statement take the lock it needs, under a short lock_timeout; keep the transaction short.")


RULE = Rule(
    id="lock-table",
    severity="error",
    summary="An explicit LOCK TABLE holds a strong lock for the rest of the transaction.",
    what="Flags `LOCK TABLE` in SHARE mode or stronger on a table that existed before this migration.",
    why="The lock lasts until COMMIT, so everything the migration does afterwards runs while the table is blocked.",
    instead="SET LOCAL lock_timeout = '5s';\nALTER TABLE users ADD COLUMN nickname text;  -- takes what it needs, briefly",
    check=check,
    kinds=frozenset({"lock_table"}),
)
