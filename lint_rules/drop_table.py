from lint_rules import Rule
from lint_rules._helpers import locks_on_existing


def check(statement, ctx):
    if statement.kind != "drop_table":
        return
    for target in locks_on_existing(statement, ctx):
        ctx.report(f"dropping table {target.relation}: code still using it breaks, and the data is gone",
                   "Release code that no longer uses the table first; consider renaming it aside before dropping.")


RULE = Rule(
    id="drop-table",
    severity="error",
    summary="Dropping a table breaks application code that still uses it.",
    what="Flags `DROP TABLE` of tables that existed before this migration.",
    why="The running application fails on it until redeployed, and the drop cannot be undone.",
    instead="-- release N: stop using the table\n-- release N+1:\nDROP TABLE legacy_sessions;",
    check=check,
    kinds=frozenset({"drop_table"}),
)
