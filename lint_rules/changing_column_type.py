from lint_rules import Rule, _alembic
from lint_rules._helpers import actions
from migrator.pgtypes import reachable_without_rewrite


def _rewrite(table, column: str) -> str:
    return (f"rewrites all of {table} and rebuilds its indexes under ACCESS EXCLUSIVE (and any foreign key "
            f"{column} is in, at either end: the table at the key's other end is locked ACCESS EXCLUSIVE too)")


def _alternative(table, action, alembic: bool) -> str:
    """Expand/contract, as a SQL file or (alembic) a revision writes it."""
    if alembic:
        return (f"Expand/contract: add {action.column}_new, write both from the application, backfill with `migrator "
                f"backfill`, switch reads, then drop {action.column} in a later revision:\n"
                + _alembic.add_column(table, f"{action.column}_new", action.data_type))
    return (f"-- expand/contract: add {action.column}_new {action.data_type}, write both from the application, backfill "
            f"with `migrator backfill`, switch reads, then drop {action.column}")


def known_type_finding(table, action, current: str, alembic: bool = False) -> tuple[str, str]:
    """(message, instead) of the finding once the database said the column's current type (apply,
    plan --dsn) and that the change from it rewrites; instead as a revision writes it when alembic."""
    return (f"{action.column} is {current}: ALTER COLUMN {action.column} TYPE {action.data_type} {_rewrite(table, action.column)}",
            _alternative(table, action, alembic))


def check(statement, ctx):
    table = statement.relation
    for action in actions(statement, ctx, "alter_column_type"):
        new = action.data_type
        old = ctx.migration.column_type(table, action.column)
        change = f"ALTER COLUMN {action.column} TYPE {new}"
        rewrite = _rewrite(table, action.column)
        alternative = ctx.help(_alternative(table, action, False), lambda: _alternative(table, action, True))
        if action.rewrites is False:
            continue
        if action.using_casts is None:
            ctx.report(f"{change} USING an expression that computes every row: it {rewrite}", alternative)
        elif action.rewrites:
            ctx.report(f"{change} (from {old}): it {rewrite}", alternative)
        elif old is not None and {old.name, new.name} == {"timestamp without time zone", "timestamp with time zone"}:
            ctx.report(
                f"{old} to {new} on {table}.{action.column} skips the rewrite only when the session TimeZone is UTC",
                ctx.help("SET LOCAL TimeZone = 'UTC'; before the ALTER, and check it in review.",
                         lambda: _alembic.execute("SET LOCAL TimeZone = 'UTC'") + "  # before this op; check it in review"),
            )
        elif old is not None:
            ctx.report(
                f"{change} (from {old}): whether PostgreSQL skips the rewrite depends on the casts the "
                f"extension or user type defines; if not binary-coercible it {rewrite}",
                ctx.help("Check pg_cast for a binary-coercible (castmethod 'b') cast, then assert it with "
                         "`-- migrator:ignore changing-column-type`.",
                         lambda: "Check pg_cast for a binary-coercible (castmethod 'b') cast, then assert it above this op with "
                         f"`{_alembic.directive('ignore changing-column-type')}`."),
                severity="warning",
            )
        elif reachable_without_rewrite(new):
            ctx.report(
                f"{change}: the current type of {table}.{action.column} is not known to this migration; the change "
                f"keeps the table only if that type is binary-coercible to {new} (e.g. varchar(n) to a longer "
                f"varchar or to text, numeric(p,s) to numeric(p2>=p,s)), otherwise it {rewrite}",
                ctx.help("Check the current type; if the change is binary-coercible, assert it with "
                         "`-- migrator:ignore changing-column-type -- was varchar(100)`.",
                         lambda: "Check the current type; if the change is binary-coercible, assert it above this op with "
                         f"`{_alembic.directive('ignore changing-column-type -- was varchar(100)')}`."),
                severity="warning",
            )
        else:
            ctx.report(f"{change}: no other type changes to {new} without a rewrite: unless {action.column} already is "
                       f"{new}, it {rewrite}", alternative)


RULE = Rule(
    id="changing-column-type",
    severity="error",
    summary="Changing a column's type rewrites the table, unless the change is binary-coercible.",
    what=(
        "Flags `ALTER COLUMN ... TYPE` on an existing table when PostgreSQL rewrites it. The column's current "
        "type comes from earlier in the migration; the decision follows PostgreSQL's own rules "
        "(`migrator.pgtypes.type_change_rewrites`): the same type, varchar(n) to a longer varchar or to text, "
        "numeric(p,s) to numeric(p2>=p,s), bit varying and time precisions widening, cidr to inet keep the "
        "table, also with `USING col::type`. Any other USING expression, any array element change and "
        "`varchar` to `varchar(n)` rewrite. With the current type unknown, a target that some change could "
        "reach without a rewrite (text, varchar, numeric, ...) is a warning that says so; any other target is an error."
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
    action_kinds=frozenset({"alter_column_type"}),
)
