from lint_rules import Rule, _alembic


def check(statement, ctx):
    if statement.kind != "alter_table" or not ctx.migration.in_transaction:
        return
    for action in statement.actions:
        if action.kind != "validate_constraint" or not action.constraint:
            continue
        state = ctx.migration.constraints.get((statement.relation.name, action.constraint))
        if state and state.added_in_transaction == ctx.migration.transaction_id and not ctx.migration.is_new(statement.relation):
            ctx.report(
                f"VALIDATE CONSTRAINT {action.constraint} runs in the transaction that added it: the ADD's "
                f"lock on {statement.relation} is held through the whole validation scan",
                ctx.help("COMMIT after the ADD ... NOT VALID and validate in a new transaction (or the next migration).",
                         lambda: "Validate in a transaction of its own: autocommit_block() commits the ADD ... NOT VALID "
                         "first:\n" + _alembic.validate(statement.relation, action.constraint)),
            )


RULE = Rule(
    id="validate-in-same-transaction",
    severity="error",
    summary="VALIDATE CONSTRAINT in the transaction that added the constraint keeps the strong lock through the scan.",
    what="Flags `VALIDATE CONSTRAINT` of a constraint added `NOT VALID` earlier in the same transaction.",
    why=(
        "The point of NOT VALID is to split a long scan from the strong lock. The ADD takes ACCESS "
        "EXCLUSIVE (CHECK) or SHARE ROW EXCLUSIVE (FOREIGN KEY) until its transaction ends; validating "
        "in that same transaction scans the table while still holding it."
    ),
    instead=(
        "BEGIN;\nALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\nCOMMIT;\n"
        "BEGIN;\nALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;\nCOMMIT;"
    ),
    instead_alembic=(
        'op.create_foreign_key("orders_user_fk", "orders", "users", ["user_id"], ["id"], postgresql_not_valid=True)\n'
        + _alembic.validate("orders", "orders_user_fk")
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"validate_constraint"}),
)
