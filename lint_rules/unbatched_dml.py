from lint_rules import Rule
from lint_rules._helpers import on_existing_table
from migrator.pgnames import is_system_catalog


def check(statement, ctx):
    if statement.kind in ("update", "delete") and on_existing_table(statement, ctx) and not is_system_catalog(
            statement.relation.schema, statement.relation.name):  # an extension script's catalog fix: a few rows
        ctx.report(
            f"{statement.kind.upper()} of existing table {statement.relation} in a migration touches every matching row in "
            "one transaction: long row locks, a burst of WAL, replicas falling behind",
            f"migrator backfill run <name> --table {statement.relation} --set \"<column> = <expression>\" --where \"<condition>\"",
        )


RULE = Rule(
    id="unbatched-dml",
    severity="warning",
    summary="UPDATE or DELETE of an existing table inside a migration: it belongs in `migrator backfill`.",
    what=("Flags UPDATE and DELETE statements on tables that existed before this migration, other than the system "
          "catalogs (an extension script's fix of its own pg_proc or pg_depend rows)."),
    why=(
        "On a big table one statement locks millions of rows for its whole duration, writes gigabytes of WAL "
        "at once and leaves replicas behind; a failure rolls all of it back. A backfill runs in small "
        "resumable batches that wait for replicas."
    ),
    instead="-- migrator backfill run fill-plan --table users --set \"plan = 'free'\" --where \"plan IS NULL\"",
    check=check,
    kinds=frozenset({"update", "delete"}),
)
