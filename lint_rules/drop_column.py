from lint_rules import Rule
from lint_rules._breaking import check_breaking_action


def check(statement, ctx):
    check_breaking_action(
        statement, ctx, "drop_column", lambda s, a: f"dropping column {s.relation}.{a.column}",
        "-- first release code that no longer reads or writes {column} (ORMs: mark it ignored), then drop it",
        lambda table, action: f"First release code that no longer reads or writes {action.column} (ORMs: mark it "
                              "ignored), then drop it in a later revision.",
    )


RULE = Rule(
    id="drop-column",
    severity="error",
    summary="Dropping a column breaks application code that still uses it.",
    what="Flags `DROP COLUMN` on a table that existed before this migration.",
    why="Running code (and ORM SELECT lists naming every column) fails until it is redeployed; the data is gone for good.",
    instead="-- release N: stop using the column (ORM: ignore it)\n-- release N+1:\nALTER TABLE users DROP COLUMN legacy_flag;",
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"drop_column"}),
)
