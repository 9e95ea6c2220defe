"""What a migration has done so far, statement by statement: the state rules look at."""

from __future__ import annotations

from dataclasses import dataclass, field

from migrator.analyzer import Lock, Statement, touches_no_table, volatile_functions
from migrator.pgtypes import PgType, type_change_rewrites
from migrator.sqltext import Relation, constraint_name

TIMEOUT_SETTINGS = ("lock_timeout", "statement_timeout")


_VOLATILITY_ORDER = ("immutable", "stable", "volatile")
# statements that cannot put rows into a table: a table a TRUNCATE emptied stays empty through them
_ADDS_NO_ROWS = frozenset({"truncate", "alter_table", "create_index", "drop_index", "comment", "grant", "revoke", "set",
                           "create_table", "create_function", "drop_function", "create_view", "drop_view", "psql"})


@dataclass
class TimeoutInForce:
    milliseconds: int
    line: int
    local: bool


@dataclass
class ConstraintState:
    constraint_type: str | None
    not_null_column: str | None
    validated: bool
    added_in_transaction: int | None  # None: not added in this migration


@dataclass
class HeldLock:
    relation: Relation
    lock: Lock
    line: int
    kind: str = "table"  # or index, sequence, ...: LockTarget.kind


@dataclass
class Savepoint:
    name: str
    line: int
    held: int  # how many of held_locks were taken before it
    local_timeouts: dict[str, TimeoutInForce]  # the SET LOCALs in force when it was set


