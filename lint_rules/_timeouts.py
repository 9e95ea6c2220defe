"""The check shared by require-lock-timeout and require-statement-timeout."""

from lint_rules import _alembic
from lint_rules._helpers import blocking_locks_on_existing, describe_locks
from migrator.durations import format_duration


ALEMBIC_INSTEAD = (
    "# or let `migrator apply` set both (lint with --runner migrator)\n"
    "op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
    "op.execute(\"SET LOCAL statement_timeout = '5s'\")\n"
    'op.add_column("users", sa.Column("nickname", sa.Text()))'
)


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
        ctx.help(f"{scope} {setting} = '{limit}';  -- before this statement", lambda: alembic_help(scope, setting, limit)),
    )


def alembic_help(scope: str, setting: str, limit: str) -> str:
    """How a revision gets the timeout: from `migrator apply`, or set before the op."""
    return (f"`migrator apply` sets lock_timeout and statement_timeout before every step: if it applies this project, "
            f"lint with `--runner migrator` (or runner = \"migrator\" in the configuration). With `alembic upgrade`, "
            f"set it before this op (or once in env.py, inside context.begin_transaction()):\n"
            + _alembic.execute(f"{scope} {setting} = '{limit}'"))
