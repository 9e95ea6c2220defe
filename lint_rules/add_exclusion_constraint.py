from lint_rules import Rule
from lint_rules._helpers import existing_table_actions


def check(statement, ctx):
    for action in existing_table_actions(statement, ctx, lambda a: a.kind == "add_constraint" and a.constraint_type == "exclude"):
        ctx.report(
            f"ADD EXCLUDE on {statement.relation} builds its index under ACCESS EXCLUSIVE, and no online form exists "
            "(exclusion constraints support neither NOT VALID nor USING INDEX)",
            "Schedule it for a maintenance window, or enforce the rule in the application or a trigger until then.",
        )


RULE = Rule(
    id="add-exclusion-constraint",
    severity="error",
    summary="ADD EXCLUDE locks the table for the whole index build, and there is no online way to do it.",
    what="Flags `ADD CONSTRAINT ... EXCLUDE` on a table that existed before this migration.",
    why=(
        "The exclusion index is built while ACCESS EXCLUSIVE blocks all reads and writes. Unlike CHECK "
        "and FOREIGN KEY it cannot be added NOT VALID, and unlike UNIQUE it cannot adopt an index built "
        "CONCURRENTLY. The only safe places for it are a new table or a maintenance window."
    ),
    instead="-- on a new table, created empty:\nCREATE TABLE bookings (room int, during tstzrange, EXCLUDE USING gist (room WITH =, during WITH &&));",
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"add_constraint"}),
)
