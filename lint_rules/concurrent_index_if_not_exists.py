from lint_rules import Rule, _alembic


def check(statement, ctx):
    if statement.kind == "create_index" and statement.concurrently and statement.if_not_exists:
        name = statement.actions[0].constraint
        check_valid = f"SELECT indisvalid FROM pg_index WHERE indexrelid = '{name}'::regclass"
        ctx.report(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS keeps an INVALID index {name} left by an earlier failed build: "
            "the migration passes and the index does nothing but slow writes",
            ctx.help(
                f"DROP INDEX CONCURRENTLY IF EXISTS {name};  -- then build it again without IF NOT EXISTS\n"
                f"-- (check: {check_valid})",
                lambda: _alembic.autocommit(_alembic.drop_index(name, statement.relation)
                                    + "  # then build it again without if_not_exists") + f"\n# (check: {check_valid})",
            ),
        )


RULE = Rule(
    id="concurrent-index-if-not-exists",
    severity="info",
    summary="CREATE INDEX CONCURRENTLY IF NOT EXISTS silently keeps an INVALID index from a failed run.",
    what="Points out `CREATE INDEX CONCURRENTLY IF NOT EXISTS`.",
    why=(
        "A CONCURRENTLY build that fails (deadlock, cancel, uniqueness violation) leaves an INVALID index "
        "behind. On the retry, IF NOT EXISTS sees the name and skips, so the broken index stays. The "
        "migrator executor detects INVALID indexes and rebuilds them; other runners do not."
    ),
    instead="DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
    check=check,
    kinds=frozenset({"create_index"}),
)
