from lint_rules import Rule, _alembic
from lint_rules._helpers import actions

VERBS = {"set_not_null": "SET NOT NULL on", "drop_column": "dropping"}


def check(statement, ctx):
    if not ctx.backfills:
        return
    table = statement.relation
    for kind, verb in VERBS.items():
        for action in actions(statement, ctx, kind):
            for backfill in ctx.backfills:
                if backfill.name in ctx.migration.gates:  # apply holds the migration until it is done, no row left
                    continue
                if backfill.table != table.name or (table.schema or "public") != backfill.schema:
                    continue
                uses = "writes" if action.column in backfill.writes else "reads" if action.column in backfill.reads else None
                if uses:
                    ctx.report(
                        f"{verb} {table}.{action.column} while backfill {backfill.shown} ({backfill.status}) still {uses} it",
                        ctx.help(f"-- migrator:requires-backfill {backfill.name}   ({WAITS})",
                                 lambda: f"{_alembic.directive(f'requires-backfill {backfill.name}')}   ({WAITS}; in upgrade())"),
                    )


WAITS = "apply then waits until it is done and no row is left"


RULE = Rule(
    id="unfinished-backfill",
    severity="warning",
    summary="SET NOT NULL on, or dropping, a column that an unfinished backfill writes or reads.",
    what=(
        "With `migrator lint --dsn URL`, flags `ALTER COLUMN ... SET NOT NULL` and `DROP COLUMN` on a column that a "
        "backfill recorded in that database, and not yet done, writes (its SET) or reads (its expressions, WHERE or key), "
        "unless the migration declares `-- migrator:requires-backfill NAME` for it (apply then waits for it)."
    ),
    why=(
        "SET NOT NULL fails, or worse succeeds on a default, while rows are still unfilled; dropping a column the "
        "backfill reads or writes makes every later batch fail. Expand/contract changes lose data exactly here."
    ),
    instead=(
        "-- migrator:requires-backfill fill-handle\n"
        "ALTER TABLE users ALTER COLUMN handle SET NOT NULL;  -- apply waits until fill-handle is done"
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"set_not_null", "drop_column"}),
)
