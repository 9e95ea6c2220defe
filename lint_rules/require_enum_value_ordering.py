from lint_rules import Rule, _alembic


def check(statement, ctx):
    for action in statement.actions:
        if action.kind == "add_enum_value" and action.position is None:
            ordered = f"ALTER TYPE {statement.relation} ADD VALUE {action.value!r} BEFORE '<existing value>'"
            ctx.report(
                f"ALTER TYPE {statement.relation} ADD VALUE {action.value!r} has no BEFORE or AFTER: the value goes "
                "last, so it sorts after every existing value in ORDER BY, comparisons and min()/max()",
                ctx.help(f"{ordered};  -- {WHERE}", lambda: f"{_alembic.execute(ordered)}  # {WHERE}"),
            )


WHERE = "or AFTER, where it belongs; say AFTER the last value if last is meant"


RULE = Rule(
    id="require-enum-value-ordering",
    severity="warning",
    summary="Policy: ALTER TYPE ... ADD VALUE without BEFORE or AFTER.",
    what="Flags `ALTER TYPE ... ADD VALUE` that does not say where the value goes. Off by default.",
    why=(
        "An enum's order is its declaration order, and ORDER BY, <, > and range checks follow it. A value added "
        "without BEFORE/AFTER is appended, which is often not where it belongs (a status between two others), "
        "and the order cannot be changed later without recreating the type and rewriting every table using it."
    ),
    instead="ALTER TYPE order_status ADD VALUE 'packed' AFTER 'paid';",
    check=check,
    kinds=frozenset({"alter_type"}),
    default_enabled=False,
)
