from lint_rules import Rule, _alembic
from lint_rules._helpers import outside_transaction_block


def check(statement, ctx):
    if statement.kind != "reindex" or statement.concurrently:
        return
    target = statement.actions[0].kind.removeprefix("reindex_").upper()
    what = f"REINDEX {target} {statement.relation or ''}".strip()
    if target == "SYSTEM":
        return  # no concurrent form (system catalogs cannot be reindexed concurrently): reindex-system's hazard
    if ctx.pg_version >= 12:
        concurrent = f"REINDEX {target} CONCURRENTLY {statement.relation or ''}".strip()
        ctx.report(f"{what} blocks writes (and reads through the index) for the whole rebuild",
                   ctx.help(f"{concurrent};  -- {outside_transaction_block(ctx)}", lambda: _alembic.outside_transaction(concurrent)))
    else:
        ctx.report("REINDEX blocks writes for the whole rebuild, and PostgreSQL before 12 has no REINDEX CONCURRENTLY",
                   ctx.help("CREATE INDEX CONCURRENTLY a new index, DROP INDEX CONCURRENTLY the old one, then rename.",
                            lambda: "Build a new index with op.create_index(..., postgresql_concurrently=True), drop the old one "
                            "with op.drop_index(..., postgresql_concurrently=True), both inside `"
                            f"{_alembic.AUTOCOMMIT}`, then rename the new one with "
                            + _alembic.execute("ALTER INDEX <new> RENAME TO <old>") + "."))


RULE = Rule(
    id="require-concurrent-reindex",
    severity="error",
    summary="REINDEX without CONCURRENTLY blocks writes to the table.",
    what=(
        "Flags REINDEX without CONCURRENTLY, also `REINDEX (CONCURRENTLY false)` (PostgreSQL 12+ has REINDEX "
        "CONCURRENTLY; before, rebuild by hand). REINDEX SYSTEM has no concurrent form: see reindex-system."
    ),
    why=(
        "REINDEX takes SHARE on the table (no writes) and ACCESS EXCLUSIVE on the index (queries that "
        "would use it wait) for the whole rebuild."
    ),
    instead="-- migrator:no-transaction\nREINDEX INDEX CONCURRENTLY users_email_idx;",
    instead_alembic=_alembic.outside_transaction("REINDEX INDEX CONCURRENTLY users_email_idx"),
    check=check,
    kinds=frozenset({"reindex"}),
)
