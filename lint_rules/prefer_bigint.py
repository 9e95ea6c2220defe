from lint_rules import Rule
from lint_rules._column_types import check_column_type

SMALL = {"integer", "smallint"}


def check(statement, ctx):
    check_column_type(statement, ctx, lambda t: t.name in SMALL,
                      "column {column} is {type}: 32-bit and smaller keys and counters run out",
                      "use bigint (or bigserial / bigint GENERATED ... AS IDENTITY) for {column}",
                      "use sa.BigInteger() for {column} (with sa.Identity() for a key): sa.Column({name}, sa.BigInteger())")


RULE = Rule(
    id="prefer-bigint",
    severity="warning",
    summary="Policy: integer and smallint columns (and serial) instead of bigint.",
    what="Flags int, integer, smallint, serial and smallserial columns. Array columns, `ALTER COLUMN ... TYPE` and every spelling "
         "PostgreSQL accepts for the type (int4, serial4, pg_catalog.int4, ...) count. Off by default.",
    why="Integer ids overflow at 2.1 billion, and changing the type of a busy key column later rewrites the table.",
    instead="CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
    check=check,
    kinds=frozenset({"create_table", "alter_table"}),
    default_enabled=False,
)
