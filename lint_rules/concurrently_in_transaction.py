from lint_rules import Rule, _alembic


def check(statement, ctx):
    if not statement.no_transaction or not ctx.migration.in_transaction or statement.kind == "alter_type":
        return
    where = "an explicit BEGIN" if ctx.migration.explicit_transaction else ctx.migration.origin
    ctx.report(
        f"{statement.no_transaction}, but here it runs inside {where}: it fails at run time",
        ctx.help("COMMIT the transaction before it." if ctx.migration.explicit_transaction else ctx.migration.escape,
                 f"Run it inside `{_alembic.AUTOCOMMIT}` (which commits what ran before it)."),
    )


RULE = Rule(
    id="concurrently-in-transaction",
    severity="error",
    summary="A statement that cannot run in a transaction block (CONCURRENTLY forms, VACUUM) runs in one.",
    what=(
        "Flags `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX ... CONCURRENTLY`, "
        "`DETACH PARTITION ... CONCURRENTLY`, VACUUM and the other statements PostgreSQL refuses "
        "inside a transaction block, when the migration runs them inside one."
    ),
    why=(
        "PostgreSQL rejects these with `cannot run inside a transaction block`. Migration runners "
        "(Alembic, goose, diesel, Flyway) wrap each file in a transaction by default, so the deploy "
        "fails half way. Mark the file `-- migrator:no-transaction` (the migrator executor then runs "
        "its statements one by one) and keep other statements out of it."
    ),
    instead="-- migrator:no-transaction\nCREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);",
    instead_alembic=_alembic.autocommit(
        'op.create_index("orders_user_id_idx", "orders", ["user_id"], postgresql_concurrently=True)'),
    check=check,
)
