from lint_rules import Rule, _alembic
from lint_rules._helpers import existing_table_actions, outside_transaction_block


def check(statement, ctx):
    if ctx.pg_version < 14:
        return
    for action in existing_table_actions(statement, ctx, lambda a: a.kind == "detach_partition" and not a.concurrently):
        detach = f"ALTER TABLE {statement.relation} DETACH PARTITION {action.partition} CONCURRENTLY"
        ctx.report(
            f"DETACH PARTITION {action.partition} takes ACCESS EXCLUSIVE on {statement.relation}: every query on the "
            "partitioned table waits",
            ctx.help(f"{detach};  -- {outside_transaction_block(ctx)}", lambda: _alembic.outside_transaction(detach)),
        )


RULE = Rule(
    id="require-concurrent-detach",
    severity="error",
    summary="DETACH PARTITION without CONCURRENTLY locks the whole partitioned table (PostgreSQL 14+).",
    what="Flags `ALTER TABLE ... DETACH PARTITION` without CONCURRENTLY when targeting PostgreSQL 14 or later.",
    why=(
        "A plain detach takes ACCESS EXCLUSIVE on the parent, blocking every query on every partition. "
        "DETACH ... CONCURRENTLY (14+) takes SHARE UPDATE EXCLUSIVE and waits for running queries instead."
    ),
    instead="-- migrator:no-transaction\nALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY;",
    instead_alembic=_alembic.outside_transaction("ALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY"),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"detach_partition"}),
)
