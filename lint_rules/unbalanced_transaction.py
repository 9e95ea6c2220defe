from lint_rules import Rule


def check(statement, ctx):
    migration = ctx.migration
    if statement.kind == "begin":
        if migration.explicit_transaction:
            ctx.report("BEGIN inside a transaction that is already open (PostgreSQL ignores it with a warning); the "
                       "first COMMIT then commits both", "Remove the nested BEGIN, or COMMIT before it.")
        elif migration.in_transaction:
            ctx.report("BEGIN in a file the runner already wraps in a transaction: the COMMIT that follows ends the "
                       "runner's transaction, and what comes after runs outside any transaction",
                       "Remove BEGIN/COMMIT, or mark the file -- migrator:no-transaction to manage transactions yourself.")
    elif statement.kind in ("commit", "rollback") and not migration.in_transaction:
        ctx.report(f"{statement.kind.upper()} with no transaction open", "Remove it, or add the missing BEGIN.",
                   severity="warning")


def finish(ctx):
    begin = ctx.migration.open_begin
    if begin is not None and not ctx.migration.wrapped:  # a wrapping runner commits for it
        ctx.report("BEGIN without COMMIT: the transaction stays open until the connection closes, holding its locks "
                   "(and is then rolled back)", "COMMIT at the end of the transaction.", statement=begin)


RULE = Rule(
    id="unbalanced-transaction",
    severity="error",
    summary="BEGIN without COMMIT, nested BEGIN, or BEGIN in a file the runner already wraps.",
    what="Flags explicit transaction control that does not balance, or that fights the runner's own transaction.",
    why=(
        "A BEGIN without COMMIT leaves locks held until the session ends; a nested BEGIN is ignored, so the "
        "inner COMMIT ends the outer transaction early and the rest of the file runs unprotected."
    ),
    instead="-- migrator:no-transaction\nBEGIN;\nALTER TABLE users ADD COLUMN plan text;\nCOMMIT;",
    check=check,
    kinds=frozenset({"begin", "commit", "rollback"}),
    finish=finish,
)
