from lint_rules import Rule
from lint_rules._column_types import check_column_type


def check(statement, ctx):
    check_column_type(statement, ctx, lambda t: t.name in ("character varying", "character") and bool(t.modifiers),
                      "column {column} is {type}: widening the limit later needs an ALTER, and char(n) pads",
                      "{column} text  -- with a CHECK (length({column}) <= n) if a limit matters",
                      "sa.Column({name}, sa.Text())  # with a CHECK (length({column}) <= n) if a limit matters")


RULE = Rule(
    id="prefer-text",
    severity="warning",
    summary="Policy: varchar(n) and char(n) instead of text.",
    what="Flags varchar(n) and char(n) columns. Array columns, `ALTER COLUMN ... TYPE` and every spelling "
         "PostgreSQL accepts for the type (int4, serial4, pg_catalog.int4, ...) count. Off by default.",
    why="In PostgreSQL text is as fast; a CHECK on the length can be changed without touching the column type.",
    instead="CREATE TABLE users (handle text CHECK (length(handle) <= 40));",
    check=check,
    kinds=frozenset({"create_table", "alter_table"}),
    default_enabled=False,
)
