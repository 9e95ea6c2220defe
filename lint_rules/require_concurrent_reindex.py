from lint_rules import Rule
from migrator.sqltext import insert_after_keyword


def check(statement, ctx):
    if statement.kind != "reindex" or statement.concurrently:
        return
    if ctx.pg_version >= 12:
        target = statement.actions[0].kind.removeprefix("reindex_").upper()
        ctx.report(f"REINDEX {target} {statement.relation or ''} blocks writes (and reads through the index) for the whole rebuild".replace("  ", " "),
                   insert_after_keyword(statement.sql, target, "CONCURRENTLY") + ";  -- outside a transaction block")
    else:
        ctx.report("REINDEX blocks writes for the whole rebuild, and PostgreSQL before 12 has no REINDEX CONCURRENTLY",
                   "CREATE INDEX CONCURRENTLY a new index, DROP INDEX CONCURRENTLY the old one, then rename.")


RULE = Rule(
    id="require-concurrent-reindex",
    severity="error",
    summary="REINDEX without CONCURRENTLY blocks writes to the table.",
    what="Flags REINDEX without CONCURRENTLY (PostgreSQL 12+ has REINDEX CONCURRENTLY; before, rebuild by hand).",
    why=(
        "REINDEX takes SHARE on the table (no writes) and ACCESS EXCLUSIVE on the index (queries that "
        "would use it wait) for the whole rebuild."
    ),
    instead="-- migrator:no-transaction\nREINDEX INDEX CONCURRENTLY users_email_idx;",
    check=check,
    kinds=frozenset({"reindex"}),
)
