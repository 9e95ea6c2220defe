from lint_rules import Rule
from lint_rules._unique_index import check_unique_index_constraint


def check(statement, ctx):
    check_unique_index_constraint(statement, ctx, "primary_key", "PRIMARY KEY")


RULE = Rule(
    id="add-primary-key",
    severity="error",
    summary="ADD PRIMARY KEY builds its index (and checks NOT NULL) under ACCESS EXCLUSIVE.",
    what="Flags `ADD PRIMARY KEY (cols)` and `ADD COLUMN ... PRIMARY KEY` on a table that existed before this migration.",
    why=(
        "The index is built, and nullable columns are scanned for NULLs, while the table is locked "
        "against reads and writes. PRIMARY KEY cannot be added NOT VALID. Build a unique index "
        "CONCURRENTLY, make the columns NOT NULL the safe way (see set-not-null), then attach the "
        "index as the primary key."
    ),
    instead=(
        "-- migrator:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY items_pkey ON items (id);\n"
        "ALTER TABLE items ADD CONSTRAINT items_pkey PRIMARY KEY USING INDEX items_pkey;"
    ),
    check=check,
    kinds=frozenset({"alter_table"}),
    action_kinds=frozenset({"add_constraint", "add_column"}),
)
