from lint_rules import Rule


def check(statement, ctx):
    if statement.kind != "reindex" or statement.concurrently:
        return
    target = statement.actions[0].kind.removeprefix("reindex_").upper()
    what = f"REINDEX {target} {statement.relation or ''}".strip()
    if target == "SYSTEM":
        return  # no concurrent form (system catalogs cannot be reindexed concurrently): reindex-system's hazard
    if ctx.pg_version >= 12:
        ctx.report(f"{what} blocks writes (and reads through the index) for the whole rebuild",
                   f"REINDEX {target} CONCURRENTLY {statement.relation or ''}".strip() + ";  -- outside a transaction block")
    else:
        ctx.report("REINDEX blocks writes for the whole rebuild, and PostgreSQL before 12 has no REINDEX CONCURRENTLY",
                   "CREATE INDEX CONCURRENTLY a new index, DROP INDEX CONCURRENTLY the old one, then rename.")


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
    check=check,
    kinds=frozenset({"reindex"}),
)
