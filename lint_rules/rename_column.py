from lint_rules import Rule
from lint_rules._breaking import check_breaking_action


def check(statement, ctx):
    check_breaking_action(
        statement, ctx, "rename_column", lambda s, a: f"renaming {s.relation}.{a.column} to {a.new_name}",
        "-- expand/contract: ALTER TABLE {table} ADD COLUMN {new} ...; write both, backfill, switch reads, then drop {column}",
    )


RULE = Rule(
    id="rename-column",
    severity="error",
    summary="Renaming a column breaks the running application.",
    what="Flags `RENAME [COLUMN]` on a table that existed before this migration.",
    why="During a deploy the old code keeps querying the old name and fails until every instance is replaced.",
    instead="ALTER TABLE users ADD COLUMN full_name text;\n-- dual-write, backfill, switch reads, then in a later release:\nALTER TABLE users DROP COLUMN name;",
    check=check,
    kinds=frozenset({"alter_table"}),
)
