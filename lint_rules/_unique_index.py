"""The online recipe shared by add-unique-constraint and add-primary-key."""

from lint_rules import _alembic
from lint_rules._helpers import actions
from migrator.sqltext import constraint_name


def check_unique_index_constraint(statement, ctx, constraint_type: str, keyword: str) -> None:
    table = statement.relation
    suffix = "pkey" if constraint_type == "primary_key" else "key"
    constraints = actions(statement, ctx, "add_constraint")
    constraints += [c for a in actions(statement, ctx, "add_column") for c in a.column_constraints]
    for action in constraints:
        if action.constraint_type != constraint_type or action.using_index:
            continue
        columns = action.columns
        index = constraint_name(table.name, columns, suffix)
        name = action.constraint or index
        ctx.report(
            f"ADD {keyword} on {table} builds a unique index while holding ACCESS EXCLUSIVE: no reads or writes "
            "until the build ends (NOT VALID does not apply to it)",
            ctx.help(
                f"CREATE UNIQUE INDEX CONCURRENTLY {index} ON {table} ({', '.join(columns)});  -- outside a transaction\n"
                f"ALTER TABLE {table} ADD CONSTRAINT {name} {keyword} USING INDEX {index};",
                lambda: _alembic_recipe(table, columns, index, f"ADD CONSTRAINT {name} {keyword} USING INDEX {index}"),
            ),
        )


def _alembic_recipe(table, columns, index: str, attach: str) -> str | None:
    """The unique index built CONCURRENTLY by op.create_index, then attached as the constraint."""
    build = _alembic.create_index(index, table, columns, unique=True)
    return build and _alembic.autocommit(build) + "\n" + _alembic.execute(f"ALTER TABLE {table} {attach}")
