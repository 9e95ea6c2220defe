from lint_rules import Rule, _alembic


def check(statement, ctx):
    if statement.kind != "drop_index" or statement.concurrently:
        return
    existing = [t.relation for t in statement.locks if not ctx.migration.is_new(t.relation, "index")]
    if not existing:
        return
    names = ", ".join(str(name) for name in existing)
    ctx.report(
        f"DROP INDEX {names} takes an ACCESS EXCLUSIVE lock on the index's table, blocking reads and writes "
        "(and queueing everything behind it while it waits)",
        ctx.help(
            "\n".join(f"DROP INDEX CONCURRENTLY IF EXISTS {name};" for name in existing)
            + "  -- one index per statement, no CASCADE, outside a transaction block",
            lambda: _alembic.autocommit(*(_alembic.drop_index(index.name, index) for index in existing)),
        ),
    )


RULE = Rule(
    id="require-concurrent-drop-index",
    severity="error",
    summary="DROP INDEX without CONCURRENTLY locks the table against reads and writes.",
    what="Flags `DROP INDEX` of an index that existed before this migration when it is not `CONCURRENTLY`.",
    why=(
        "DROP INDEX takes ACCESS EXCLUSIVE on the table the index belongs to. The drop itself is quick, "
        "but waiting for that lock behind one long query blocks every later query on the table. "
        "`DROP INDEX CONCURRENTLY` waits without blocking others. It drops one index at a time, "
        "without CASCADE, and cannot run inside a transaction block."
    ),
    instead="-- migrator:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS users_email_idx;",
    instead_alembic=_alembic.autocommit(
        'op.drop_index("users_email_idx", if_exists=True, postgresql_concurrently=True)'),
    check=check,
    kinds=frozenset({"drop_index"}),
)
