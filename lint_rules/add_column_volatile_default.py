from sqlglot import exp

from lint_rules import Rule, _alembic
from lint_rules._helpers import actions
from migrator.analyzer import VOLATILE_FUNCTIONS


def check(statement, ctx):
    table = statement.relation
    for action in actions(statement, ctx, "add_column"):
        default = action.default
        if default is None or isinstance(default, exp.Null):
            continue
        column_type = action.data_type.declared()
        alternative = (
            f"ALTER TABLE {table} ADD COLUMN {action.column} {column_type};\n"
            f"ALTER TABLE {table} ALTER COLUMN {action.column} SET DEFAULT {default.meta.get('written') or default.sql('postgres')};\n"
            f"-- then fill existing rows in batches: migrator backfill run ... --table {table} --set \"{action.column} = ...\""
        )
        alternative = ctx.help(alternative, lambda: (
            "Add the column without its server_default, then give new rows the default:\n"
            + _alembic.add_column(table, action.column, action.data_type) + "\n"
            + f"op.alter_column({_alembic.literal(table.name)}, {_alembic.literal(action.column)}, server_default=sa.text("
              f"{_alembic.literal(default.meta.get('written') or default.sql('postgres'))}){_alembic.schema(table)})\n"
            + f"# then fill existing rows in batches: migrator backfill run ... --table {table} --set \"{action.column} = ...\""
        ))
        if ctx.pg_version < 11:
            ctx.report(
                f"before PostgreSQL 11, ADD COLUMN {action.column} with a DEFAULT rewrites all of {table} under ACCESS EXCLUSIVE",
                alternative,
            )
            continue
        volatile = sorted(set(ctx.migration.volatile_calls(default)))
        if volatile:
            unknown = [name for name in volatile if name not in VOLATILE_FUNCTIONS]
            note = f" ({', '.join(unknown)}: not a function migrator knows, so counted as volatile)" if unknown else ""
            ctx.report(
                f"ADD COLUMN {action.column} with a volatile DEFAULT ({', '.join(volatile)}) rewrites all "
                f"of {table} under ACCESS EXCLUSIVE{note}",
                alternative,
            )


RULE = Rule(
    id="add-column-volatile-default",
    severity="error",
    summary="ADD COLUMN with a volatile DEFAULT (any DEFAULT before PostgreSQL 11) rewrites the table.",
    what=(
        "Flags `ADD COLUMN ... DEFAULT expr` on an existing table when the expression calls a volatile "
        "function (`random()`, `clock_timestamp()`, `gen_random_uuid()`, `nextval()`, or any function "
        "migrator does not know: also a known name called with a number of arguments PostgreSQL has no "
        "function for, such as `now(123)`), and any non-NULL DEFAULT before PostgreSQL 11. `now()` is "
        "stable: safe on 11+."
    ),
    why=(
        "From PostgreSQL 11 a non-volatile default is stored once in the catalog and the ADD is "
        "instant. A volatile default must be computed for every existing row, so PostgreSQL rewrites "
        "the whole table (and its indexes) under ACCESS EXCLUSIVE."
    ),
    instead=(
        "ALTER TABLE users ADD COLUMN token uuid;\n"
        "ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid();\n"
        "-- existing rows, in throttled batches:\n"
        "-- migrator backfill run fill-token --table users --set \"token = gen_random_uuid()\""
    ),
    instead_alembic=(
        'op.add_column("users", sa.Column("token", sa.Uuid()))\n'
        'op.alter_column("users", "token", server_default=sa.text("gen_random_uuid()"))\n'
        "# existing rows, in throttled batches:\n"
        "# migrator backfill run fill-token --table users --set \"token = gen_random_uuid()\""
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"add_column"}),
)
