from lint_rules import Rule
from lint_rules._helpers import actions


def check(statement, ctx):
    for action in actions(statement, ctx, "drop_not_null"):
        ctx.report(
            f"{statement.relation}.{action.column} may hold NULL from now on, while the running code (and readers, "
            "reports, other services) may still assume it never does",
            "First ship code that handles NULL in this column everywhere it is read; then drop the constraint.",
        )


RULE = Rule(
    id="drop-not-null",
    severity="warning",
    summary="Policy: DROP NOT NULL on an existing column that code may rely on.",
    what="Flags `ALTER TABLE ... ALTER COLUMN ... DROP NOT NULL` on tables that existed before the migration. Off by default.",
    why=(
        "The statement itself is cheap (ACCESS EXCLUSIVE for a moment, no scan), but it is a contract change: as "
        "soon as one NULL is written, every reader that assumed NOT NULL (application code, an ORM's non-optional "
        "field, a downstream pipeline) can fail. Deploy the readers that handle NULL first."
    ),
    instead="-- release N: code reads users.nickname as optional\n-- release N+1:\nALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;",
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"drop_not_null"}),
    default_enabled=False,
)
