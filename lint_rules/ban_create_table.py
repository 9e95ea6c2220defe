from lint_rules import Rule


def check(statement, ctx):
    if statement.kind in ("create_table", "create_table_as"):
        ctx.report(f"CREATE TABLE {statement.relation}: this project does not create tables in migrations on the primary",
                   "Ask the database owners; disable this policy rule if new tables are allowed.")


RULE = Rule(
    id="ban-create-table",
    severity="error",
    summary="Policy: no new tables in migrations.",
    what="Flags CREATE TABLE. Off by default; enable it with `--select` or `select` in the config.",
    why="Some teams provision tables through a separate review (capacity, ownership, partitioning) rather than in app migrations.",
    instead="-- request the table through your database review process",
    check=check,
    kinds=frozenset({"create_table", "create_table_as"}),
    default_enabled=False,
)
