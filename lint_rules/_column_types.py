"""The check shared by the prefer-* policy rules: a column type some teams ban."""

from lint_rules import _alembic
from lint_rules._helpers import column_types


def check_column_type(statement, ctx, banned, message: str, instead: str, alembic: str) -> None:
    """Report each column whose type (an array's element type) banned(PgType) rejects; instead and alembic (the
    sa.Column a revision writes) name it {column}, alembic as a Python string literal {name}."""
    for column, data_type, _ in column_types(statement):
        if banned(data_type.element):
            ctx.report(message.format(column=column, type=data_type.declared()),
                       ctx.help(instead.format(column=column), lambda: alembic.format(column=column, name=_alembic.literal(column))))
