from lint_rules import Rule
from lint_rules._rewrites import check_generated_column


def check(statement, ctx):
    instead = (
        "-- PostgreSQL 18: ALTER TABLE {table} ADD COLUMN {column} ... GENERATED ALWAYS AS (...) VIRTUAL;\n"
        if ctx.pg_version >= 18 else ""
    ) + ("ALTER TABLE {table} ADD COLUMN {column} ...;  -- plain column\n"
         "-- fill it with `migrator backfill` and keep it current with a trigger")
    check_generated_column(statement, ctx, "stored", "a STORED generated column", instead)


RULE = Rule(
    id="add-column-stored-generated",
    severity="error",
    summary="ADD COLUMN ... GENERATED ALWAYS AS (...) STORED rewrites the table.",
    what=(
        "Flags adding a STORED generated column to a table that existed before this migration. On "
        "PostgreSQL 18 VIRTUAL generated columns (the default there when STORED is omitted) are computed "
        "on read and pass."
    ),
    why="The expression is evaluated and stored for every existing row: a full rewrite under ACCESS EXCLUSIVE.",
    instead="ALTER TABLE users ADD COLUMN email_domain text GENERATED ALWAYS AS (split_part(email, '@', 2)) VIRTUAL;  -- PG 18",
    check=check,
    kinds=frozenset({"alter_table"}),
)
