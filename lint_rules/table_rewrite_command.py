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
    if statement.kind in ("vacuum", "cluster") and statement.rewrites and on_existing_table(statement, ctx):
        name = "VACUUM FULL" if statement.kind == "vacuum" else "CLUSTER"
        ctx.report(f"{name} rewrites all of {statement.relation} under ACCESS EXCLUSIVE",
                   "Use pg_repack (online), or plain VACUUM, which takes no blocking lock.")
    if statement.kind == "cluster" and statement.relation is None:
        ctx.report("CLUSTER without a table rewrites every clustered table of the database under ACCESS EXCLUSIVE",
                   "Use pg_repack per table.")


RULE = Rule(
    id="table-rewrite-command",
    severity="error",
    summary="SET LOGGED/UNLOGGED, SET TABLESPACE, SET ACCESS METHOD, VACUUM FULL and CLUSTER rewrite the table.",
    what="Flags the commands whose whole job is to rewrite a table, on tables that existed before this migration.",
    why="Each copies every row into new files while holding ACCESS EXCLUSIVE: no reads or writes until it ends.",
    instead="-- pg_repack --table=events --tablespace=fast   (online)\nVACUUM (ANALYZE) events;  -- instead of VACUUM FULL",
    check=check,
    kinds=frozenset({"alter_table", "vacuum", "cluster"}),
)
