from lint_rules import Rule
from lint_rules._helpers import existing_table_actions, on_existing_table

REWRITING_ACTIONS = {
    "set_logged": "SET LOGGED", "set_unlogged": "SET UNLOGGED", "set_tablespace": "SET TABLESPACE",
    "set_access_method": "SET ACCESS METHOD",
}


def check(statement, ctx):
    for action in existing_table_actions(statement, ctx, lambda a: a.kind in REWRITING_ACTIONS):
        ctx.report(f"ALTER TABLE ... {REWRITING_ACTIONS[action.kind]} rewrites all of {statement.relation} under ACCESS EXCLUSIVE",
                   "Rebuild online with pg_repack, or copy into a new table and swap.")
    if statement.kind in ("vacuum", "cluster", "repack") and statement.relation is None:
        name = {"vacuum": "VACUUM FULL", "cluster": "CLUSTER", "repack": "REPACK"}[statement.kind]
        which = "every clustered table" if statement.kind == "cluster" else "the tables"
        if statement.rewrites and not statement.concurrently:
            ctx.report(f"{name} without a table rewrites {which} of the database under ACCESS EXCLUSIVE",
                       online_form(None, statement.kind, ctx.pg_version))
        return
    if statement.kind in ("vacuum", "cluster", "repack") and statement.rewrites and not statement.concurrently \
            and on_existing_table(statement, ctx):
        name = {"vacuum": "VACUUM FULL", "cluster": "CLUSTER", "repack": "REPACK"}[statement.kind]
        ctx.report(f"{name} rewrites all of {statement.relation} under ACCESS EXCLUSIVE",
                   online_form(statement.relation, statement.kind, ctx.pg_version))


def online_form(relation, kind: str, pg_version: int) -> str:
    """The online way to rewrite a table: REPACK (CONCURRENTLY) from PostgreSQL 19, pg_repack before."""
    if pg_version >= 19 and relation is not None:
        order = " USING INDEX" if kind == "cluster" else ""
        return f"REPACK (CONCURRENTLY) {relation}{order};  -- online: ACCESS EXCLUSIVE only for the final swap"
    if pg_version >= 19:
        return "REPACK (CONCURRENTLY) one table at a time (it needs a table name)."
    return "Use pg_repack (online), or plain VACUUM, which takes no blocking lock."


RULE = Rule(
    id="table-rewrite-command",
    severity="error",
    summary="SET LOGGED/UNLOGGED, SET TABLESPACE, SET ACCESS METHOD, VACUUM FULL, CLUSTER and REPACK rewrite the table.",
    what="Flags the commands whose whole job is to rewrite a table, on tables that existed before this migration.",
    why=(
        "Each copies every row into new files while holding ACCESS EXCLUSIVE: no reads or writes until it ends. "
        "From PostgreSQL 19, REPACK (CONCURRENTLY) does the work of VACUUM FULL and CLUSTER under SHARE UPDATE "
        "EXCLUSIVE and takes ACCESS EXCLUSIVE only to swap the files at the end; it cannot run in a transaction block."
    ),
    instead=(
        "-- PostgreSQL 19: instead of VACUUM FULL events / CLUSTER events\nREPACK (CONCURRENTLY) events;\n"
        "-- before 19: pg_repack --table=events (online)\nVACUUM (ANALYZE) events;  -- instead of VACUUM FULL"
    ),
    check=check,
    kinds=frozenset({"alter_table", "vacuum", "cluster", "repack"}),
)
