from lint_rules import Rule, _alembic
from lint_rules._helpers import actions
from migrator.sqltext import constraint_name


def check(statement, ctx):
    table = statement.relation
    for action in actions(statement, ctx, "add_constraint"):
        if action.constraint_type == "foreign_key" and not action.not_valid:
            name = action.constraint or constraint_name(table.name, action.columns, "fkey")
            ctx.report(
                f"adding foreign key {name} validates every row of {table} while holding SHARE ROW EXCLUSIVE "
                f"on {table} and {action.references} (writes to both wait)",
                ctx.help(
                    f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({', '.join(action.columns)}) "
                    f"REFERENCES {action.references}{_columns(action.referenced_columns)} NOT VALID;\n"
                    f"-- then, in a separate transaction:\nALTER TABLE {table} VALIDATE CONSTRAINT {name};",
                    lambda: ALEMBIC + _alembic.create_foreign_key(name, table, action.columns, action.references,
                                                          action.referenced_columns)
                    + "\n" + _alembic.validate(table, name),
                ),
            )
    for action in actions(statement, ctx, "add_column"):
        for foreign_key in action.constraints_of("foreign_key"):
            if foreign_key.not_valid:  # the column has no default: every row is NULL, nothing to validate
                continue
            name = foreign_key.constraint or constraint_name(table.name, [action.column], "fkey")
            ctx.report(
                f"ADD COLUMN {action.column} ... REFERENCES with a DEFAULT adds a validated "
                f"foreign key: it locks {table} and {foreign_key.references} and scans {table}",
                ctx.help(
                    f"ALTER TABLE {table} ADD COLUMN {action.column} {action.data_type.declared()};\n"
                    f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({action.column}) REFERENCES {foreign_key.references} NOT VALID;\n"
                    f"-- then, in a separate transaction:\nALTER TABLE {table} VALIDATE CONSTRAINT {name};",
                    lambda: "Add the column without its sa.ForeignKey, then the foreign key NOT VALID, and validate it in a "
                    "transaction of its own:\n"
                    + _alembic.create_foreign_key(name, table, [action.column], foreign_key.references,
                                                  foreign_key.referenced_columns)
                    + "\n" + _alembic.validate(table, name),
                ),
            )


ALEMBIC = ("Pass postgresql_not_valid=True to this op.create_foreign_key(...) (keep its other arguments), then "
           "validate it in a transaction of its own (autocommit_block() commits what ran before it):\n")


def _columns(columns) -> str:
    return f" ({', '.join(columns)})" if columns else ""


RULE = Rule(
    id="add-foreign-key",
    severity="error",
    summary="A foreign key added without NOT VALID scans the table under a write-blocking lock.",
    what=(
        "Flags `ADD FOREIGN KEY` / `ADD CONSTRAINT ... FOREIGN KEY` without `NOT VALID` on a table that "
        "existed before this migration, and `ADD COLUMN ... REFERENCES` when that column has a DEFAULT "
        "(without one every row holds NULL and PostgreSQL skips the validation)."
    ),
    why=(
        "Adding a foreign key checks every existing row while holding SHARE ROW EXCLUSIVE on both "
        "the table and the referenced table: writes to both wait for the whole scan. Adding it "
        "`NOT VALID` is instant; `VALIDATE CONSTRAINT` later checks the rows under SHARE UPDATE "
        "EXCLUSIVE, which blocks no reads or writes. Validate in a separate transaction, or the "
        "first lock is held through the scan."
    ),
    instead=(
        "ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey\n"
        "    FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n"
        "-- next migration (or after COMMIT):\n"
        "ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey;"
    ),
    instead_alembic=(
        'op.create_foreign_key("orders_user_id_fkey", "orders", "users", ["user_id"], ["id"], postgresql_not_valid=True)\n'
        + _alembic.validate("orders", "orders_user_id_fkey")
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"add_constraint", "add_column"}),
)
