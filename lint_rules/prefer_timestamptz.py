from lint_rules import Rule
from lint_rules._column_types import check_column_type


def check(statement, ctx):
    check_column_type(statement, ctx, lambda t: t.name == "timestamp without time zone",
                      "column {column} is timestamp without time zone: values are ambiguous across time zones",
                      "{column} timestamptz",
                      "sa.Column({name}, sa.DateTime(timezone=True))")


RULE = Rule(
    id="prefer-timestamptz",
    severity="warning",
    summary="Policy: timestamp without time zone instead of timestamptz.",
    what="Flags timestamp (without time zone) columns. Array columns, `ALTER COLUMN ... TYPE` and every spelling "
         "PostgreSQL accepts for the type (int4, serial4, pg_catalog.int4, ...) count. Off by default.",
    why="timestamptz stores an instant; timestamp stores a wall-clock reading whose meaning depends on the writer.",
    instead="CREATE TABLE events (at timestamptz NOT NULL DEFAULT now());",
    check=check,
    kinds=frozenset({"create_table", "alter_table"}),
    default_enabled=False,
)
