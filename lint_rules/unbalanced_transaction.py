from lint_rules import Rule, _alembic


def check(statement, ctx):
    migration = ctx.migration
    if statement.alembic_block == "exit":  # the end of an autocommit_block(): Alembic's own BEGIN, no one else's
        if migration.open_begin is not None:
            ctx.report(f"BEGIN with no COMMIT before the end of the autocommit_block() of line {statement.line}: "
                       "the statements after it in the block run in one transaction instead of each on its own "
                       "(CONCURRENTLY and the like fail in it), holding their locks until the block ends (psycopg 3 "
                       "commits it there) or, with psycopg2, until the revision commits",
                       "op.execute(\"COMMIT\") before the block ends, or remove the op.execute of BEGIN: in the block "
                       "each statement commits on its own", statement=migration.open_begin)
    elif statement.kind == "begin":
        if migration.explicit_transaction:  # ignored with a warning: harmful only if a second COMMIT was meant for it
            ctx.notes().setdefault("nested_begins", []).append(statement.line)
        elif migration.in_transaction and not migration.implicit:  # in one query string BEGIN makes the block explicit
            # ignored with a warning, and the runner commits at the end: harmful only if a COMMIT follows
            ctx.notes()["wrapped_begin"] = statement
    elif statement.kind in ("commit", "rollback") and "wrapped_begin" in ctx.notes():
        ctx.report(f"BEGIN in a file the runner already wraps in a transaction: the {statement.kind.upper()} on line "
                   f"{statement.line} ends the runner's transaction, and what comes after runs outside any transaction",
                   ctx.help("Remove BEGIN/COMMIT, or mark the file -- migrator:no-transaction to manage transactions yourself.",
                            lambda: "Remove the op.execute of BEGIN and of its COMMIT: Alembic runs the revision in a "
                                    f"transaction; what must run outside it goes in `{_alembic.AUTOCOMMIT}`."),
                   statement=ctx.notes().pop("wrapped_begin"))
    elif statement.kind == "rollback" and migration.in_transaction and not migration.explicit_transaction:
        ctx.report("ROLLBACK in a migration that runs in one transaction undoes everything before it, and the "
                   "runner still records the migration as applied; what follows runs outside any transaction",
                   "Remove the ROLLBACK (a failing statement already rolls the migration back).")
    elif statement.kind in ("commit", "rollback") and not migration.in_transaction:
        nested = ctx.notes().get("nested_begins")
        if nested:
            ctx.report(f"{statement.kind.upper()} with no transaction open: the BEGIN on line {nested.pop()} ran inside "
                       "a transaction already open, so PostgreSQL ignored it, the COMMIT before this one ended the "
                       "outer transaction and the statements between ran outside any transaction",
                       ctx.help("PostgreSQL does not nest transactions: remove the inner BEGIN and this COMMIT (or use SAVEPOINT).",
                                "PostgreSQL does not nest transactions: remove the op.execute of the inner BEGIN and of "
                                "this COMMIT (or use a savepoint: `with op.get_bind().begin_nested():`)."))
        else:
            ctx.report(f"{statement.kind.upper()} with no transaction open", "Remove it, or add the missing BEGIN.",
                       severity="warning")


def finish(ctx):
    begin = ctx.migration.open_begin
    # a wrapping runner commits for it; a one-string runner leaves the explicit block open after the string
    if begin is not None and (not ctx.migration.wrapped or ctx.migration.implicit):
        ctx.report("BEGIN without COMMIT: the transaction stays open until the connection closes, holding its locks "
                   "(and is then rolled back)", "COMMIT at the end of the transaction.", statement=begin)


RULE = Rule(
    id="unbalanced-transaction",
    severity="error",
    summary="BEGIN without COMMIT (in an Alembic autocommit_block() too), a COMMIT for a nested BEGIN, BEGIN in a file the "
            "runner already wraps, or ROLLBACK of the migration.",
    what="Flags explicit transaction control that does not balance, or that fights the runner's own transaction.",
    why=(
        "A BEGIN without COMMIT leaves locks held until the session ends; a nested BEGIN is ignored, so when a "
        "COMMIT is written for it, that inner COMMIT ends the outer transaction early and the rest of the file runs "
        "unprotected (a lone nested BEGIN under one COMMIT is harmless and passes). A ROLLBACK "
        "silently undoes the migration's work while the runner records it as applied."
    ),
    instead="-- migrator:no-transaction\nBEGIN;\nALTER TABLE users ADD COLUMN plan text;\nCOMMIT;",
    check=check,
    kinds=frozenset({"begin", "commit", "rollback"}),
    finish=finish,
)
