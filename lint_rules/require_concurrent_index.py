from lint_rules import Rule, _alembic
from lint_rules._helpers import on_existing_table, outside_transaction_block
from migrator.sqltext import insert_after_keyword


def check(statement, ctx):
    if statement.kind != "create_index" or statement.concurrently or not on_existing_table(statement, ctx):
        return
    if statement.actions[0].value == "only":  # ON ONLY parent: builds nothing, the safe partitioned form
        return
    action = statement.actions[0]
    ctx.report(
        f"CREATE INDEX on existing table {statement.relation} takes a SHARE lock that blocks all writes "
        "for the whole index build",
        ctx.help(
            insert_after_keyword(statement.sql, "INDEX", "CONCURRENTLY")
            + f";  -- {outside_transaction_block(ctx)}",
            lambda: ALEMBIC + _example(_alembic.create_index(action.constraint, statement.relation, action.columns,
                                                     action.constraint_type == "unique")),
        ),
    )


ALEMBIC = ("Pass postgresql_concurrently=True to this op.create_index(...) and run it inside "
           "`with op.get_context().autocommit_block():` (CONCURRENTLY cannot run in a transaction block)")


def _example(call: str | None) -> str:
    return f":\n{_alembic.autocommit(call)}" if call else "."


RULE = Rule(
    id="require-concurrent-index",
    severity="error",
    summary="CREATE INDEX without CONCURRENTLY blocks writes to an existing table.",
    what="Flags `CREATE INDEX` on a table that existed before this migration when it is not `CONCURRENTLY`.",
    why=(
        "A plain CREATE INDEX holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE "
        "on the table waits, for minutes or hours on a large table. `CREATE INDEX CONCURRENTLY` takes "
        "SHARE UPDATE EXCLUSIVE, which lets reads and writes go on. It cannot run inside a transaction "
        "block. On a partitioned table, create the index `ON ONLY` the parent, build it CONCURRENTLY on "
        "each partition and `ALTER INDEX ... ATTACH PARTITION` them."
    ),
    instead="-- migrator:no-transaction\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
    instead_alembic=_alembic.autocommit(
        'op.create_index("users_email_idx", "users", ["email"], postgresql_concurrently=True)'),
    check=check,
    kinds=frozenset({"create_index"}),
)
