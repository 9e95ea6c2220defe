from lint_rules import Rule
from lint_rules._helpers import actions
from migrator.sqltext import constraint_name


def recipe(table, column) -> str:
    name = constraint_name(table.name, [column], "not_null")
    return (
        f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({column} IS NOT NULL) NOT VALID;\n"
        f"-- in a separate transaction:\nALTER TABLE {table} VALIDATE CONSTRAINT {name};\n"
        f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL;  -- PostgreSQL 12+ skips the scan\n"
        f"ALTER TABLE {table} DROP CONSTRAINT {name};"
    )


def check(statement, ctx):
    table = statement.relation
    for action in actions(statement, ctx, "set_not_null"):
        if ctx.pg_version < 12:
            ctx.report(
                f"SET NOT NULL on {table}.{action.column} scans the whole table under ACCESS EXCLUSIVE; before "
                "PostgreSQL 12 no constraint lets it skip the scan",
                f"Keep a validated CHECK ({action.column} IS NOT NULL) instead of SET NOT NULL until you run PostgreSQL 12+.",
            )
        elif (table.name, action.column) not in ctx.migration.validated_not_null:
            ctx.report(
                f"SET NOT NULL on {table}.{action.column} scans the whole table under ACCESS EXCLUSIVE unless a "
                f"validated CHECK ({action.column} IS NOT NULL) exists (if an earlier migration added one, "
                "say so with `-- migrator:ignore set-not-null -- <where>`)",
                recipe(table, action.column),
            )


RULE = Rule(
    id="set-not-null",
    severity="error",
    summary="SET NOT NULL scans the table under ACCESS EXCLUSIVE unless a validated IS NOT NULL check exists.",
    what=(
        "Flags `ALTER COLUMN ... SET NOT NULL` on a table that existed before this migration, unless a "
        "validated `CHECK (column IS NOT NULL)` for that very column was added or validated earlier in "
        "the migration (PostgreSQL 12+)."
    ),
    why=(
        "PostgreSQL checks every row for NULLs while holding ACCESS EXCLUSIVE. From version 12 it skips "
        "that scan when a validated CHECK constraint proves the column has no NULLs; such a constraint "
        "can be added NOT VALID and validated without blocking anybody. A check on another column, or "
        "one not yet validated, proves nothing."
    ),
    instead=(
        "ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;\n"
        "-- in a separate transaction:\nALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;\n"
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\nALTER TABLE users DROP CONSTRAINT users_email_not_null;"
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
)