@dataclass
class MigrationContext:
    """Tracks tables created, constraints added and validated, enum values, transactions and timeouts.

    ``wrapped`` is the transaction model: True when the runner wraps the whole file in one
    transaction (Alembic, goose, diesel, Flyway), False when statements run one by one in
    autocommit (``-- migrator:no-transaction``). Explicit BEGIN/COMMIT are honoured either way.
    ``implicit``: the wrapping transaction is the implicit block PostgreSQL makes of a
    multi-statement query string; a COMMIT inside it only starts the next such block.
    ``origin`` names who wraps the file and ``escape`` how to get out of it, for findings; ``runner_sets_timeouts`` is true when the
    runner (`migrator apply`) sets lock_timeout and statement_timeout itself. ``alembic``: the migration is an
    Alembic revision rendered to SQL, so findings give their help as the revision's `op.*` calls.
    """

    pg_version: int = 15
    wrapped: bool = True
    implicit: bool = False
    origin: str = "the transaction the runner wraps this file in"
    escape: str = "Move it to its own migration whose first line is `-- migrator:no-transaction`."
    runner_sets_timeouts: bool = False
    gates: frozenset[str] = frozenset()  # backfills apply waits for (done, no row left) before running it: requires-backfill
    alembic: bool = False
    in_transaction: bool = False
    explicit_transaction: bool = False
    transaction_id: int = 0
    search_path: list[str] = field(default_factory=lambda: ["public"])
    created_tables: set[tuple[str, str]] = field(default_factory=set)  # (schema, name), as resolved when created
    # (schema, name): columns; the indexes of constraints (PRIMARY KEY, UNIQUE, EXCLUDE) too, by PostgreSQL's names
    created_indexes: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    # (schema, name): CREATE SEQUENCE's, and those serial and identity columns own (named as PostgreSQL names them)
    created_sequences: set[tuple[str, str]] = field(default_factory=set)
    # created here, and rows may have been written to them since (a function call, a statement not analyzed: to any of them)
    filled_tables: set[tuple[str, str]] = field(default_factory=set)
    dropped_tables: dict[tuple[str, str], int] = field(default_factory=dict)  # by DROP TABLE here -> transaction_id
    not_null_columns: set[tuple[str, str, str]] = field(default_factory=set)  # (schema, table, column) declared NOT NULL
    column_types: dict[tuple[str, str, str], PgType] = field(default_factory=dict)
    constraints: dict[tuple[str, str], ConstraintState] = field(default_factory=dict)
    validated_not_null: set[tuple[str, str]] = field(default_factory=set)
    enum_values_added: dict[tuple[str, str], int] = field(default_factory=dict)
    session_timeouts: dict[str, TimeoutInForce] = field(default_factory=dict)
    local_timeouts: dict[str, TimeoutInForce] = field(default_factory=dict)
    held_locks: list[HeldLock] = field(default_factory=list)
    # truncated in this transaction, which still holds the lock, and written to by nothing since: -> transaction_id
    emptied_tables: dict[tuple[str, str], int] = field(default_factory=dict)
    # function name -> volatility declared by CREATE FUNCTION here (of its overloads, the most volatile)
    function_volatility: dict[str, str] = field(default_factory=dict)
    savepoints: list[Savepoint] = field(default_factory=list)  # of the transaction in progress, oldest first
    open_begin: Statement | None = None  # the explicit BEGIN of the transaction in progress

    def __post_init__(self) -> None:
        if self.wrapped:
            self.in_transaction = True
            self.transaction_id = 1

    # -- questions rules ask ---------------------------------------------------------------
    def is_new(self, relation: Relation | None, kind: str = "table") -> bool:
        """Was this relation created earlier in this migration (so nobody else uses it yet)? A temporary one
        always was: no other session sees it, and a migration's session has none before it runs."""
        return relation is not None and (relation.schema == "pg_temp" or self._created_here(relation, kind))

    def _created_here(self, relation: Relation, kind: str = "table") -> bool:
        created = self.created_indexes if kind == "index" else self.created_sequences if kind == "sequence" else self.created_tables
        return bool(created) and self.resolve(relation, created) in created

    def is_dropped(self, relation: Relation | None) -> bool:
        """Was this table dropped earlier in this migration (so no query will read it again)?"""
        return relation is not None and self.resolve(relation) in self.dropped_tables

    def is_empty_new(self, relation: Relation | None) -> bool:
        """Was this table created earlier in this migration, with no statement since that may have written rows to
        it (reading or rewriting it then costs nothing)?"""
        return relation is not None and self._created_here(relation) and self.resolve(relation) not in self.filled_tables

    def is_emptied(self, relation: Relation | None) -> bool:
        """Was this table truncated earlier in the transaction in progress, with nothing since that may add rows?"""
        return (relation is not None and self.in_transaction
                and self.emptied_tables.get(self.resolve(relation)) == self.transaction_id)

    def resolve(self, relation: Relation, created: set[tuple[str, str]] | None = None) -> tuple[str, str]:
        """(schema, name) of a relation as PostgreSQL finds it: temporary tables first, then the search_path.

        A bare name matches a relation this migration created in an earlier schema of the path;
        otherwise it is taken to be in the first schema of the path (where CREATE puts it)."""
        if relation.schema is not None:
            return relation.schema, relation.name
        created = self.created_tables if created is None else created
        if created:  # most migrations create nothing: no lookup then
            for schema in ("pg_temp", *self.search_path):
                if (schema, relation.name) in created:
                    return schema, relation.name
        return (self.search_path[0] if self.search_path else "public"), relation.name

    def savepoint(self, name: str) -> Savepoint | None:
        """The latest savepoint of that name in the transaction in progress (names are case-folded as written)."""
        return next((point for point in reversed(self.savepoints) if point.name == name), None)

    def timeout(self, name: str) -> TimeoutInForce | None:
        """The lock_timeout / statement_timeout in force for the next statement, if one was set."""
        if self.in_transaction and name in self.local_timeouts:
            return self.local_timeouts[name]
        return self.session_timeouts.get(name)

    def volatile_calls(self, expression) -> list[str]:
        """The calls in an expression to volatile functions or to unknown ones, less those this migration
        created IMMUTABLE or STABLE."""
        return [name for name in volatile_functions(expression)
                if self.function_volatility.get(name, "volatile") == "volatile"]

    def column_type(self, table: Relation, column: str) -> PgType | None:
        """The column's type, when this migration declared or changed it."""
        return self.column_types.get((*self.resolve(table), column))

    # -- moving forward ------------------------------------------------------------------
    def enter(self, statement: Statement) -> None:
        """Called before rules look at a statement: autocommit gives each its own transaction."""
        if statement.unanalyzable or statement.kind not in _ADDS_NO_ROWS:
            self.emptied_tables.clear()
        elif statement.kind == "truncate" and self.in_transaction:
            for target in statement.locks:
                self.emptied_tables[self.resolve(target.relation)] = self.transaction_id
        if statement.unanalyzable:
            self.filled_tables |= self.created_tables
        if not self.in_transaction and statement.kind != "begin":
            self.transaction_id += 1
            self.local_timeouts.clear()
            self.held_locks.clear()
            self.savepoints.clear()
        if statement.kind == "alter_table" and statement.relation is not None:
            self._decide_from_known_columns(statement)

    def _decide_from_known_columns(self, statement: Statement) -> None:
        """Facts that depend on what the migration did before: a type change from a known type rewrites or
        not, per PostgreSQL; SET NOT NULL on a column a validated CHECK (col IS NOT NULL) covers skips its
        scan, and so does PRIMARY KEY USING INDEX on columns declared NOT NULL."""
        schema, table = self.resolve(statement.relation)
        for action in statement.actions:
            if (action.kind == "add_column" and action.rewrites and self.pg_version >= 11 and action.default is not None
                    and action.generated not in ("serial", "identity", "stored") and not self.volatile_calls(action.default)):
                action.rewrites = False  # its DEFAULT calls only functions declared non-volatile earlier
            elif action.kind == "alter_column_type" and action.rewrites is None:
                old = self.column_type(statement.relation, action.column)
                if old is not None:
                    action.rewrites = type_change_rewrites(old, action.data_type, action.using_casts, self.pg_version)
            elif action.kind == "set_not_null" and self.pg_version >= 12 and (table, action.column) in self.validated_not_null:
                action.scans = False
            elif action.kind == "set_not_null" and (schema, table, action.column) in self.not_null_columns:
                action.scans = False  # NOT NULL already: PostgreSQL has nothing to check
            elif action.kind == "add_constraint" and action.constraint_type == "primary_key" and action.using_index:
                # the key makes its columns NOT NULL: a scan, unless the migration declared them so
                columns = self.created_indexes.get((schema, action.using_index))
                if columns and all((schema, table, column) in self.not_null_columns for column in columns):
                    action.scans = False
        statement.rewrites = any(action.rewrites is not False for action in statement.actions)
        statement.scans = any(action.scans for action in statement.actions)

    def apply(self, statement: Statement) -> None:
        """Record what a statement did, after the rules have looked at it."""
        kind = statement.kind
        if statement.alembic_block == "exit":  # Alembic's transaction for the rest of the revision, as at its start
            self.transaction_id += 1
            self.in_transaction, self.explicit_transaction, self.open_begin = True, False, None
            self.local_timeouts.clear()
            self.held_locks.clear()
            self.savepoints.clear()
            return
        if kind == "begin":
            if not self.in_transaction:
                self.transaction_id += 1
                self.held_locks.clear()
                self.savepoints.clear()
            self.in_transaction = True
            self.explicit_transaction = True
            self.open_begin = self.open_begin or statement
            return
        if kind in ("commit", "rollback"):
            if kind == "rollback":  # the tables it dropped are back
                self.dropped_tables = {key: at for key, at in self.dropped_tables.items() if at != self.transaction_id}
            self.in_transaction = self.implicit or statement.chains
            self.transaction_id += self.implicit or statement.chains
            self.explicit_transaction = statement.chains
            self.open_begin = statement if statement.chains else None
            self.local_timeouts.clear()
            self.held_locks.clear()
            self.savepoints.clear()
            return
        if kind in ("savepoint", "release_savepoint", "rollback_to_savepoint") and statement.actions:
            self._apply_savepoint(kind, statement.actions[0].value, statement.line)
            return
        for setting in statement.settings:
            self._apply_setting(setting, statement.line)
        if self.in_transaction:
            for target in statement.locks:
                self.held_locks.append(HeldLock(target.relation, target.lock, statement.line, target.kind))
        table = statement.relation
        if kind in ("select", "call", "execute") and self.created_tables - self.filled_tables:
            # a function it calls may write to any table there is; SELECT 1 or a catalog function writes to none
            if not (kind == "select" and touches_no_table(statement.sql)):
                self.filled_tables |= self.created_tables
        elif kind in ("insert", "update", "merge", "copy") and table is not None:
            self.filled_tables.add(self.resolve(table))
        if kind == "create_function" and table is not None:
            schema = self.resolve(table, set())[0]  # a call names it with its schema, or bare when on the path
            names = [f"{schema}.{table.name}"] + ([table.name] if schema in self.search_path else [])
            for action in (action for action in statement.actions if action.kind == "function_volatility"):
                for name in names:
                    known = self.function_volatility.get(name, action.value)
                    self.function_volatility[name] = max(known, action.value, key=_VOLATILITY_ORDER.index)
        if kind == "drop_table":
            self.dropped_tables.update((self.resolve(target.relation), self.transaction_id) for target in statement.locks)
        if kind in ("create_table", "create_table_as", "create_materialized_view") and table is not None:
            key = self.resolve(table, set())
            self.created_tables.add(key)
            if kind != "create_table":  # filled by its query (counted so even WITH NO DATA)
                self.filled_tables.add(key)
            for action in statement.actions:
                if action.data_type is not None and action.column:
                    self.column_types[(*key, action.column)] = action.data_type
                if action.not_null and action.column:
                    self.not_null_columns.add((*key, action.column))
        elif kind == "create_index" and table is not None:
            action = statement.actions[0]
            self._index_created(table, action.constraint, action.columns, "idx")
        if kind in ("create_table", "alter_table") and table is not None:
            self._constraint_indexes_created(table, statement.actions)
            self.created_sequences |= {(self.resolve(table)[0], constraint_name(table.name, (action.column,), "seq"))
                                       for action in statement.actions
                                       if action.generated in ("serial", "identity") or action.kind == "add_identity"}
        elif kind == "create_sequence" and table is not None:
            self.created_sequences.add(self.resolve(table, set()))
        if kind == "alter_table" and table is not None:
            for action in statement.actions:
                self._apply_table_action(table, action)
        elif kind == "alter_type" and table is not None:
            for action in statement.actions:
                if action.kind == "add_enum_value" and action.value is not None:
                    self.enum_values_added[(table.name, action.value)] = self.transaction_id

    def _apply_savepoint(self, kind: str, name: str, line: int) -> None:
        """SAVEPOINT marks the transaction; RELEASE forgets the mark (and later ones), keeping what was done since;
        ROLLBACK TO undoes the locks and SET LOCALs taken since the mark (PostgreSQL releases them), which stays."""
        if kind == "savepoint":
            if self.in_transaction:
                self.savepoints.append(Savepoint(name, line, len(self.held_locks), dict(self.local_timeouts)))
            return
        point = self.savepoint(name)
        if point is None:
            return
        del self.savepoints[self.savepoints.index(point) + (kind == "rollback_to_savepoint"):]
        if kind == "rollback_to_savepoint":
            del self.held_locks[point.held:]
            self.local_timeouts = dict(point.local_timeouts)

    def _index_created(self, table: Relation, name: str | None, columns: tuple[str, ...], suffix: str) -> None:
        """An index lives in its table's schema; unnamed, PostgreSQL names it after the table and columns."""
        self.created_indexes[(self.resolve(table)[0], name or constraint_name(table.name, columns, suffix))] = columns

    def _constraint_indexes_created(self, table: Relation, actions) -> None:
        """The indexes that PRIMARY KEY, UNIQUE and EXCLUDE constraints build, on a table's columns or the table."""
        suffixes = {"primary_key": "pkey", "unique": "key", "exclude": "excl"}
        for action in actions:
            if action.constraint_type in suffixes and not action.using_index:
                self._index_created(table, action.constraint, action.columns, suffixes[action.constraint_type])
            for constraint in action.column_constraints:
                if constraint.constraint_type in suffixes and action.column:
                    self._index_created(table, constraint.constraint, (action.column,), suffixes[constraint.constraint_type])

    def _apply_setting(self, setting, line: int) -> None:
        if setting.name == "search_path":
            raw = "public" if setting.raw is None or setting.raw.upper() == "DEFAULT" else setting.raw
            names = [part.strip().strip('"').lower() for part in raw.split(",")]
            self.search_path = [name for name in names if name and name != "$user"]
            return
        if setting.name not in TIMEOUT_SETTINGS:
            return
        if setting.milliseconds is None:  # RESET / DEFAULT: back to the server's value
            self.session_timeouts.pop(setting.name, None)
            self.local_timeouts.pop(setting.name, None)
            return
        value = TimeoutInForce(setting.milliseconds, line, setting.local)
        if setting.local:
            if self.in_transaction:  # SET LOCAL outside a transaction block has no effect
                self.local_timeouts[setting.name] = value
        else:
            self.session_timeouts[setting.name] = value
            self.local_timeouts.pop(setting.name, None)

    def _apply_table_action(self, table: Relation, action) -> None:
        schema, key = self.resolve(table)
        if action.kind in ("add_column", "alter_column_type") and action.column and action.data_type is not None:
            self.column_types[(schema, key, action.column)] = action.data_type
        if action.kind in ("add_column", "set_not_null") and action.column and (action.not_null or action.kind == "set_not_null"):
            self.not_null_columns.add((schema, key, action.column))
        elif action.kind == "drop_not_null" and action.column:
            self.not_null_columns.discard((schema, key, action.column))
        elif action.kind == "add_constraint" and action.constraint_type == "check":
            validated = not action.not_valid
            if action.constraint:
                self.constraints[(key, action.constraint)] = ConstraintState(
                    "check", action.check_not_null_column, validated, self.transaction_id
                )
            if validated and action.check_not_null_column:
                self.validated_not_null.add((key, action.check_not_null_column))
        elif action.kind == "add_constraint" and action.constraint:
            self.constraints[(key, action.constraint)] = ConstraintState(
                action.constraint_type, None, not action.not_valid, self.transaction_id
            )
        elif action.kind == "validate_constraint" and action.constraint:
            state = self.constraints.setdefault((key, action.constraint), ConstraintState(None, None, True, None))
            state.validated = True
            if state.not_null_column:
                self.validated_not_null.add((key, state.not_null_column))
        elif action.kind == "rename_table" and action.new_name:
            if (schema, key) in self.created_tables:
                self.created_tables.add((schema, action.new_name))
            for held in self.held_locks:  # held on the table under its new name: the old one names nothing now
                if held.kind == "table" and self.resolve(held.relation) == (schema, key):
                    held.relation = Relation(action.new_name, held.relation.schema)
