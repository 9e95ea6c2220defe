from lint_rules import Rule


def check(statement, ctx):
    ctx.report(
        "DROP DATABASE in a migration destroys a whole database and every connection to it must be gone first: "
        "no migration should do that, and it cannot be undone",
        "Drop databases by hand, outside the migration history, after a backup.",
    )


RULE = Rule(
    id="drop-database",
    severity="error",
    summary="DROP DATABASE in a migration.",
    what="Flags `DROP DATABASE` (with or without IF EXISTS or FORCE).",
    why=(
        "A migration runs against every environment, production included. DROP DATABASE removes all of its data "
        "at once and cannot be rolled back (it cannot even run inside a transaction block); copied from a local "
        "setup script, it turns a deploy into a restore from backup."
    ),
    instead="-- no DROP DATABASE in migrations: do it by hand, after a backup",
    check=check,
    kinds=frozenset({"drop_database"}),
)
