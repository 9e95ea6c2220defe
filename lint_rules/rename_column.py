from lint_rules import Rule, _alembic
from lint_rules._breaking import check_breaking_action


def check(statement, ctx):
    check_breaking_action(
        statement, ctx, "rename_column", lambda s, a: f"renaming {s.relation}.{a.column} to {a.new_name}",
        "-- expand/contract: ALTER TABLE {table} ADD COLUMN {new} ...; write both, backfill, switch reads, then drop {column}",
        lambda table, action: (
            f"Expand/contract: add {action.new_name} with op.add_column({_alembic.literal(table.name)}, "
            f"sa.Column({_alembic.literal(action.new_name)}, <its type>){_alembic.schema(table)}), write both, backfill, "
            f"switch reads, then op.drop_column({_alembic.literal(table.name)}, {_alembic.literal(action.column)}"
            f"{_alembic.schema(table)}) in a later revision."),
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
    action_kinds=frozenset({"rename_column"}),
)
