"""The check shared by the prefer-* policy rules: a column type some teams ban."""

from lint_rules._helpers import column_types


def check_column_type(statement, ctx, banned, message: str, instead: str) -> None:
    """Report each column whose type (an array's element type) banned(PgType) rejects."""
    for column, data_type, _ in column_types(statement):
        if banned(data_type.element):
            ctx.report(message.format(column=column, type=data_type.declared()), instead.format(column=column))
