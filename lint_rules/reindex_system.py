from lint_rules import Rule


def check(statement, ctx):
    if statement.actions[0].kind != "reindex_system":
        return
    what = f"REINDEX SYSTEM {statement.relation or ''}".strip()
    ctx.report(f"{what} rebuilds every system catalog index, each under ACCESS EXCLUSIVE with its catalog locked "
               "against writes: DDL, and queries whose catalog lookups need those indexes, wait; and system catalogs "
               "cannot be reindexed concurrently",
               "Run REINDEX SYSTEM by hand in a maintenance window, not in a migration.")


RULE = Rule(
    id="reindex-system",
    severity="error",
    summary="REINDEX SYSTEM in a migration: every system catalog locked in turn, with no online form.",
    what="Flags `REINDEX SYSTEM` (any options: PostgreSQL refuses it CONCURRENTLY).",
    why=(
        "REINDEX SYSTEM rebuilds the indexes of every system catalog, each catalog under SHARE (no DDL anywhere in "
        "the database) and each index under ACCESS EXCLUSIVE (a query that needs it for a catalog lookup, such as a "
        "new connection's, waits). Unlike REINDEX INDEX, TABLE, SCHEMA or DATABASE there is no CONCURRENTLY form: "
        "PostgreSQL answers `cannot reindex system catalogs concurrently`. It is maintenance, not a schema change."
    ),
    instead="-- no REINDEX SYSTEM in migrations: run it by hand in a maintenance window",
    check=check,
    kinds=frozenset({"reindex"}),
)
