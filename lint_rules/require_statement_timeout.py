from lint_rules import Rule
from lint_rules._timeouts import ALEMBIC_INSTEAD, require_timeout


def check(statement, ctx):
    require_timeout(
        statement, ctx, "statement_timeout",
        "nothing bounds how long it holds the lock once it has it",
    )


RULE = Rule(
    id="require-statement-timeout",
    severity="error",
    summary="A statement takes a write-blocking lock on an existing table with no statement_timeout set.",
    what=(
        "Flags any statement that takes SHARE or a stronger lock on a relation that existed before this "
        "migration, unless `SET [LOCAL] statement_timeout` is in force."
    ),
    why=(
        "Once granted, the lock is held until the statement (and its transaction) ends. A statement "
        "that unexpectedly rewrites or scans a big table keeps it locked for minutes. statement_timeout "
        "cancels it instead, and the transaction rolls back cleanly."
    ),
    instead="SET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '5s';\nALTER TABLE users DROP COLUMN legacy;",
    instead_alembic=ALEMBIC_INSTEAD,
    check=check,
)
