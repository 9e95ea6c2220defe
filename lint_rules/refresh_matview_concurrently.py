from lint_rules import Rule, _alembic
from lint_rules._helpers import on_existing_table


def check(statement, ctx):
    if statement.kind == "refresh_materialized_view" and not statement.concurrently and on_existing_table(statement, ctx):
        refresh = f"REFRESH MATERIALIZED VIEW CONCURRENTLY {statement.relation}"
        ctx.report(
            f"REFRESH MATERIALIZED VIEW {statement.relation} holds ACCESS EXCLUSIVE while it recomputes: readers wait",
            ctx.help(f"{refresh};  -- needs a unique index on the view",
                     lambda: f"{_alembic.execute(refresh)}  # needs a unique index on the view; runs in the revision's transaction"),
        )


RULE = Rule(
    id="refresh-matview-concurrently",
    severity="error",
    summary="REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks readers for the whole refresh.",
    what="Flags a non-concurrent refresh of a materialized view that existed before this migration.",
    why="A plain refresh takes ACCESS EXCLUSIVE: every SELECT on the view waits until the query behind it finishes.",
    instead="CREATE UNIQUE INDEX CONCURRENTLY ON daily_totals (day);\nREFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals;",
    instead_alembic=(_alembic.autocommit('op.create_index("daily_totals_day", "daily_totals", ["day"], unique=True, '
                                         'postgresql_concurrently=True)')
                     + "\n" + _alembic.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals")),
    check=check,
    kinds=frozenset({"refresh_materialized_view"}),
)
