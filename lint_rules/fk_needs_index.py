from lint_rules import Rule, _alembic


def check(statement, ctx):
    notes = ctx.notes()
    indexes = notes.setdefault("indexes", [])
    foreign_keys = notes.setdefault("foreign_keys", [])
    table = statement.relation
    if statement.kind == "create_index" and table is not None:
        indexes.append((table.name, statement.actions[0].columns))
    for action in statement.actions:
        for constraint in [action, *action.column_constraints]:
            if constraint.kind not in ("add_constraint", "table_constraint", "column_constraint"):
                continue
            if constraint.constraint_type in ("primary_key", "unique"):
                indexes.append((table.name, constraint.columns))
            elif constraint.constraint_type == "foreign_key":
                foreign_keys.append((statement, table, constraint.columns, constraint.references))


def finish(ctx):
    notes = ctx.notes()
    for statement, table, columns, references in notes.get("foreign_keys", []):
        covered = any(name == table.name and tuple(cols[: len(columns)]) == tuple(columns) for name, cols in notes.get("indexes", []))
        if not covered:
            index = f"{table.name}_{'_'.join(columns)}_idx"
            build = _alembic.create_index(index, table, columns)
            ctx.report(
                f"foreign key on {table}({', '.join(columns)}) has no index leading with those columns in this migration: "
                "deletes and key updates on the referenced table scan all of it (ignore this if an index already exists)",
                ctx.help(f"CREATE INDEX CONCURRENTLY {index} ON {table} ({', '.join(columns)});",
                         build and _alembic.autocommit(build)),
                statement=statement,
            )


RULE = Rule(
    id="fk-needs-index",
    severity="warning",
    summary="A foreign key whose referencing columns have no index.",
    what="Warns when a foreign key's columns are not the leading columns of an index created in the same migration.",
    why=(
        "PostgreSQL indexes the referenced side (it must be unique) but not the referencing side. Without "
        "that index every DELETE or key UPDATE on the parent scans the whole child table, holding locks."
    ),
    instead="CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);",
    instead_alembic=_alembic.autocommit(
        'op.create_index("orders_user_id_idx", "orders", ["user_id"], postgresql_concurrently=True)'),
    check=check,
    kinds=frozenset({"create_index", "alter_table", "create_table"}),
    finish=finish,
)
