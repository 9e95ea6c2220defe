from lint_rules import Rule


def check(statement, ctx):
    if statement.syntax_error:
        ctx.report(f"PostgreSQL refuses this statement: {statement.syntax_error}",
                   "Complete the statement: its other findings wait until it parses.")


RULE = Rule(
    id="syntax-error",
    severity="error",
    summary="The file could not be tokenized as SQL, or a statement is cut short.",
    what=(
        "Reported when a file has an unterminated string, quoted identifier, comment or dollar-quoted body, and on a "
        "statement with an unbalanced parenthesis or bracket or one that ends where no statement can (`... ON bar (`, "
        "`... WHERE`, a trailing comma), at the end of the file too."
    ),
    why="PostgreSQL refuses it; nothing after a tokenizing error can be analyzed, so nothing in the file can be called safe.",
    instead="-- close the string, identifier, comment, $$ body or parenthesis; finish the statement",
    check=check,
)
