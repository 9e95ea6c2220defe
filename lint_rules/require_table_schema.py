import re

from lint_rules import Rule

TEMPORARY = re.compile(r"\s*CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?TEMP(?:ORARY)?\b", re.IGNORECASE)


def check(statement, ctx):
    relations = [t.relation for t in statement.locks if t.kind == "table"]
    relations += [action.references for action in statement.actions if action.references is not None]
    if statement.kind in ("create_table", "create_table_as") and statement.relation is not None and not TEMPORARY.match(statement.sql):
        relations.append(statement.relation)
    names = list(dict.fromkeys(str(r) for r in relations if r.schema is None))
    if names:
        ctx.report(
            f"table {', '.join(names)} is not schema-qualified: which table it means depends on the search_path "
            "of the session that runs the migration",
            ctx.help(f"Name the schema: {', '.join('public.' + name for name in names)} (or the schema it lives in).",
                     lambda: f"Name the schema: schema=\"public\" on the op (or the schema it lives in), "
                     f"{', '.join('public.' + name for name in names)} in SQL."),
        )


RULE = Rule(
    id="require-table-schema",
    severity="warning",
    summary="Policy: a table named without its schema.",
    what="Flags statements that name a table without a schema (`users` instead of `public.users`). Off by default.",
    why=(
        "An unqualified name is resolved through the search_path of whoever runs the migration: a role with its "
        "own schema first in the path, a pooler session left with another path, or a tenant schema turns the same "
        "migration into changes on a different table, or a new table created in the wrong schema."
    ),
    instead="ALTER TABLE public.users ADD COLUMN nickname text;",
    check=check,
    default_enabled=False,
)
