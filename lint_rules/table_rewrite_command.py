from lint_rules import Rule, _alembic
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
                       online_form(ctx, None, statement.kind))
        return
    if statement.kind in ("vacuum", "cluster", "repack") and statement.rewrites and not statement.concurrently \
            and on_existing_table(statement, ctx):
        name = {"vacuum": "VACUUM FULL", "cluster": "CLUSTER", "repack": "REPACK"}[statement.kind]
        ctx.report(f"{name} rewrites all of {statement.relation} under ACCESS EXCLUSIVE",
                   online_form(ctx, statement.relation, statement.kind))


def online_form(ctx, relation, kind: str) -> str:
    """The online way to rewrite a table: REPACK (CONCURRENTLY) from PostgreSQL 19, pg_repack before (both run
    outside a transaction block, as plain VACUUM does)."""
    if ctx.pg_version >= 19 and relation is not None:
        order = " USING INDEX" if kind == "cluster" else ""
        repack = f"REPACK (CONCURRENTLY) {relation}{order}"
        swap = "online: ACCESS EXCLUSIVE only for the final swap"
        return ctx.help(f"{repack};  -- {swap}", lambda: f"{_alembic.outside_transaction(repack)}  # {swap}")
    if ctx.pg_version >= 19:
        return ctx.help("REPACK (CONCURRENTLY) one table at a time (it needs a table name).",
                        lambda: "Repack one table at a time (REPACK (CONCURRENTLY) needs a table name), each inside "
                        "autocommit_block():\n"
                        + _alembic.outside_transaction("REPACK (CONCURRENTLY) <table>"))
    vacuum = f"VACUUM (ANALYZE) {relation}" if relation is not None else "VACUUM (ANALYZE)"
    return ctx.help("Use pg_repack (online), or plain VACUUM, which takes no blocking lock.",
                    lambda: "Use pg_repack (online), or plain VACUUM, which takes no blocking lock (in autocommit_block(): "
                    "VACUUM may not run in a transaction block):\n" + _alembic.outside_transaction(vacuum))


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
    instead_alembic=(
        "# PostgreSQL 19: instead of VACUUM FULL events / CLUSTER events\n"
        + _alembic.outside_transaction("REPACK (CONCURRENTLY) events") + "\n"
        "# before 19: pg_repack --table=events (online)\n"
        + _alembic.outside_transaction("VACUUM (ANALYZE) events") + "  # instead of VACUUM FULL"
    ),
    check=check,
    kinds=frozenset({"alter_table", "vacuum", "cluster", "repack"}),
)
