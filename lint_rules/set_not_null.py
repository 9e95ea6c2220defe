from lint_rules import Rule, _alembic
from lint_rules._helpers import actions
from migrator.sqltext import constraint_name


def recipe(ctx, table, column) -> str:
    name = constraint_name(table.name, [column], "not_null")
    return ctx.help(
        f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({column} IS NOT NULL) NOT VALID;\n"
        f"-- in a separate transaction:\nALTER TABLE {table} VALIDATE CONSTRAINT {name};\n"
        f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL;  -- PostgreSQL 12+ skips the scan\n"
        f"ALTER TABLE {table} DROP CONSTRAINT {name};",
        lambda: _alembic.create_check_constraint(name, table, f"{column} IS NOT NULL") + "\n"
        + _alembic.validate(table, name) + "\n"
        f"op.alter_column({_alembic.literal(table.name)}, {_alembic.literal(column)}, nullable=False"
        f"{_alembic.schema(table)})  # PostgreSQL 12+ skips the scan\n"
        f"op.drop_constraint({_alembic.literal(name)}, {_alembic.literal(table.name)}, type_=\"check\"{_alembic.schema(table)})",
    )


def check(statement, ctx):
    table = statement.relation
    if statement.kind == "alter_table" and table is not None:
        _note_helper_constraints(statement, ctx)
    for action in actions(statement, ctx, "set_not_null"):
        if ctx.pg_version < 12:
            ctx.report(
                f"SET NOT NULL on {table}.{action.column} scans the whole table under ACCESS EXCLUSIVE; before "
                "PostgreSQL 12 no constraint lets it skip the scan",
                f"Keep a validated CHECK ({action.column} IS NOT NULL) instead of SET NOT NULL until you run PostgreSQL 12+.",
            )
        elif (table.name, action.column) not in ctx.migration.validated_not_null:
            ignore = ctx.help("`-- migrator:ignore set-not-null -- <where>`",  # a revision says it in Python
                              lambda: f"`{_alembic.directive('ignore set-not-null -- <where>')}` above this op")
            message = (f"SET NOT NULL on {table}.{action.column} scans the whole table under ACCESS EXCLUSIVE unless a "
                       f"validated CHECK ({action.column} IS NOT NULL) exists (if an earlier migration added one, "
                       f"say so with {ignore})")
            helper = ctx.notes().get("validated_elsewhere", {}).get((table.name, action.column))
            if helper:  # decided at the end of the file: is that helper dropped after this?
                ctx.notes().setdefault("pending", []).append((statement, helper, message, recipe(ctx, table, action.column)))
            else:
                ctx.report(message, recipe(ctx, table, action.column))


def _note_helper_constraints(statement, ctx):
    """The documented helper pattern across migrations: an earlier one added CHECK (c IS NOT NULL) NOT VALID
    named <c>_not_null or <table>_<c>_not_null; this one validates it, sets NOT NULL and drops it."""
    notes = ctx.notes()
    table = statement.relation.name
    for action in statement.actions:
        if action.kind == "validate_constraint" and action.constraint and (table, action.constraint) not in ctx.migration.constraints:
            stem = action.constraint.removesuffix("_not_null")
            if stem != action.constraint and stem and stem != table:
                column = stem.removeprefix(table + "_") or stem
                notes.setdefault("validated_elsewhere", {})[(table, column)] = action.constraint
        elif action.kind == "drop_constraint" and action.constraint:
            notes.setdefault("dropped", set()).add((table, action.constraint))


def finish(ctx):
    dropped = ctx.notes().get("dropped", set())
    for statement, helper, message, help in ctx.notes().get("pending", []):
        if (statement.relation.name, helper) not in dropped:
            ctx.report(message, help, statement=statement)


RULE = Rule(
    id="set-not-null",
    severity="error",
    summary="SET NOT NULL scans the table under ACCESS EXCLUSIVE unless a validated IS NOT NULL check exists.",
    what=(
        "Flags `ALTER COLUMN ... SET NOT NULL` on a table that existed before this migration, unless a "
        "validated `CHECK (column IS NOT NULL)` for that very column was added or validated earlier in "
        "the migration (PostgreSQL 12+). A migration that validates a constraint an earlier one added, named "
        "`<column>_not_null` or `<table>_<column>_not_null`, sets NOT NULL and then drops it, follows the "
        "documented helper pattern and passes."
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
    instead_alembic=(
        'op.create_check_constraint("users_email_not_null", "users", "email IS NOT NULL", postgresql_not_valid=True)\n'
        + _alembic.validate("users", "users_email_not_null")
        + '\nop.alter_column("users", "email", nullable=False)\n'
        'op.drop_constraint("users_email_not_null", "users", type_="check")'
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"set_not_null", "validate_constraint", "drop_constraint"}),
    finish=finish,
)
