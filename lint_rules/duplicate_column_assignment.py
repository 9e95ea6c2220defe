from collections import Counter

from lint_rules import Rule


def check(statement, ctx):
    for action in statement.actions:
        if action.kind != "assign":
            continue
        for column, count in Counter(action.columns).items():
            if count > 1:
                refusal = ("multiple assignments to same column" if statement.kind == "update"
                           else "specified more than once")
                ctx.report(
                    f"column {column} is assigned {count} times in one {statement.kind.upper()}: "
                    f"PostgreSQL refuses the statement ({refusal})",
                    f"Assign {column} once; combine the expressions into one if both are meant.",
                )


RULE = Rule(
    id="duplicate-column-assignment",
    severity="error",
    summary="The same column is assigned twice in one UPDATE or INSERT: PostgreSQL refuses it.",
    what=(
        "Flags an UPDATE whose SET list, or an INSERT whose column list, names a column more than once. "
        "Assignments to different elements or fields of one column (`SET a[1] = 0, a[2] = 0`) are allowed and pass."
    ),
    why=(
        "PostgreSQL rejects the whole statement (`multiple assignments to same column`, `column specified more "
        "than once`), so the migration fails at deploy time, usually after a copy-paste edit."
    ),
    instead="UPDATE users SET email = lower(email), updated_at = now();",
    check=check,
    kinds=frozenset({"update", "insert"}),
)
