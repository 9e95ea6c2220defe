"""The check shared by the rules for changes that break the application still running the old code."""

from lint_rules._helpers import existing_table_actions


def check_breaking_action(statement, ctx, kind: str, describe, instead: str, alembic) -> None:
    """instead: the SQL recipe ({table}, {column}, {new}); alembic(table, action): the revision's."""
    for action in existing_table_actions(statement, ctx, lambda a: a.kind == kind):
        ctx.report(describe(statement, action) + ": the application version still running breaks on it",
                   ctx.help(instead.format(table=statement.relation, column=action.column, new=action.new_name),
                            lambda: alembic(statement.relation, action)))
