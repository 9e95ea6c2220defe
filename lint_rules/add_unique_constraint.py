from lint_rules import Rule, _alembic
from lint_rules._unique_index import check_unique_index_constraint


def check(statement, ctx):
    check_unique_index_constraint(statement, ctx, "unique", "UNIQUE")


RULE = Rule(
    id="add-unique-constraint",
    severity="error",
    summary="ADD UNIQUE builds its index under ACCESS EXCLUSIVE.",
    what="Flags `ADD CONSTRAINT ... UNIQUE (cols)` and `ADD COLUMN ... UNIQUE` on a table that existed before this migration.",
    why=(
        "The unique index is built while the table is locked against reads and writes. UNIQUE "
        "constraints cannot be added NOT VALID. Build the unique index CONCURRENTLY first, then "
        "attach it as the constraint, which is instant."
    ),
    instead=(
        "-- migrator:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n"
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;"
    ),
    instead_alembic=(
        _alembic.autocommit('op.create_index("users_email_key", "users", ["email"], unique=True, postgresql_concurrently=True)')
        + '\nop.execute("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key")'
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"add_constraint", "add_column"}),
)
