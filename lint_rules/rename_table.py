from lint_rules import Rule
from lint_rules._breaking import check_breaking_action


def check(statement, ctx):
    check_breaking_action(
        statement, ctx, "rename_table", lambda s, a: f"renaming table {s.relation} to {a.new_name}",
        "-- expand/contract: ALTER TABLE {table} RENAME TO {new}; CREATE VIEW {table} AS SELECT * FROM {new}; drop the view later",
    )


RULE = Rule(
    id="rename-table",
    severity="error",
    summary="Renaming a table breaks the running application.",
    what="Flags `ALTER TABLE ... RENAME TO` on a table that existed before this migration.",
    why="The old code keeps using the old name during the deploy and fails.",
    instead="ALTER TABLE users RENAME TO accounts;\nCREATE VIEW users AS SELECT * FROM accounts;  -- drop it once no code uses it",
    check=check,
    kinds=frozenset({"alter_table"}),
)
