from lint_rules import Rule

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
        for message, help in _not_rerunnable(statement, dropped):
            ctx.report(message, help)


def _not_rerunnable(statement, dropped):
    kind, name = statement.kind, statement.relation
    if kind == "create_index" and statement.concurrently:
        index = statement.actions[0].constraint
        if index in dropped:
            dropped.discard(index)  # that DROP ... IF EXISTS clears the way for this one build, not a second
        elif index:
            yield (f"CREATE INDEX CONCURRENTLY {index} cannot be re-run: a failed build leaves an INVALID index {index}, "
                   "on which a re-run fails" + (", or which IF NOT EXISTS keeps" if statement.if_not_exists else ""),
                   f"DROP INDEX CONCURRENTLY IF EXISTS {index};  -- just before it; "
                   "then CREATE INDEX CONCURRENTLY without IF NOT EXISTS")
    elif kind == "create_table" and name is not None and name.schema == "pg_temp" and any(
            a.kind == "on_commit" and a.value == "drop" for a in statement.actions):
        return  # a temporary table gone when its statement commits: nothing is left for a re-run to trip on
    elif kind in ("create_table", "create_index") and not statement.if_not_exists:
        what = "TABLE" if kind == "create_table" else "INDEX"
        shown = name if kind == "create_table" else statement.actions[0].constraint
        yield f"CREATE {what} {shown} without IF NOT EXISTS: {RERUN}", f"CREATE {what} IF NOT EXISTS {shown} ..."
    elif kind in GUARDED_DROPS and not statement.if_exists:
        what = kind.removeprefix("drop_").upper()
        yield f"DROP {what} without IF EXISTS: {RERUN}", f"DROP {what} IF EXISTS ..."
    elif kind == "alter_type":
        for action in statement.actions:
            if action.kind == "add_enum_value" and not statement.if_not_exists:
                yield (f"ADD VALUE {action.value!r} without IF NOT EXISTS: {RERUN}",
                       f"ALTER TYPE {name} ADD VALUE IF NOT EXISTS {action.value!r};")
    elif kind == "alter_table":
        for action in statement.actions:
            yield from _not_rerunnable_action(name, action, dropped)


def _not_rerunnable_action(table, action, dropped):
    if action.kind == "add_column" and not action.guarded:
        yield (f"ADD COLUMN {action.column} without IF NOT EXISTS: {RERUN}",
               f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {action.column} ...;")
    elif action.kind == "drop_column" and not action.guarded:
        yield (f"DROP COLUMN {action.column} without IF EXISTS: {RERUN}",
               f"ALTER TABLE {table} DROP COLUMN IF EXISTS {action.column};")
    elif action.kind == "drop_constraint" and not action.guarded:
        yield (f"DROP CONSTRAINT {action.constraint} without IF EXISTS: {RERUN}",
               f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {action.constraint};")
    elif action.kind == "add_constraint" and action.constraint in dropped:
        dropped.discard(action.constraint)  # the DROP ... IF EXISTS before it serves this ADD, not a second one
    elif action.kind == "add_constraint":
        name = action.constraint or "<name>"
        yield (f"ADD CONSTRAINT {name} has no IF NOT EXISTS form: {RERUN}",
               f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};  -- just before it")


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
