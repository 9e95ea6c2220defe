from lint_rules import Rule, _alembic
from migrator.sqltext import constraint_name


def check(statement, ctx):
    created = ctx.notes().setdefault("created", set())
    domain = statement.relation
    if statement.kind == "create_domain":
        created.add(domain)
        return
    if domain in created:  # no table uses a domain this migration just created, unless it also added one
        return
    for action in statement.actions:
        if action.kind == "add_constraint" and not action.not_valid:
            adding = "NOT NULL" if action.constraint_type == "not_null" else "CHECK constraint"
        elif action.kind == "set_not_null":
            adding = "SET NOT NULL"
        else:
            continue
        name = action.constraint or constraint_name(domain.name, [], "check")
        condition = "VALUE IS NOT NULL" if adding != "CHECK constraint" else "..."
        ctx.report(
            f"ALTER DOMAIN {domain} {adding} checks every column of every table that uses {domain}, holding SHARE "
            "on each of those tables: their writes wait for the whole check",
            ctx.help(
                f"ALTER DOMAIN {domain} ADD CONSTRAINT {name} CHECK ({condition}) NOT VALID;\n"
                f"-- then, in a separate transaction (still SHARE on the tables before PostgreSQL 18):\n"
                f"ALTER DOMAIN {domain} VALIDATE CONSTRAINT {name};",
                lambda: _alembic.execute(f"ALTER DOMAIN {domain} ADD CONSTRAINT {name} CHECK ({condition}) NOT VALID") + "\n"
                + _alembic.validate(domain, name, "DOMAIN") + "  # still SHARE on the tables before PostgreSQL 18",
            ),
        )


RULE = Rule(
    id="alter-domain-constraint",
    severity="error",
    summary="ALTER DOMAIN ADD CONSTRAINT / SET NOT NULL checks every table that uses the domain.",
    what=(
        "Flags `ALTER DOMAIN ... ADD CONSTRAINT` without `NOT VALID` and `ALTER DOMAIN ... SET NOT NULL` on a "
        "domain this migration did not create."
    ),
    why=(
        "PostgreSQL verifies the new constraint against every stored value of every column of the domain, in "
        "every table, holding SHARE on each table: writes to all of them wait for the whole check. The tables "
        "are not named in the statement, so the cost is easy to miss."
    ),
    instead=(
        "ALTER DOMAIN email ADD CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%') NOT VALID;\n"
        "-- in a separate transaction:\nALTER DOMAIN email VALIDATE CONSTRAINT email_has_at;"
    ),
    instead_alembic=(
        _alembic.execute("ALTER DOMAIN email ADD CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%') NOT VALID") + "\n"
        + _alembic.validate("email", "email_has_at", "DOMAIN")
    ),
    check=check,
    kinds=frozenset({"alter_domain", "create_domain"}),
)
