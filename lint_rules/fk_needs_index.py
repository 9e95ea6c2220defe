from lint_rules import Rule, _alembic


def check(statement, ctx):
    notes = ctx.notes()
    indexes = notes.setdefault("indexes", [])
    foreign_keys = notes.setdefault("foreign_keys", [])
    table = statement.relation
    if table is None:
        return
    where = ctx.migration.resolve(table)  # (schema, name) as the search_path finds it now
    if statement.kind == "create_index":
        indexes.append((where, statement.actions[0].columns))
    new = statement.kind == "create_table" or ctx.migration.is_new(table)
    for action in statement.actions:
        for constraint in [action, *action.column_constraints]:
            if constraint.kind not in ("add_constraint", "table_constraint", "column_constraint"):
                continue
            if constraint.constraint_type in ("primary_key", "unique"):
                indexes.append((where, constraint.columns))
            elif constraint.constraint_type == "foreign_key":
                foreign_keys.append((statement, table, where, new, constraint.columns))


def _leads_with(index_columns, columns) -> bool:
    """An index serves the key's lookups when its leading columns are the key's, in any order (equality on each)."""
    return bool(index_columns) and len(index_columns) >= len(columns) and set(index_columns[: len(columns)]) == set(columns)


def finish(ctx):
    notes = ctx.notes()
    for statement, table, where, new, columns in notes.get("foreign_keys", []):
        if any(on == where and _leads_with(cols, columns) for on, cols in notes.get("indexes", [])):
            continue
        index = f"{table.name}_{'_'.join(columns)}_idx"
        # a table this migration created has no other users yet: a plain build, in the migration's transaction
        build = _alembic.create_index(index, table, columns, concurrently=not new)
        ctx.report(
            f"foreign key on {table}({', '.join(columns)}) has no index leading with those columns in this migration: "
            "deletes and key updates on the referenced table scan all of it (ignore this if an index already exists)",
            ctx.help(f"CREATE INDEX {'' if new else 'CONCURRENTLY '}{index} ON {table} ({', '.join(columns)});",
                     build and (build if new else _alembic.autocommit(build))),
            statement=statement,
        )


RULE = Rule(
    id="fk-needs-index",
    severity="warning",
    summary="A foreign key whose referencing columns have no index.",
    what=("Warns when a foreign key's columns are not the leading columns (in any order) of an index on the same "
          "table, schema included, created in the same migration."),
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
