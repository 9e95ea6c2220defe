from lint_rules import Rule, _alembic


def check(statement, ctx):
    if statement.unanalyzable and not statement.syntax_error:  # that is syntax-error's
        ctx.report(
            f"migrator cannot tell what this statement locks or rewrites: {statement.unanalyzable}",
            ctx.help("Review it by hand; if it is safe, say so with `-- migrator:ignore unanalyzable-statement -- <why>`.",
                     lambda: "Review it by hand; if it is safe, say so above the op with "
                     f"`{_alembic.directive('ignore unanalyzable-statement -- <why>')}`."),
        )


RULE = Rule(
    id="unanalyzable-statement",
    severity="error",
    summary="A statement migrator could not classify: never assumed safe.",
    what=(
        "Flags every statement the analyzer could not classify: unknown statement kinds, forms it "
        "does not parse, dynamic SQL (`EXECUTE`) inside DO blocks, DO blocks in other languages, "
        "calls of procedures the migration does not create. A function or procedure the migration "
        "creates in PL/pgSQL or SQL is read where it is called (SELECT f(), PERFORM f(), CALL p()): "
        "its statements are judged at the call, as a DO block's are; what its body runs that cannot "
        "be read (dynamic SQL) is not reported there, as the body of a function the migration did "
        "not create is not."
    ),
    why="A linter that passes what it did not understand gives false confidence exactly where it matters.",
    instead="-- migrator:ignore unanalyzable-statement -- reviewed: only touches a 10-row table\nCALL refresh_lookup();",
    check=check,
)
