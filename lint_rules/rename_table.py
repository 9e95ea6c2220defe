from lint_rules import Rule, _alembic
from lint_rules._breaking import check_breaking_action


def check(statement, ctx):
    check_breaking_action(
        statement, ctx, "rename_table", lambda s, a: f"renaming table {s.relation} to {a.new_name}",
        "-- expand/contract: ALTER TABLE {table} RENAME TO {new}; CREATE VIEW {table} AS SELECT * FROM {new}; drop the view later",
        alembic,
    )


def alembic(table, action) -> str:
    """The rename, and a view under the old name for the code still running (the view's columns are the table's)."""
    renamed = f"{table.schema}.{action.new_name}" if table.schema else action.new_name
    return ("Expand/contract: rename it and leave a view under the old name for the code still running; drop the view "
            "in a later revision:\n"
            f"op.rename_table({_alembic.literal(table.name)}, {_alembic.literal(action.new_name)}{_alembic.schema(table)})\n"
            + _alembic.execute(f"CREATE VIEW {table} AS SELECT * FROM {renamed}"))


RULE = Rule(
    id="rename-table",
    severity="error",
    summary="Renaming a table breaks the running application.",
    what="Flags `ALTER TABLE ... RENAME TO` on a table that existed before this migration.",
    why="The old code keeps using the old name during the deploy and fails.",
    instead="ALTER TABLE users RENAME TO accounts;\nCREATE VIEW users AS SELECT * FROM accounts;  -- drop it once no code uses it",
    instead_alembic='op.rename_table("users", "accounts")\nop.execute("CREATE VIEW users AS SELECT * FROM accounts")  # drop it once no code uses it',
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"rename_table"}),
)
