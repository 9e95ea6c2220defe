from lint_rules import Rule, _alembic
from lint_rules._rewrites import check_generated_column
from migrator.pgtypes import PgType


def check(statement, ctx):
    check_generated_column(
        statement, ctx, "serial", "a serial/bigserial column (a nextval() default)",
        "ALTER TABLE {table} ADD COLUMN {column} bigint;\nCREATE SEQUENCE {table}_{column}_seq OWNED BY {table}.{column};\n"
        "ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT nextval('{table}_{column}_seq');\n"
        "-- then number existing rows with `migrator backfill`",
        alembic,
    )


def alembic(table, action) -> str:
    """The column, its sequence and the nextval() default for new rows, as a revision adds them."""
    sequence = f"{table}_{action.column}_seq"
    nextval = f"nextval('{sequence}')"
    return (_alembic.add_column(table, action.column, PgType(action.data_type.name)) + "\n"
            + _alembic.execute(f"CREATE SEQUENCE {sequence} OWNED BY {table}.{action.column}") + "\n"
            + f"op.alter_column({_alembic.literal(table.name)}, {_alembic.literal(action.column)}, "
              f"server_default=sa.text({_alembic.literal(nextval)}){_alembic.schema(table)})\n"
            + "# then number existing rows with `migrator backfill`")


RULE = Rule(
    id="add-column-serial",
    severity="error",
    summary="ADD COLUMN of type serial/bigserial rewrites the table.",
    what="Flags `ADD COLUMN ... serial | bigserial | smallserial` on a table that existed before this migration.",
    why=(
        "serial is shorthand for a DEFAULT nextval(...): a volatile default, so PostgreSQL computes it "
        "for every existing row and rewrites the whole table under ACCESS EXCLUSIVE."
    ),
    instead=(
        "ALTER TABLE events ADD COLUMN seq bigint;\nCREATE SEQUENCE events_seq_seq OWNED BY events.seq;\n"
        "ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq_seq');\n-- backfill existing rows in batches"
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"add_column"}),
)
