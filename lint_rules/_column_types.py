"""The check shared by the prefer-* policy rules: a column type some teams ban."""

from lint_rules._helpers import column_types


def check_column_type(statement, ctx, banned, message: str, instead: str) -> None:
    for column, data_type, _ in column_types(statement):
        if banned(data_type):
            ctx.report(message.format(column=column, type=data_type.sql("postgres").lower()), instead.format(column=column))
