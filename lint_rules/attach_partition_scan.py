from lint_rules import Rule, _alembic
from lint_rules._helpers import existing_table_actions


def check(statement, ctx):
    for action in existing_table_actions(statement, ctx, lambda a: a.kind == "attach_partition"):
        partition = action.partition
        if partition is None or ctx.migration.is_new(partition):
            continue
        proven = any(table == partition.name and state.constraint_type == "check" and state.validated
                     for (table, _), state in ctx.migration.constraints.items())
        if not proven:
            bound = f"{partition.name}_bound"
            ctx.report(
                f"ATTACH PARTITION {partition} scans all of it under ACCESS EXCLUSIVE to check the bound, unless a "
                "validated CHECK constraint matching the bound exists (if one does, say so with an ignore)",
                ctx.help(
                    f"ALTER TABLE {partition} ADD CONSTRAINT {bound} CHECK (<the partition bound>) NOT VALID;\n"
                    f"ALTER TABLE {partition} VALIDATE CONSTRAINT {bound};  -- separate transaction\n"
                    f"ALTER TABLE {statement.relation} ATTACH PARTITION {partition} ...;\n"
                    f"ALTER TABLE {partition} DROP CONSTRAINT {bound};",
                    lambda: _alembic.create_check_constraint(bound, partition, "<the partition bound>") + "\n"
                    + _alembic.validate(partition, bound) + "\n" + _alembic.execute(statement.sql) + "\n"
                    + f"op.drop_constraint({_alembic.literal(bound)}, {_alembic.literal(partition.name)}, type_=\"check\""
                      f"{_alembic.schema(partition)})",
                ),
            )


RULE = Rule(
    id="attach-partition-scan",
    severity="error",
    summary="ATTACH PARTITION scans the partition under ACCESS EXCLUSIVE unless a validated matching CHECK exists.",
    what=(
        "Flags `ATTACH PARTITION` of an existing table unless this migration added and validated a CHECK "
        "constraint on it (migrator cannot compare a CHECK with the bound; assert a match with an ignore)."
    ),
    why=(
        "PostgreSQL verifies that every row of the new partition fits the bound, holding ACCESS EXCLUSIVE "
        "on the partition (and SHARE UPDATE EXCLUSIVE on the parent). A validated CHECK that implies the "
        "bound lets it skip that scan; the CHECK can be added NOT VALID and validated online."
    ),
    instead=(
        "ALTER TABLE events_2025 ADD CONSTRAINT bound CHECK (at >= '2025-01-01' AND at < '2026-01-01') NOT VALID;\n"
        "ALTER TABLE events_2025 VALIDATE CONSTRAINT bound;\n"
        "ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"attach_partition"}),
)
