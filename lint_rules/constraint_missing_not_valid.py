import re

from lint_rules import Rule, _alembic
from lint_rules._helpers import actions
from migrator.sqltext import constraint_name


def check(statement, ctx):
    table = statement.relation
    for action in actions(statement, ctx, "add_constraint"):
        if action.constraint_type == "check" and not action.not_valid:
            name = action.constraint or constraint_name(table.name, [], "check")
            body = action.sql
            condition = CONDITION.search(body)
            ctx.report(
                f"adding CHECK constraint {name} scans all of {table} under ACCESS EXCLUSIVE: no reads or writes meanwhile",
                ctx.help(
                    f"ALTER TABLE {table} {body} NOT VALID;\n-- then, in a separate transaction:\n"
                    f"ALTER TABLE {table} VALIDATE CONSTRAINT {name};",
                    lambda: "Pass postgresql_not_valid=True to this op.create_check_constraint(...), then validate it in a "
                    "transaction of its own (autocommit_block() commits what ran before it):\n"
                    + (_alembic.create_check_constraint(name, table, condition.group(1)) if condition
                       else _alembic.execute(f"ALTER TABLE {table} {body} NOT VALID"))
                    + "\n" + _alembic.validate(table, name),
                ),
            )
    for action in actions(statement, ctx, "add_column"):
        for check_constraint in action.constraints_of("check"):
            name = check_constraint.constraint or constraint_name(table.name, [action.column], "check")
            ctx.report(
                f"ADD COLUMN {action.column} ... CHECK checks every row of {table} under ACCESS EXCLUSIVE "
                "(a column constraint cannot be NOT VALID)",
                ctx.help(
                    f"ALTER TABLE {table} ADD COLUMN {action.column} {action.data_type.declared()};\n"
                    f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK (...) NOT VALID;\n"
                    f"-- then, in a separate transaction:\nALTER TABLE {table} VALIDATE CONSTRAINT {name};",
                    lambda: "Add the column without its CHECK, then the check with op.create_check_constraint("
                    f"{_alembic.literal(name)}, {_alembic.literal(table.name)}, <condition>{_alembic.schema(table)}, "
                    "postgresql_not_valid=True) and validate it in a transaction of its own:\n"
                    + _alembic.validate(table, name),
                ),
            )


CONDITION = re.compile(r"\bCHECK\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)  # the condition of a plain CHECK (...)


RULE = Rule(
    id="constraint-missing-not-valid",
    severity="error",
    summary="A CHECK constraint added without NOT VALID scans the table under ACCESS EXCLUSIVE.",
    what=(
        "Flags `ADD CHECK` / `ADD CONSTRAINT ... CHECK` without `NOT VALID`, and `ADD COLUMN ... CHECK (...)`, "
        "on a table that existed before this migration."
    ),
    why=(
        "PostgreSQL verifies every row while it holds ACCESS EXCLUSIVE: the table is unreadable and "
        "unwritable for the whole scan. `NOT VALID` adds the constraint instantly (new rows are checked); "
        "`VALIDATE CONSTRAINT` then checks old rows under SHARE UPDATE EXCLUSIVE, which blocks nobody."
    ),
    instead=(
        "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;\n"
        "-- in a separate transaction:\nALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;"
    ),
    instead_alembic=(
        'op.create_check_constraint("orders_total_positive", "orders", "total >= 0", postgresql_not_valid=True)\n'
        + _alembic.validate("orders", "orders_total_positive")
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"add_constraint", "add_column"}),
)
