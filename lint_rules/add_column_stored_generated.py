from lint_rules import Rule, _alembic
from lint_rules._rewrites import check_generated_column


def check(statement, ctx):
    instead = (
        "-- PostgreSQL 18: ALTER TABLE {table} ADD COLUMN {column} ... GENERATED ALWAYS AS (...) VIRTUAL;\n"
        if ctx.pg_version >= 18 else ""
    ) + ("ALTER TABLE {table} ADD COLUMN {column} ...;  -- plain column\n"
         "-- fill it with `migrator backfill` and keep it current with a trigger")
    virtual = ("# PostgreSQL 18: a VIRTUAL column fills no row: sa.Computed(\"...\", persisted=False) (SQLAlchemy 2.1+)\n"
               if ctx.pg_version >= 18 else "")
    check_generated_column(
        statement, ctx, "stored", "a STORED generated column", instead,
        lambda table, action: ("A plain column (no sa.Computed), filled with `migrator backfill` and kept current "
                               "with a trigger:\n" + virtual + _alembic.add_column(table, action.column, action.data_type)),
    )


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
    action_kinds=frozenset({"add_column"}),
)
