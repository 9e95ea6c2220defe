from lint_rules import Rule, _alembic
from lint_rules._helpers import actions


def check(statement, ctx):
    table = statement.relation
    if ctx.migration.is_emptied(table):  # TRUNCATE earlier in this transaction: no row to refuse it
        return
    for action in actions(statement, ctx, "add_column"):
        if action.not_null and action.default is None and action.generated is None:
            ctx.report(
                f"ADD COLUMN {action.column} NOT NULL without a DEFAULT fails on any non-empty {table}",
                ctx.help(
                    f"ALTER TABLE {table} ADD COLUMN {action.column} {action.data_type.declared()};\n"
                    f"-- backfill it (migrator backfill), then add a validated CHECK ({action.column} IS NOT NULL) "
                    "and SET NOT NULL (see `migrator explain set-not-null`)",
                    lambda: "Add it nullable, backfill it (migrator backfill), then make it NOT NULL the safe way "
                    "(`migrator explain set-not-null`):\n" + _alembic.add_column(table, action.column, action.data_type),
                ),
            )


RULE = Rule(
    id="add-column-required",
    severity="error",
    summary="ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows.",
    what="Flags `ADD COLUMN ... NOT NULL` with no DEFAULT (and not generated) on a table that existed before this migration.",
    why=(
        "Existing rows would get NULL in a NOT NULL column, so PostgreSQL refuses the statement on "
        "any non-empty table: it passes in development and fails in production. Either give it a "
        "constant DEFAULT (instant on PostgreSQL 11+) or add it nullable, backfill, then enforce."
    ),
    instead=(
        "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';\n"
        "-- or: add nullable, backfill, CHECK (plan IS NOT NULL) NOT VALID, VALIDATE, SET NOT NULL"
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"add_column"}),
)
