"""The check shared by the add-column rules whose column kinds rewrite the table."""

from lint_rules._helpers import existing_table_actions


def check_generated_column(statement, ctx, generated: str, what: str, instead: str, alembic) -> None:
    """instead: the SQL recipe ({table}, {column}); alembic(table, action): the revision's."""
    for action in existing_table_actions(statement, ctx, lambda a: a.kind == "add_column" and a.generated == generated):
        ctx.report(
            f"ADD COLUMN {action.column} as {what} fills every existing row: it rewrites all of {statement.relation} "
            "under ACCESS EXCLUSIVE",
            ctx.help(instead.format(table=statement.relation, column=action.column), lambda: alembic(statement.relation, action)),
        )
