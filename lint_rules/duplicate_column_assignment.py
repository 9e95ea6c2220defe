from collections import Counter

from lint_rules import Rule
from migrator.pgnames import NAMEDATALEN, clip_name

DEFINING = {"create_table": "CREATE TABLE", "create_table_as": "CREATE TABLE ... AS", "create_view": "CREATE VIEW",
            "create_foreign": "CREATE FOREIGN TABLE"}


def check(statement, ctx):
    if statement.kind == "create_table":
        lists = [([a.column for a in statement.actions if a.kind == "column" and a.column], ())]
    else:
        lists = [(a.columns, a.partial_columns) for a in statement.actions if a.kind in ("assign", "output_columns")]
    for whole, partial in lists:
        # PostgreSQL truncates names to 63 bytes before it compares them
        stored = Counter(clip_name(name, NAMEDATALEN - 1) for name in whole)
        parts = Counter(clip_name(name, NAMEDATALEN - 1) for name in partial)
        for column, count in stored.items():
            if count + parts[column] < 2:
                continue
            if statement.kind in DEFINING:
                ctx.report(
                    f"column {column} is defined {count} times in one {DEFINING[statement.kind]}: "
                    "PostgreSQL refuses the statement (specified more than once)",
                    f"Name each column once (alias one of the two {column} if both are meant).",
                )
                continue
            refusal = "multiple assignments to same column" if statement.kind != "insert" else "specified more than once"
            ctx.report(
                f"column {column} is assigned {count + parts[column]} times in one {statement.kind.upper()}: "
                f"PostgreSQL refuses the statement ({refusal})",
                f"Assign {column} once; combine the expressions into one if both are meant.",
            )


RULE = Rule(
    id="duplicate-column-assignment",
    severity="error",
    summary="The same column is assigned or defined twice in one statement: PostgreSQL refuses it.",
    what=(
        "Flags an UPDATE's SET list, an INSERT's column list or ON CONFLICT DO UPDATE SET list, or a MERGE's "
        "UPDATE SET or INSERT list that names a column more than once, and a CREATE TABLE, CREATE FOREIGN TABLE, "
        "CREATE VIEW, CREATE TABLE ... AS or SELECT ... INTO whose columns (given, or the query's output names) "
        "repeat a name. Names are compared as PostgreSQL stores them (case folded, cut to 63 bytes). Assignments "
        "to different elements or fields of one column (`SET a[1] = 0, a[2] = 0`) pass; one of them beside the "
        "whole column does not."
    ),
    why=(
        "PostgreSQL rejects the whole statement (`multiple assignments to same column`, `column specified more "
        "than once`), so the migration fails at deploy time, usually after a copy-paste edit."
    ),
    instead="UPDATE users SET email = lower(email), updated_at = now();",
    check=check,
    kinds=frozenset({"update", "insert", "merge", *DEFINING}),
)
