from lint_rules import Rule, _alembic

GUARDED_DROPS = {
    "drop_table", "drop_index", "drop_type", "drop_view", "drop_function", "drop_procedure", "drop_sequence",
    "drop_trigger", "drop_schema", "drop_extension", "drop_domain", "drop_policy", "drop_rule",
}
RERUN = "if the migration fails after it, running it again fails here"


def check(statement, ctx):
    dropped = ctx.notes().setdefault("dropped", set())  # names a DROP ... IF EXISTS cleared earlier in the file
    if statement.kind == "drop_index" and statement.if_exists:
        dropped.update(action.constraint for action in statement.actions)
    dropped.update(a.constraint for a in statement.actions if a.kind == "drop_constraint" and a.guarded)
    if not ctx.migration.in_transaction:  # a failed transaction leaves nothing behind: a re-run starts clean
        for message, sql, alembic in _not_rerunnable(statement, dropped):
            ctx.report(message, ctx.help(sql, alembic))


def _not_rerunnable(statement, dropped):
    """(message, help in SQL, help as a revision writes it) for each part of statement a re-run trips on."""
    kind, name = statement.kind, statement.relation
    if kind == "create_index" and statement.actions[0].constraint is None:
        # PostgreSQL names it itself, a new name each time (t_a_idx, then t_a_idx1): a re-run succeeds, twice the index
        yield ("CREATE INDEX without a name cannot be re-run: a second run builds a second, identical index under a new "
               "name (and IF NOT EXISTS needs a name)",
               f"CREATE INDEX {'CONCURRENTLY ' if statement.concurrently else ''}IF NOT EXISTS <name> ON {name} ...",
               "Name the index in its op.execute, with CREATE INDEX IF NOT EXISTS <name>.")
    elif kind == "create_index" and statement.concurrently:
        index = statement.actions[0].constraint
        if index in dropped:
            dropped.discard(index)  # that DROP ... IF EXISTS clears the way for this one build, not a second
        elif index:
            yield (f"CREATE INDEX CONCURRENTLY {index} cannot be re-run: a failed build leaves an INVALID index {index}, "
                   "on which a re-run fails" + (", or which IF NOT EXISTS keeps" if statement.if_not_exists else ""),
                   f"DROP INDEX CONCURRENTLY IF EXISTS {index};  -- just before it; "
                   "then CREATE INDEX CONCURRENTLY without IF NOT EXISTS",
                   f"{_alembic.drop_index(index, name)}  # just before it, in its autocommit_block(); then "
                   "op.create_index(..., postgresql_concurrently=True) without if_not_exists")
    elif kind == "create_table" and name is not None and name.schema == "pg_temp" and any(
            a.kind == "on_commit" and a.value == "drop" for a in statement.actions):
        return  # a temporary table gone when its statement commits: nothing is left for a re-run to trip on
    elif kind in ("create_table", "create_index") and not statement.if_not_exists:
        what = "TABLE" if kind == "create_table" else "INDEX"
        shown = name if kind == "create_table" else statement.actions[0].constraint
        yield (f"CREATE {what} {shown} without IF NOT EXISTS: {RERUN}", f"CREATE {what} IF NOT EXISTS {shown} ...",
               f"Pass if_not_exists=True to this op.create_{what.lower()}(...), or write CREATE {what} IF NOT EXISTS in "
               "its op.execute.")
    elif kind in GUARDED_DROPS and not statement.if_exists:
        what = kind.removeprefix("drop_").upper()
        yield (f"DROP {what} without IF EXISTS: {RERUN}", f"DROP {what} IF EXISTS ...",
               f"Pass if_exists=True to this op.drop_{what.lower()}(...), or write DROP {what} IF EXISTS in its op.execute."
               if kind in ("drop_table", "drop_index") else f"Write DROP {what} IF EXISTS in its op.execute.")
    elif kind == "alter_type":
        for action in statement.actions:
            if action.kind == "add_enum_value" and not statement.if_not_exists:
                sql = f"ALTER TYPE {name} ADD VALUE IF NOT EXISTS {action.value!r}"
                yield f"ADD VALUE {action.value!r} without IF NOT EXISTS: {RERUN}", f"{sql};", _alembic.execute(sql)
    elif kind == "alter_table":
        for action in statement.actions:
            yield from _not_rerunnable_action(name, action, dropped)


def _not_rerunnable_action(table, action, dropped):
    if action.kind == "add_column" and not action.guarded:
        yield (f"ADD COLUMN {action.column} without IF NOT EXISTS: {RERUN}",
               f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {action.column} ...;",
               "Pass if_not_exists=True to this op.add_column(...) (Alembic 1.16+).")
    elif action.kind == "drop_column" and not action.guarded:
        yield (f"DROP COLUMN {action.column} without IF EXISTS: {RERUN}",
               f"ALTER TABLE {table} DROP COLUMN IF EXISTS {action.column};",
               f"op.drop_column({_alembic.literal(table.name)}, {_alembic.literal(action.column)}{_alembic.schema(table)}, "
               "if_exists=True)  # Alembic 1.16+")
    elif action.kind == "drop_constraint" and not action.guarded:
        yield (f"DROP CONSTRAINT {action.constraint} without IF EXISTS: {RERUN}",
               f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {action.constraint};",
               f"{_drop_constraint(table, action.constraint)}  # Alembic 1.16+")
    elif action.kind == "add_constraint" and action.constraint in dropped:
        dropped.discard(action.constraint)  # the DROP ... IF EXISTS before it serves this ADD, not a second one
    elif action.kind == "add_constraint":
        name = action.constraint or "<name>"
        yield (f"ADD CONSTRAINT {name} has no IF NOT EXISTS form: {RERUN}",
               f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};  -- just before it",
               f"{_drop_constraint(table, name)}  # just before it (Alembic 1.16+)")


def _drop_constraint(table, name: str) -> str:
    return f"op.drop_constraint({_alembic.literal(name)}, {_alembic.literal(table.name)}{_alembic.schema(table)}, if_exists=True)"


RULE = Rule(
    id="prefer-robust-stmts",
    severity="warning",
    summary="Policy: a statement outside a transaction that fails when a half-applied migration is re-run.",
    what=(
        "Flags, in the parts of a migration that run outside a transaction, CREATE and ADD without IF NOT EXISTS, "
        "DROP without IF EXISTS, and ADD CONSTRAINT or CREATE INDEX CONCURRENTLY not preceded by a DROP ... IF "
        "EXISTS of the same name (one DROP serves one ADD). A temporary table ON COMMIT DROP passes. Off by default."
    ),
    why=(
        "Outside a transaction each statement commits on its own, so a migration that fails half way leaves its "
        "first half applied, and the fix is to run it again: every statement must then succeed on a database where "
        "it already ran. For CREATE INDEX CONCURRENTLY, IF NOT EXISTS is not the fix (see "
        "concurrent-index-if-not-exists): a failed build leaves an INVALID index under the name, which IF NOT EXISTS "
        "keeps; drop it first instead."
    ),
    instead=(
        "-- migrator:no-transaction\nALTER TABLE users ADD COLUMN IF NOT EXISTS nickname text;\n"
        "DROP INDEX CONCURRENTLY IF EXISTS users_nickname_idx;\n"
        "CREATE INDEX CONCURRENTLY users_nickname_idx ON users (nickname);"
    ),
    check=check,
    default_enabled=False,
)
