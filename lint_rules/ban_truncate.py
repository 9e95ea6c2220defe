from lint_rules import Rule
from lint_rules._helpers import locks_on_existing


def check(statement, ctx):
    if statement.kind != "truncate":
        return
    for target in locks_on_existing(statement, ctx):
        ctx.report(f"TRUNCATE {target.relation} deletes every row under ACCESS EXCLUSIVE",
                   "If the data must go, delete it in batches with `migrator backfill`, or drop the table in a later release.")


RULE = Rule(
    id="ban-truncate",
    severity="error",
    summary="TRUNCATE of an existing table in a migration.",
    what="Flags TRUNCATE of tables that existed before this migration.",
    why="It deletes all data irreversibly (it is not MVCC-safe) and takes ACCESS EXCLUSIVE.",
    instead="-- migrator backfill with a DELETE-style Python backfill, or drop the table in a later release",
    check=check,
    kinds=frozenset({"truncate"}),
)
