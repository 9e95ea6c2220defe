from lint_rules import Rule, _alembic
from migrator.sqltext import STRING_TOKENS, tokenize


def check(statement, ctx):
    migration = ctx.migration
    if statement.kind == "alter_type" and any(a.kind == "add_enum_value" for a in statement.actions):
        if ctx.pg_version < 12 and migration.in_transaction:
            ctx.report("before PostgreSQL 12, ALTER TYPE ... ADD VALUE cannot run inside a transaction block",
                       ctx.help(migration.escape,
                                lambda: _alembic.outside_transaction(statement.sql)))
        return
    if not migration.in_transaction or not migration.enum_values_added:
        return
    added = {value for (_, value), transaction in migration.enum_values_added.items() if transaction == migration.transaction_id}
    if not any(value in statement.sql for value in added):  # only then is the statement tokenized
        return
    used = sorted({t.text for t in tokenize(statement.sql) if t.token_type in STRING_TOKENS and t.text in added})
    if used:
        ctx.report(
            f"uses enum value {', '.join(repr(v) for v in used)} in the transaction that added it: PostgreSQL refuses "
            "(unsafe use of new value) until that transaction commits",
            ctx.help("COMMIT after ALTER TYPE ... ADD VALUE, and use the value in a later transaction or migration.",
                     lambda: "Add the value inside autocommit_block(), which commits it, and use it after the block (or in a "
                     "later revision):\n" + _alembic.autocommit(*(
                         _alembic.execute(f"ALTER TYPE {enum} ADD VALUE {_quoted(value)}")
                         for (enum, value), transaction in migration.enum_values_added.items()
                         if transaction == migration.transaction_id and value in used))),
        )


def _quoted(value: str) -> str:
    """A SQL string literal of value."""
    return "'" + value.replace("'", "''") + "'"


RULE = Rule(
    id="enum-value-in-transaction",
    severity="error",
    summary="A new enum value used in the transaction that added it (and, before PG 12, ADD VALUE in any transaction).",
    what=(
        "Flags statements that mention a value added by `ALTER TYPE ... ADD VALUE` earlier in the same "
        "transaction, and ADD VALUE inside a transaction block before PostgreSQL 12."
    ),
    why=(
        "PostgreSQL rejects a new enum value until the transaction that added it has committed (`unsafe "
        "use of new value`), so the migration fails at deploy time; before version 12 ADD VALUE cannot run "
        "in a transaction block at all."
    ),
    instead="ALTER TYPE status ADD VALUE 'archived';\nCOMMIT;\n-- next migration:\nUPDATE jobs SET status = 'archived' WHERE ...;",
    instead_alembic=(_alembic.outside_transaction("ALTER TYPE status ADD VALUE 'archived'")
                     + "\nop.execute(\"UPDATE jobs SET status = 'archived' WHERE ...\")"),
    check=check,
)
