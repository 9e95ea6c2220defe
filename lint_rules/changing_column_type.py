from sqlglot import exp

from lint_rules import Rule
from lint_rules._helpers import actions

T = exp.DType
TEXTUAL = {T.VARCHAR, T.TEXT}


def _params(data_type: exp.DataType) -> list[int | None]:
    values = []
    for param in data_type.expressions:
        text = param.sql()
        values.append(int(text) if text.isdigit() else None)
    return values


def binary_coercible(old: exp.DataType, new: exp.DataType, pg_version: int) -> bool | None:
    """True when changing old to new needs no rewrite and no scan; None when it depends on settings."""
    old_params, new_params = _params(old), _params(new)
    if old.this in TEXTUAL and new.this in TEXTUAL:
        if new.this == T.TEXT or not new_params:
            return True  # to text, or to unbounded varchar
        return old.this == T.VARCHAR and bool(old_params) and old_params[0] is not None and new_params[0] >= old_params[0]
    if old.this == T.DECIMAL and new.this == T.DECIMAL:
        if not new_params:
            return True
        if not old_params:
            return False
        old_scale = old_params[1] if len(old_params) > 1 else 0
        new_scale = new_params[1] if len(new_params) > 1 else 0
        return new_scale == old_scale and new_params[0] >= old_params[0]
    if old.sql("postgres").lower() == "cidr" and new.this == T.INET:
        return True
    if old.this == T.TIMESTAMP and new.this == T.TIMESTAMPTZ:
        return None if pg_version >= 12 else False
    return old.sql("postgres").lower() == new.sql("postgres").lower()


def could_be_coercible(new: exp.DataType) -> bool:
    """Some binary-coercible change could reach this target type."""
    return new.this in TEXTUAL or new.this in (T.DECIMAL, T.INET, T.TIMESTAMPTZ)


def check(statement, ctx):
    table = statement.relation
    for action in actions(statement, ctx, "alter_column_type"):
        new = action.data_type
        target = new.sql("postgres")
        old = ctx.migration.column_type(table, action.column)
        rewrite = (
            f"ALTER COLUMN {action.column} TYPE {target} rewrites all of {table} and rebuilds its indexes "
            "under ACCESS EXCLUSIVE"
        )
        alternative = (
            f"-- expand/contract: add {action.column}_new {target}, write both from the application, backfill "
            f"with `migrator backfill`, switch reads, then drop {action.column}"
        )
        if action.node is not None and action.node.args.get("using"):
            ctx.report(rewrite + " (a USING clause always rewrites)", alternative)
            continue
        if old is not None:
            verdict = binary_coercible(old, new, ctx.pg_version)
            if verdict is None:
                ctx.report(
                    f"{old.sql('postgres')} to {target} on {table}.{action.column} skips the rewrite only when the "
                    "session TimeZone is UTC (PostgreSQL 12+)",
                    "SET LOCAL TimeZone = 'UTC'; before the ALTER, and check it in review.",
                )
            elif not verdict:
                ctx.report(f"{old.sql('postgres')} to {target}: " + rewrite, alternative)
            continue
        if could_be_coercible(new):
            ctx.report(
                f"ALTER COLUMN {action.column} TYPE {target}: safe only if the current type is binary-coercible to it "
                "(e.g. varchar(n) to a longer varchar or text, numeric(p,s) to numeric(p2>=p,s)); "
                "otherwise it rewrites the table under ACCESS EXCLUSIVE",
                "Check the current type; if the change is binary-coercible, assert it with "
                "`-- migrator:ignore changing-column-type -- was varchar(100)`.",
                severity="warning",
            )
        else:
            ctx.report(rewrite, alternative)


RULE = Rule(
    id="changing-column-type",
    severity="error",
    summary="Changing a column's type rewrites the table, unless the change is binary-coercible.",
    what=(
        "Flags `ALTER COLUMN ... TYPE` on an existing table. Binary-coercible changes (varchar(n) to a "
        "longer varchar or to text, numeric(p,s) to a wider precision, cidr to inet) pass when the old "
        "type is known from this migration. With the old type unknown, a target some binary-coercible "
        "change could reach (text, varchar, numeric) is a warning; any other target is an error."
    ),
    why=(
        "Most type changes rewrite every row and rebuild every index of the table while holding "
        "ACCESS EXCLUSIVE: the table is down for the duration. A few changes need no rewrite because "
        "the stored bytes stay valid."
    ),
    instead=(
        "ALTER TABLE users ADD COLUMN id_new bigint;\n"
        "-- dual-write from the application, backfill with migrator backfill, then swap names in one\n"
        "-- short transaction and drop the old column later"
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
)
