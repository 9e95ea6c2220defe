"""The check shared by require-lock-timeout and require-statement-timeout."""

from lint_rules._helpers import blocking_locks_on_existing, describe_locks
from migrator.durations import format_duration


def require_timeout(statement, ctx, setting: str, consequence: str) -> None:
    if ctx.migration.runner_sets_timeouts:  # `migrator apply` sets both before every step
        return
    targets = blocking_locks_on_existing(statement, ctx)
    if not targets or ctx.migration.timeout(setting) is not None:
        return
    limit = format_duration(ctx.max_timeout_ms)
    scope = "SET LOCAL" if ctx.migration.in_transaction else "SET"
    ctx.report(
        f"{statement.kind.replace('_', ' ').upper()} takes {describe_locks(targets)} with no {setting} set: {consequence}",
        f"{scope} {setting} = '{limit}';  -- before this statement",
    )
