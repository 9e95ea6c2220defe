from lint_rules import Rule
from lint_rules._timeouts import ALEMBIC_INSTEAD, require_timeout


def check(statement, ctx):
    require_timeout(
        statement, ctx, "lock_timeout",
        "while it waits for the lock behind any long query, every later query on the table queues behind it",
    )


RULE = Rule(
    id="require-lock-timeout",
    severity="error",
    summary="A statement takes a write-blocking lock on an existing table with no lock_timeout set.",
    what=(
        "Flags any statement that takes SHARE or a stronger lock (ACCESS EXCLUSIVE, SHARE ROW "
        "EXCLUSIVE, ...) on a relation that existed before this migration, unless `SET [LOCAL] "
        "lock_timeout` is in force. Online forms (CONCURRENTLY, VALIDATE) take weaker locks and are exempt."
    ),
    why=(
        "A lock request waits behind every conflicting lock that is held or already queued, and every "
        "later request queues behind it. One ALTER TABLE stuck behind a long SELECT blocks all reads "
        "and writes of the table until that SELECT ends: an outage from a statement that itself would "
        "take milliseconds. lock_timeout makes it give up instead; retry later (the migrator executor "
        "retries with backoff)."
    ),
    instead="SET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '5s';\nALTER TABLE users ADD COLUMN nickname text;",
    instead_alembic=ALEMBIC_INSTEAD,
    check=check,
)
