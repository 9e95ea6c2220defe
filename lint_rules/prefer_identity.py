from lint_rules import Rule
from lint_rules._column_types import check_column_type
from migrator.analyzer import SERIAL_TYPES


def check(statement, ctx):
    check_column_type(statement, ctx, lambda t: t.this in SERIAL_TYPES,
                      "column {column} is {type}: a sequence default with loose ownership and permissions",
                      "{column} bigint GENERATED ALWAYS AS IDENTITY")


RULE = Rule(
    id="prefer-identity",
    severity="warning",
    summary="Policy: serial columns instead of identity columns.",
    what="Flags serial, bigserial and smallserial columns. Off by default.",
    why="Identity columns are the SQL-standard form: the sequence belongs to the column, grants and copies behave.",
    instead="CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
    check=check,
    kinds=frozenset({"create_table", "alter_table"}),
    default_enabled=False,
)
