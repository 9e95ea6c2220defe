from lint_rules import Rule
from lint_rules._column_types import check_column_type


def check(statement, ctx):
    check_column_type(statement, ctx, lambda t: t.name == "json",
                      "column {column} is json: stored as text, re-parsed on every use, no indexing or equality",
                      "{column} jsonb",
                      "sa.Column({name}, postgresql.JSONB())  # from sqlalchemy.dialects import postgresql")


RULE = Rule(
    id="prefer-jsonb",
    severity="warning",
    summary="Policy: json instead of jsonb.",
    what="Flags json columns. Array columns, `ALTER COLUMN ... TYPE` and every spelling "
         "PostgreSQL accepts for the type (int4, serial4, pg_catalog.int4, ...) count. Off by default.",
    why="jsonb is parsed once, supports GIN indexes and equality; json only keeps whitespace and key order.",
    instead="CREATE TABLE events (payload jsonb NOT NULL);",
    check=check,
    kinds=frozenset({"create_table", "alter_table"}),
    default_enabled=False,
)
