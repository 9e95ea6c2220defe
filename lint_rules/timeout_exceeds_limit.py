from lint_rules import Rule, _alembic
from lint_rules._helpers import blocking_locks_on_existing, describe_locks
from migrator.context import TIMEOUT_SETTINGS
from migrator.durations import format_duration


def check(statement, ctx):
    targets = blocking_locks_on_existing(statement, ctx)
    if not targets:
        return
    limit = ctx.max_timeout_ms
    scope = "SET LOCAL" if ctx.migration.in_transaction else "SET"  # SET LOCAL is lost in autocommit_block()
    for setting in TIMEOUT_SETTINGS:
        in_force = ctx.migration.timeout(setting)
        if in_force is None or 0 < in_force.milliseconds <= limit:
            continue
        value = "0 (no limit)" if in_force.milliseconds == 0 else format_duration(in_force.milliseconds)
        ctx.report(
            f"{setting} is {value} (set on line {in_force.line}) while this statement takes {describe_locks(targets)}: "
            f"above the {format_duration(limit)} limit",
            ctx.help(f"SET LOCAL {setting} = '{format_duration(limit)}';  -- at most the limit (--max-timeout)",
                     lambda: _alembic.execute(f"{scope} {setting} = '{format_duration(limit)}'")
                     + "  # before this op: at most the limit (--max-timeout)"),
        )


RULE = Rule(
    id="timeout-exceeds-limit",
    severity="error",
    summary="lock_timeout or statement_timeout above the limit (5 s by default) for a lock-taking statement.",
    what=(
        "Flags a statement taking SHARE or a stronger lock on an existing table while the lock_timeout "
        "or statement_timeout in force is 0 (no limit) or above the configured maximum "
        "(`--max-timeout`, `max-timeout` in config; 5 s by default). Long timeouts set for "
        "CONCURRENTLY or VALIDATE statements are fine: those take weak locks."
    ),
    why=(
        "A 60 s lock_timeout still lets one waiting ALTER block the table's traffic for a minute. The "
        "limit is the longest stall your application can absorb."
    ),
    instead="SET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '5s';",
    check=check,
)
