from lint_rules import Rule
from lint_rules._helpers import on_existing_table
from migrator.sqltext import insert_after_keyword


def check(statement, ctx):
    if statement.kind != "create_index" or statement.concurrently or not on_existing_table(statement, ctx):
        return
    if statement.actions[0].value == "only":  # ON ONLY parent: builds nothing, the safe partitioned form
        return
    ctx.report(
        f"CREATE INDEX on existing table {statement.relation} takes a SHARE lock that blocks all writes "
        "for the whole index build",
        insert_after_keyword(statement.sql, "INDEX", "CONCURRENTLY")
        + ";  -- outside a transaction block: put it in a migration marked -- migrator:no-transaction",
    )


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
    check=check,
    kinds=frozenset({"create_index"}),
)
