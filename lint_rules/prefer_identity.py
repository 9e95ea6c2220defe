from lint_rules import Rule
from lint_rules._column_types import check_column_type


def check(statement, ctx):
    check_column_type(statement, ctx, lambda t: t.serial,
                      "column {column} is {type}: a sequence default with loose ownership and permissions",
                      "{column} bigint GENERATED ALWAYS AS IDENTITY",
                      "sa.Column({name}, sa.BigInteger(), sa.Identity(always=True))")


RULE = Rule(
    id="prefer-identity",
    severity="warning",
    summary="Policy: serial columns instead of identity columns.",
    what="Flags serial, bigserial and smallserial columns. Array columns, `ALTER COLUMN ... TYPE` and every spelling "
         "PostgreSQL accepts for the type (int4, serial4, pg_catalog.int4, ...) count. Off by default.",
    why="Identity columns are the SQL-standard form: the sequence belongs to the column, grants and copies behave.",
    instead="CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
    check=check,
    kinds=frozenset({"create_table", "alter_table"}),
    default_enabled=False,
)
