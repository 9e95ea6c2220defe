"""The shared statement analyzer: SQL text -> one typed fact record per statement.

Used alike by the linter, the planner and the executor. For every statement it says what kind
of statement it is, which relations it locks and how strongly (per the PostgreSQL docs), whether
it rewrites or scans a table, whether it may not run inside a transaction block, and which
timeouts it sets. A statement it cannot classify carries ``unanalyzable`` with the reason: it is
never assumed safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from migrator.durations import parse_pg_duration
from migrator.pgtypes import PgType, parse_type, read_type
from migrator.sqltext import (
    STRING_TOKENS,
    Cursor,
    RawStatement,
    Relation,
    Source,
    fold,
    parse_one,
    quote_identifier,
    split_statements,
    split_top_level,
    word_of,
)


class Lock(IntEnum):
    """PostgreSQL table-level lock modes, weakest first."""

    ACCESS_SHARE = 1
    ROW_SHARE = 2
    ROW_EXCLUSIVE = 3
    SHARE_UPDATE_EXCLUSIVE = 4
    SHARE = 5
    SHARE_ROW_EXCLUSIVE = 6
    EXCLUSIVE = 7
    ACCESS_EXCLUSIVE = 8

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    @property
    def blocks_writes(self) -> bool:
        """SHARE and stronger: queued or held, it stops writers (and, from EXCLUSIVE, readers)."""
        return self >= Lock.SHARE


@dataclass
class LockTarget:
    """A lock on a relation; kind `domain_users`: on every table with a column of the domain `relation`."""

    relation: Relation
    lock: Lock
    kind: str = "table"


@dataclass
class Setting:
    """A run-time parameter set by SET, SET LOCAL, RESET or set_config()."""

    name: str
    raw: str | None
    milliseconds: int | None  # None: DEFAULT/RESET, or not a duration
    local: bool


@dataclass
class Action:
    """One sub-command of an ALTER (or the single action of another statement)."""

    kind: str
    sql: str = ""
    column: str | None = None
    new_name: str | None = None
    constraint: str | None = None
    constraint_type: str | None = None  # check | foreign_key | unique | primary_key | exclude
    not_valid: bool = False
    using_index: str | None = None
    columns: tuple[str, ...] = ()
    references: Relation | None = None
    referenced_columns: tuple[str, ...] = ()
    data_type: PgType | None = None
    using: exp.Expr | None = None  # ALTER COLUMN ... TYPE ... USING expression
    using_casts: list[PgType] | None = None  # USING col::t1::t2: [t1, t2]; None when USING is another expression
    rewrites: bool | None = False  # this action rewrites the table; None: depends on what is not known here
    scans: bool = False  # this action reads every row of the table (a validation, an index build)
    default: exp.Expr | None = None
    not_null: bool = False
    check_not_null_column: str | None = None
    generated: str | None = None  # serial | identity | stored | virtual
    concurrently: bool = False
    value: str | None = None
    partition: Relation | None = None
    guarded: bool = False  # IF EXISTS / IF NOT EXISTS given: a re-run skips it instead of failing
    position: str | None = None  # ADD VALUE ... BEFORE / AFTER
    column_constraints: list["Action"] = field(default_factory=list)  # a column's own constraints (kind column_constraint)

    def constraints_of(self, constraint_type: str) -> list["Action"]:
        """This column's constraints of one type (a column may carry several: UNIQUE REFERENCES ...)."""
        return [c for c in self.column_constraints if c.constraint_type == constraint_type]


@dataclass
class Statement:
    """Facts about one SQL statement."""

    sql: str
    line: int
    column: int
    end_line: int
    kind: str
    relation: Relation | None = None
    locks: list[LockTarget] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    rewrites: bool = False
    scans: bool = False
    concurrently: bool = False
    no_transaction: str | None = None
    if_not_exists: bool = False
    if_exists: bool = False
    settings: list[Setting] = field(default_factory=list)
    unanalyzable: str | None = None
    children: list["Statement"] = field(default_factory=list)
    parent: "Statement | None" = None
    index: int = 0

    @property
    def max_lock(self) -> Lock | None:
        return max((target.lock for target in self.locks), default=None)

    def lock_on(self, relation: Relation) -> Lock | None:
        return max((t.lock for t in self.locks if t.relation.matches(relation)), default=None)

    def add_lock(self, relation: Relation | None, lock: Lock, kind: str = "table") -> None:
        if relation is not None:
            self.locks.append(LockTarget(relation, lock, kind))

    @property
    def lines(self) -> range:
        return range(self.line, self.end_line + 1)

    def walk(self):
        """This statement, then the statements inside it (a DO body), in order."""
        yield self
        for child in self.children:
            yield from child.walk()


# --- volatility of DEFAULT expressions -----------------------------------------------------
VOLATILE_FUNCTIONS = {
    "random", "clock_timestamp", "timeofday", "gen_random_uuid", "uuid", "uuid_generate_v1",
    "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4", "uuidv7", "nextval", "setval",
    "txid_current", "pg_current_xact_id", "random_normal", "rand", "gen_random_bytes",
}
NON_VOLATILE_FUNCTIONS = {
    "now", "current_timestamp", "current_date", "current_time", "localtimestamp", "localtime",
    "transaction_timestamp", "statement_timestamp", "timezone", "cast", "coalesce", "lower",
    "upper", "concat", "to_json", "to_jsonb", "jsonb_build_object", "json_build_object",
    "jsonb_build_array", "json_build_array", "array", "length", "abs", "round", "trim",
    "make_interval", "date_trunc", "to_char", "to_timestamp", "current_user", "session_user",
    "current_schema", "greatest", "least", "nullif", "substring", "replace", "md5",
    "current_setting", "interval", "jsonb", "json", "if", "case", "tsordered",
}


_SQLGLOT_FUNCTION_NAMES = {"rand": "random", "uuid": "gen_random_uuid", "currenttimestamp": "now"}


def function_names(expression: exp.Expr) -> list[str]:
    """PostgreSQL names of the functions an expression calls."""
    names = []
    for node in expression.find_all(exp.Func):
        if isinstance(node, exp.Anonymous):
            names.append(str(node.this).lower())
        elif not isinstance(node, (exp.Cast, exp.Array)):
            name = node.sql_name().lower()
            names.append(_SQLGLOT_FUNCTION_NAMES.get(name, name))
    return names


def volatile_functions(expression: exp.Expr | None) -> list[str]:
    """Functions in an expression that are volatile, or unknown and so assumed volatile."""
    if expression is None:
        return []
    return [n for n in function_names(expression) if n in VOLATILE_FUNCTIONS or n not in NON_VOLATILE_FUNCTIONS]


# --- the analyzer ---------------------------------------------------------------------------
class Analyzer:
    """Turns SQL text into Statement facts for one PostgreSQL major version."""

    def __init__(self, pg_version: int = 15):
        self.pg_version = pg_version

    def analyze(self, text: str) -> list[Statement]:
        """Analyze a whole file. Raises SqlSyntaxError if it cannot even be tokenized."""
        source = Source(text)
        return self.analyze_source(source, source.tokenize())

    def analyze_source(self, source: Source, tokens: list[Token], breaks: list[int] = ()) -> list[Statement]:
        """Every statement of a source; breaks: offsets where a statement ends without a semicolon."""
        statements = []
        for index, raw in enumerate(split_statements(source, tokens, breaks)):
            statement = self.analyze_statement(raw)
            statement.index = index
            statements.append(statement)
        return statements

    def analyze_statement(self, raw: RawStatement) -> Statement:
        line, column = raw.source.position(raw.start)
        end_line = raw.source.line_of(raw.end - 1)
        statement = Statement(sql=raw.sql, line=line, column=column, end_line=end_line, kind="unknown")
        cursor = Cursor(raw)
        head = cursor.word()
        handler = _HANDLERS.get(head)
        if handler is None:
            statement.unanalyzable = f"statement kind {head or raw.tokens[0].text!r} is not understood"
            return statement
        try:
            handler(self, cursor, statement)
        except _Unanalyzable as reason:
            statement.unanalyzable = str(reason)
        except (IndexError, AttributeError, TypeError, ValueError) as error:  # malformed input we did not foresee
            statement.unanalyzable = f"malformed or unsupported statement ({type(error).__name__})"
        for target_action in statement.actions:
            if target_action.kind == "unanalyzable":
                statement.unanalyzable = f"cannot analyze {target_action.sql!r}"
        return statement

    # -- ALTER ---------------------------------------------------------------------------
    def _alter(self, cursor: Cursor, statement: Statement) -> None:
        cursor.accept("ALTER")
        if cursor.accept("TABLE") or cursor.accept("FOREIGN", "TABLE"):
            self._alter_table(cursor, statement)
        elif cursor.accept("TYPE"):
            self._alter_type(cursor, statement)
        elif cursor.accept("INDEX"):
            self._alter_index(cursor, statement)
        elif cursor.accept("SEQUENCE"):
            statement.kind = "alter_sequence"
            cursor.accept("IF", "EXISTS")
            statement.relation = cursor.relation()
            statement.add_lock(statement.relation, Lock.ROW_EXCLUSIVE, "sequence")
        elif cursor.accept("TRIGGER") or cursor.accept("POLICY") or cursor.accept("RULE"):
            statement.kind = "alter_" + cursor.tokens[1].text.lower()
            cursor.identifier()
            if not cursor.accept("ON"):
                raise _Unanalyzable("expected ON table")
            statement.relation = cursor.relation()
            statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE)
        elif cursor.accept("DOMAIN"):
            self._alter_domain(cursor, statement)
        elif cursor.accept("SYSTEM"):
            statement.kind = "alter_system"
            statement.no_transaction = "ALTER SYSTEM cannot run inside a transaction block"
        elif cursor.word() in _HARMLESS_ALTER_OBJECTS or cursor.has_words("MATERIALIZED", "VIEW") or cursor.has_words("DEFAULT", "PRIVILEGES"):
            statement.kind = "alter_" + cursor.word().lower()
        else:
            raise _Unanalyzable(f"ALTER {cursor.word() or '?'} is not understood")

    def _alter_table(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "alter_table"
        if cursor.has_words("ALL", "IN", "TABLESPACE"):
            raise _Unanalyzable("ALTER TABLE ALL IN TABLESPACE moves every table: not analyzable per table")
        cursor.accept("IF", "EXISTS")
        cursor.accept("ONLY")
        table = cursor.relation()
        if table is None:
            raise _Unanalyzable("expected a table name")
        if cursor.is_type(TokenType.STAR):
            cursor.advance()
        statement.relation = table
        for part in split_top_level(cursor.rest()):
            statement.actions.append(self._table_action(Cursor(cursor.statement, part), table))
        # PostgreSQL skips validating an ADD COLUMN's foreign key when the column has no default (serial
        # and stored generated columns have one): every row holds NULL. tests/test_oracle.py checks it.
        for added in statement.actions:
            if added.kind == "add_column" and added.default is None and added.generated not in ("serial", "stored"):
                for foreign_key in added.constraints_of("foreign_key"):
                    foreign_key.not_valid = True
        for action in statement.actions:
            self._apply_action_facts(statement, action, table)

    def _table_action(self, cursor: Cursor, table: Relation) -> Action:
        sql = cursor.rest_sql()
        action = Action(kind="unanalyzable", sql=sql)
        word = cursor.word()
        if word == "ADD":
            cursor.advance()
            if cursor.word() in ("CONSTRAINT", "CHECK", "UNIQUE", "PRIMARY KEY", "FOREIGN KEY", "EXCLUDE"):
                return self._add_constraint(cursor, action)
            return self._add_column(cursor, action, table)
        if word == "ALTER":
            cursor.advance()
            if cursor.accept("CONSTRAINT"):
                action.kind = "alter_constraint"
                action.constraint = cursor.identifier()
                return action
            return self._alter_column(cursor, action, table)
        if word == "DROP":
            cursor.advance()
            if cursor.accept("CONSTRAINT"):
                action.kind = "drop_constraint"
                action.guarded = cursor.accept("IF", "EXISTS")
                action.constraint = cursor.identifier()
                return action
            cursor.accept("COLUMN")
            action.guarded = cursor.accept("IF", "EXISTS")
            action.kind = "drop_column"
            action.column = cursor.identifier()
            return action
        if word == "RENAME":
            cursor.advance()
            if cursor.accept("TO"):
                action.kind = "rename_table"
                action.new_name = cursor.identifier()
            elif cursor.accept("CONSTRAINT"):
                action.kind = "rename_constraint"
                action.constraint = cursor.identifier()
                cursor.accept("TO")
                action.new_name = cursor.identifier()
            else:  # RENAME [COLUMN] a TO b: the COLUMN keyword is optional
                cursor.accept("COLUMN")
                action.kind = "rename_column"
                action.column = cursor.identifier()
                if not cursor.accept("TO"):
                    return Action(kind="unanalyzable", sql=sql)
                action.new_name = cursor.identifier()
            return action
        if word == "VALIDATE" and cursor.accept("VALIDATE", "CONSTRAINT"):
            action.kind = "validate_constraint"
            action.constraint = cursor.identifier()
            return action
        if word in ("ENABLE", "DISABLE", "FORCE", "NO"):
            cursor.accept("NO")
            cursor.advance()
            cursor.accept_any("ALWAYS", "REPLICA")
            thing = cursor.accept_any("TRIGGER", "RULE", "ROW")
            action.kind = {"TRIGGER": "toggle_trigger", "RULE": "toggle_rule", "ROW": "row_level_security"}.get(thing or "", "unanalyzable")
            return action
        if word == "SET":
            cursor.advance()
            option = cursor.accept_any("LOGGED", "UNLOGGED", "TABLESPACE", "ACCESS", "SCHEMA", "WITHOUT")
            if option in ("LOGGED", "UNLOGGED", "TABLESPACE", "ACCESS"):
                action.kind = "set_" + {"ACCESS": "access_method"}.get(option, option.lower())
            elif option == "SCHEMA":
                action.kind = "set_schema"
            elif option == "WITHOUT":
                action.kind = "set_without_" + (cursor.word() or "").lower()
            elif cursor.is_type(TokenType.L_PAREN):
                action.kind = "set_storage_parameters"
            return action
        if word == "RESET" and cursor.is_type(TokenType.L_PAREN, 1):
            action.kind = "set_storage_parameters"
            return action
        if word == "CLUSTER" and cursor.has_words("CLUSTER", "ON"):
            action.kind = "cluster_on"
            return action
        if word in ("ATTACH", "DETACH") and cursor.word(1) == "PARTITION":
            cursor.advance(2)
            action.kind = word.lower() + "_partition"
            action.partition = cursor.relation()
            rest = {cursor.word(i) for i in range(len(cursor.rest()))}
            action.concurrently = "CONCURRENTLY" in rest
            if "FINALIZE" in rest:
                action.kind = "detach_partition_finalize"
            return action
        if word in ("OWNER", "INHERIT", "REPLICA", "OF", "NOT") or cursor.has_words("NO", "INHERIT"):
            action.kind = "alter_table_metadata"
            return action
        return action

    def _add_column(self, cursor: Cursor, action: Action, table: Relation) -> Action:
        cursor.accept("COLUMN")
        guarded = cursor.accept("IF", "NOT", "EXISTS")
        column = self._column_definition(cursor)
        if column.kind == "unanalyzable":
            return action
        column.kind, column.sql, column.guarded = "add_column", action.sql, guarded
        return column

    def _column_definition(self, cursor: Cursor) -> Action:
        """`name type [constraints...]` of CREATE TABLE or ADD COLUMN, as a `column` action."""
        action = Action(kind="column", sql=cursor.rest_sql())
        action.column = cursor.identifier()
        action.data_type = read_type(cursor)
        if action.column is None or action.data_type is None:
            return Action(kind="unanalyzable", sql=action.sql)
        if action.data_type.serial:
            action.generated = "serial"
        name = None
        while not cursor.at_end:
            if cursor.accept("CONSTRAINT"):
                name = cursor.identifier()
                continue
            constraint = Action(kind="column_constraint", constraint=name, columns=(action.column,))
            name = None
            if cursor.accept("NOT", "NULL"):
                action.not_null = True
            elif cursor.accept("NULL") or cursor.accept("NOT", "DEFERRABLE") or cursor.accept("DEFERRABLE") \
                    or cursor.accept("NOT", "ENFORCED") or cursor.accept("ENFORCED") or cursor.accept("NO", "INHERIT"):
                pass
            elif cursor.accept_any("COLLATE", "COMPRESSION", "STORAGE", "INITIALLY"):
                cursor.advance()
            elif cursor.accept("DEFAULT"):
                expression = _expression(cursor, _until_column_constraint(cursor))
                if expression is None:
                    return Action(kind="unanalyzable", sql=action.sql)
                action.default = expression
            elif cursor.accept("PRIMARY KEY") or cursor.accept("UNIQUE"):
                primary = cursor.tokens[cursor.index - 1].text.upper().startswith("PRIMARY")
                constraint.constraint_type = "primary_key" if primary else "unique"
                action.not_null |= primary
                cursor.accept("NULLS", "NOT", "DISTINCT") or cursor.accept("NULLS", "DISTINCT")
                _skip_index_parameters(cursor)
                action.column_constraints.append(constraint)
            elif cursor.accept("REFERENCES"):
                constraint.constraint_type = "foreign_key"
                constraint.references = cursor.relation()
                constraint.referenced_columns = _column_list(cursor)
                _skip_reference_options(cursor)
                action.column_constraints.append(constraint)
            elif cursor.accept("CHECK"):
                constraint.constraint_type = "check"
                constraint.check_not_null_column = _is_not_null_check(Cursor(cursor.statement, cursor.skip_group()))
                action.column_constraints.append(constraint)
            elif cursor.accept("GENERATED"):
                cursor.accept("ALWAYS") or cursor.accept("BY", "DEFAULT")
                if not cursor.accept("AS"):
                    return Action(kind="unanalyzable", sql=action.sql)
                if cursor.accept("IDENTITY"):
                    action.generated = "identity"
                    cursor.skip_group()
                else:
                    cursor.skip_group()
                    stored = cursor.accept_any("STORED", "VIRTUAL")
                    action.generated = "virtual" if stored == "VIRTUAL" or (stored is None and self.pg_version >= 18) else "stored"
            else:
                return Action(kind="unanalyzable", sql=action.sql)
        return action

    def _alter_column(self, cursor: Cursor, action: Action, table: Relation) -> Action:
        cursor.accept("COLUMN")
        action.column = cursor.identifier()
        if cursor.accept("SET", "NOT", "NULL"):
            action.kind = "set_not_null"
        elif cursor.accept("DROP", "NOT", "NULL"):
            action.kind = "drop_not_null"
        elif cursor.accept("DROP", "DEFAULT"):
            action.kind = "drop_default"
        elif cursor.has_words("SET", "DEFAULT"):
            parsed = parse_one(f"ALTER TABLE {table} ALTER COLUMN {quote_identifier(action.column or '')} {cursor.rest_sql()}")
            node = _single_action(parsed, exp.AlterColumn)
            if node is not None:
                action.kind = "set_default"
                action.default = node.args.get("default")
        elif cursor.accept("TYPE") or cursor.accept("SET", "DATA", "TYPE"):
            action.data_type = read_type(cursor)
            if cursor.accept("COLLATE"):
                cursor.advance()
            action.using_casts = []
            if cursor.accept("USING"):
                action.using = _expression(cursor, cursor.rest())
                if action.using is None:
                    return action
                action.using_casts = _cast_chain(action.using, action.column)
            if action.data_type is not None and cursor.at_end:
                action.kind = "alter_column_type"
                # the column's current type decides, when the migration knows it (MigrationContext.enter)
                action.rewrites = None if action.using_casts is not None else True
        elif cursor.accept("SET", "STATISTICS"):
            action.kind = "set_statistics"
        elif cursor.has_words("SET") and cursor.is_type(TokenType.L_PAREN, 1) or cursor.has_words("RESET"):
            action.kind = "set_attribute_options"
        elif cursor.accept("SET", "STORAGE") or cursor.accept("SET", "COMPRESSION"):
            action.kind = "set_storage"
        elif cursor.has_words("ADD", "GENERATED"):
            action.kind = "add_identity"
        elif cursor.word() in ("SET", "RESTART") or cursor.has_words("DROP", "IDENTITY") or cursor.has_words("DROP", "EXPRESSION"):
            action.kind = "alter_identity"
        return action

    def _add_constraint(self, cursor: Cursor, action: Action) -> Action:
        if cursor.accept("CONSTRAINT"):
            action.constraint = cursor.identifier()
        action.not_valid = _has_not_valid(cursor)
        kind = cursor.accept_any("CHECK", "UNIQUE", "PRIMARY KEY", "FOREIGN KEY", "EXCLUDE")
        if kind is None:
            return action
        action.kind = "add_constraint"
        if kind == "CHECK":
            action.constraint_type = "check"
            inner = cursor.skip_group()
            action.check_not_null_column = _is_not_null_check(Cursor(cursor.statement, inner))
        elif kind == "EXCLUDE":
            action.constraint_type = "exclude"
        elif kind == "FOREIGN KEY":
            action.constraint_type = "foreign_key"
            action.columns = _column_list(cursor)
            if cursor.accept("REFERENCES"):
                action.references = cursor.relation()
                action.referenced_columns = _column_list(cursor)
        else:
            action.constraint_type = "unique" if kind == "UNIQUE" else "primary_key"
            cursor.accept("NULLS", "NOT", "DISTINCT") or cursor.accept("NULLS", "DISTINCT")
            if cursor.accept("USING", "INDEX"):
                action.using_index = cursor.identifier()
            else:
                action.columns = _column_list(cursor)
        return action

    def _apply_action_facts(self, statement: Statement, action: Action, table: Relation) -> None:
        """Locks, rewrites and scans of one ALTER TABLE action."""
        kind = action.kind
        lock = Lock.ACCESS_EXCLUSIVE
        if kind == "add_column":
            if action.generated in ("serial", "identity", "stored") or volatile_functions(action.default):
                action.rewrites = True
            elif action.default is not None and not isinstance(action.default, exp.Null) and self.pg_version < 11:
                action.rewrites = True
            if any(c.constraint_type in ("primary_key", "unique", "check") for c in action.column_constraints):
                action.scans = True  # the index build, or the CHECK, reads every row
            for foreign_key in action.constraints_of("foreign_key"):
                statement.add_lock(foreign_key.references, Lock.SHARE_ROW_EXCLUSIVE, "referenced")
                action.scans |= not foreign_key.not_valid
        elif kind == "add_constraint":
            if action.constraint_type == "foreign_key":
                lock = Lock.SHARE_ROW_EXCLUSIVE
                statement.add_lock(action.references, Lock.SHARE_ROW_EXCLUSIVE, "referenced")
            # PRIMARY KEY USING INDEX still makes the columns NOT NULL, which reads the table
            action.scans = not action.not_valid and (not action.using_index or action.constraint_type == "primary_key")
        elif kind in ("set_not_null", "validate_constraint"):
            action.scans = True
            if kind == "validate_constraint":
                lock = Lock.SHARE_UPDATE_EXCLUSIVE
        elif kind in ("set_logged", "set_unlogged", "set_tablespace", "set_access_method"):
            action.rewrites = True
        elif kind in ("toggle_trigger",):
            lock = Lock.SHARE_ROW_EXCLUSIVE
        elif kind in ("set_statistics", "set_storage_parameters", "cluster_on", "set_without_cluster", "set_attribute_options"):
            lock = Lock.SHARE_UPDATE_EXCLUSIVE
        elif kind == "attach_partition":
            lock = Lock.SHARE_UPDATE_EXCLUSIVE if self.pg_version >= 12 else Lock.ACCESS_EXCLUSIVE
            action.scans = True
            statement.add_lock(action.partition, Lock.ACCESS_EXCLUSIVE, "partition")
        elif kind in ("detach_partition", "detach_partition_finalize"):
            if action.concurrently:
                lock = Lock.SHARE_UPDATE_EXCLUSIVE
                statement.concurrently = True
                statement.no_transaction = "DETACH PARTITION ... CONCURRENTLY cannot run inside a transaction block"
            statement.add_lock(action.partition, Lock.ACCESS_EXCLUSIVE if not action.concurrently else Lock.SHARE_UPDATE_EXCLUSIVE, "partition")
        statement.add_lock(table, lock)
        statement.rewrites = any(a.rewrites is not False for a in statement.actions)  # None: it may
        statement.scans = any(a.scans for a in statement.actions)

    def _alter_domain(self, cursor: Cursor, statement: Statement) -> None:
        """ALTER DOMAIN: a new constraint is checked against every column of every table using the domain."""
        statement.kind = "alter_domain"
        statement.relation = cursor.relation()
        action = Action(kind="alter_domain_metadata", sql=cursor.rest_sql())
        if cursor.accept("ADD"):
            action.kind = "add_constraint"
            if cursor.accept("CONSTRAINT"):
                action.constraint = cursor.identifier()
            action.not_valid = _has_not_valid(cursor)
            action.constraint_type = "not_null" if cursor.has_words("NOT", "NULL") else "check"
        elif cursor.accept("SET", "NOT", "NULL"):
            action.kind = "set_not_null"
        elif cursor.accept("VALIDATE", "CONSTRAINT"):
            action.kind = "validate_constraint"
            action.constraint = cursor.identifier()
        elif cursor.word() not in ("DROP", "RENAME", "OWNER", "SET"):
            raise _Unanalyzable("ALTER DOMAIN form is not understood")
        statement.actions.append(action)
        if action.kind in ("set_not_null", "validate_constraint") or action.kind == "add_constraint" and not action.not_valid:
            statement.scans = True
            # PostgreSQL 18 validates an existing domain constraint under SHARE UPDATE EXCLUSIVE
            lock = Lock.SHARE_UPDATE_EXCLUSIVE if action.kind == "validate_constraint" and self.pg_version >= 18 else Lock.SHARE
            statement.add_lock(statement.relation, lock, "domain_users")

    def _alter_type(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "alter_type"
        statement.relation = cursor.relation()
        action = Action(kind="alter_type", sql=cursor.rest_sql())
        if cursor.accept("ADD", "VALUE"):
            action.kind = "add_enum_value"
            statement.if_not_exists = cursor.accept("IF", "NOT", "EXISTS")
            action.value = cursor.string()
            action.position = cursor.accept_any("BEFORE", "AFTER")
            if self.pg_version < 12:
                statement.no_transaction = "ALTER TYPE ... ADD VALUE cannot run inside a transaction block before PostgreSQL 12"
        elif cursor.accept("RENAME", "VALUE"):
            action.kind = "rename_enum_value"
            action.value = cursor.string()
            cursor.accept("TO")
            action.new_name = cursor.string()
        elif cursor.accept("RENAME", "TO"):
            action.kind = "rename_type"
            action.new_name = cursor.identifier()
        elif cursor.word() in ("RENAME", "OWNER", "SET", "ADD", "DROP", "ALTER"):
            action.kind = "alter_type_" + cursor.word().lower()
        else:
            raise _Unanalyzable("ALTER TYPE form is not understood")
        statement.actions.append(action)

    def _alter_index(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "alter_index"
        if cursor.has_words("ALL", "IN", "TABLESPACE"):
            raise _Unanalyzable("ALTER INDEX ALL IN TABLESPACE is not analyzable per index")
        cursor.accept("IF", "EXISTS")
        statement.relation = cursor.relation()
        action = Action(kind="alter_index", sql=cursor.rest_sql())
        if cursor.accept("SET", "TABLESPACE"):
            action.kind = "set_tablespace"
            statement.rewrites = True
            statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE, "index")
        elif cursor.accept("ATTACH", "PARTITION"):
            action.kind = "attach_partition"
            action.partition = cursor.relation()
            statement.add_lock(statement.relation, Lock.SHARE_UPDATE_EXCLUSIVE, "index")
        elif cursor.word() in ("RENAME", "SET", "RESET", "ALTER", "DEPENDS", "NO"):
            action.kind = "alter_index_" + cursor.word().lower()
            lock = Lock.SHARE_UPDATE_EXCLUSIVE if self.pg_version >= 12 or action.kind != "alter_index_rename" else Lock.ACCESS_EXCLUSIVE
            statement.add_lock(statement.relation, lock, "index")
        else:
            raise _Unanalyzable("ALTER INDEX form is not understood")
        statement.actions.append(action)

    # -- CREATE --------------------------------------------------------------------------
    def _create(self, cursor: Cursor, statement: Statement) -> None:
        cursor.accept("CREATE")
        cursor.accept("OR", "REPLACE")
        unique = bool(cursor.accept("UNIQUE"))
        if cursor.accept("INDEX"):
            self._create_index(cursor, statement, unique)
            return
        cursor.accept_any("GLOBAL", "LOCAL")
        persistence = cursor.accept_any("TEMPORARY", "TEMP", "UNLOGGED")
        if cursor.accept("TABLE"):
            self._create_table(cursor, statement, temporary=persistence in ("TEMPORARY", "TEMP"))
            return
        cursor.accept("CONSTRAINT")
        if cursor.accept("TRIGGER") or cursor.accept("POLICY") or cursor.accept("RULE"):
            statement.kind = "create_" + cursor.tokens[cursor.index - 1].text.lower()
            cursor.identifier()
            on = cursor.find_word("ON")
            if on is None:
                raise _Unanalyzable("expected ON table")
            cursor.advance(on + 1)
            statement.relation = cursor.relation()
            lock = Lock.SHARE_ROW_EXCLUSIVE if statement.kind == "create_trigger" else Lock.ACCESS_EXCLUSIVE
            statement.add_lock(statement.relation, lock)
            return
        if cursor.accept("MATERIALIZED", "VIEW"):
            statement.kind = "create_materialized_view"
            cursor.accept("IF", "NOT", "EXISTS")
            statement.relation = cursor.relation()
            statement.scans = True
            return
        if cursor.accept("STATISTICS"):
            statement.kind = "create_statistics"
            on = cursor.find_word("FROM")
            if on is not None:
                cursor.advance(on + 1)
                statement.relation = cursor.relation()
                statement.add_lock(statement.relation, Lock.SHARE_UPDATE_EXCLUSIVE)
            return
        if cursor.accept("DATABASE") or cursor.accept("TABLESPACE"):
            statement.kind = "create_" + cursor.tokens[cursor.index - 1].text.lower()
            statement.no_transaction = f"CREATE {cursor.tokens[cursor.index - 1].text.upper()} cannot run inside a transaction block"
            return
        word = cursor.word()
        if word in _HARMLESS_CREATE_OBJECTS:
            statement.kind = "create_" + word.lower()
            cursor.advance()
            cursor.accept("IF", "NOT", "EXISTS")
            statement.relation = cursor.relation()
            return
        raise _Unanalyzable(f"CREATE {word or '?'} is not understood")

    def _create_index(self, cursor: Cursor, statement: Statement, unique: bool) -> None:
        statement.kind = "create_index"
        statement.concurrently = bool(cursor.accept("CONCURRENTLY"))
        statement.if_not_exists = bool(cursor.accept("IF", "NOT", "EXISTS"))
        index_name = None if cursor.word() == "ON" else cursor.relation()
        if not cursor.accept("ON"):
            raise _Unanalyzable("expected ON table")
        only = bool(cursor.accept("ONLY"))
        table = cursor.relation()
        if table is None:
            raise _Unanalyzable("expected a table name")
        if cursor.accept("USING"):
            cursor.identifier()
        columns = tuple(_first_identifier(part) for part in split_top_level(cursor.skip_group()))
        statement.relation = table
        statement.actions.append(
            Action(
                kind="create_index",
                sql=statement.sql,
                constraint=index_name.name if index_name else None,
                constraint_type="unique" if unique else None,
                columns=columns,
                concurrently=statement.concurrently,
                value="only" if only else None,
            )
        )
        if statement.concurrently:
            statement.no_transaction = "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"
            statement.add_lock(table, Lock.SHARE_UPDATE_EXCLUSIVE)
        else:
            statement.add_lock(table, Lock.SHARE)
        statement.scans = not only

    def _create_table(self, cursor: Cursor, statement: Statement, temporary: bool = False) -> None:
        statement.kind = "create_table"
        statement.if_not_exists = bool(cursor.accept("IF", "NOT", "EXISTS"))
        statement.relation = cursor.relation()
        if statement.relation is None:
            raise _Unanalyzable("expected a table name")
        if temporary and statement.relation.schema is None:
            statement.relation = Relation(statement.relation.name, "pg_temp")
        if cursor.accept("PARTITION", "OF"):
            parent = cursor.relation()
            statement.add_lock(parent, Lock.ACCESS_EXCLUSIVE, "parent")
        as_at = cursor.find_word("AS")
        if as_at is not None:
            cursor.advance(as_at + 1)
            self._table_from_query(cursor, statement)
            return
        body = cursor.skip_group()
        for element in split_top_level(body):
            inner = Cursor(cursor.statement, element)
            if inner.word() in ("CONSTRAINT", "CHECK", "UNIQUE", "PRIMARY KEY", "FOREIGN KEY", "EXCLUDE"):
                action = self._add_constraint(inner, Action(kind="unanalyzable", sql=inner.rest_sql()))
                action.kind = "table_constraint"
            elif inner.word() == "LIKE":
                inner.advance()
                statement.add_lock(inner.relation(), Lock.ACCESS_SHARE)
                continue
            else:  # a column PostgreSQL accepts but we do not read keeps the table new, without its type
                action = self._column_definition(inner)
                action.kind = "column"
            statement.actions.append(action)
        inner = Cursor(cursor.statement, body)
        while not inner.at_end:  # a new, empty table: only the tables it references are locked
            if inner.accept("REFERENCES"):
                statement.add_lock(inner.relation(), Lock.SHARE_ROW_EXCLUSIVE, "referenced")
            else:
                inner.advance()

    def _table_from_query(self, cursor: Cursor, statement: Statement) -> None:
        """CREATE TABLE ... AS / SELECT INTO: a new table, filled by reading the query's tables."""
        statement.kind = "create_table_as"
        words = [cursor.word(offset) for offset in range(len(cursor.rest()))]
        with_data = words[-3:] != ["WITH", "NO", "DATA"]
        tail = 3 if not with_data else 2 if words[-2:] == ["WITH", "DATA"] else 0
        query_tokens = cursor.rest()[: len(words) - tail]
        query = parse_one(cursor.sql_of(query_tokens)) if cursor.word() != "EXECUTE" else None
        if query is None:
            raise _Unanalyzable("the query of CREATE TABLE ... AS is not understood")
        ctes = {_identifier_name(cte.args.get("alias")) for cte in query.find_all(exp.CTE)}
        for table in query.find_all(exp.Table):
            source = None if table.find_ancestor(exp.Into) else _relation_of(table)
            if source is not None and source.name not in ctes and source != statement.relation:
                statement.add_lock(source, Lock.ACCESS_SHARE)
        statement.scans = with_data and bool(statement.locks)

    # -- DROP ----------------------------------------------------------------------------
    def _drop(self, cursor: Cursor, statement: Statement) -> None:
        cursor.accept("DROP")
        if cursor.accept("INDEX"):
            statement.kind = "drop_index"
            statement.concurrently = bool(cursor.accept("CONCURRENTLY"))
            statement.if_exists = cursor.accept("IF", "EXISTS")
            names = [Cursor(cursor.statement, part).relation() for part in split_top_level(_without_words(cursor, "CASCADE", "RESTRICT"))]
            lock = Lock.SHARE_UPDATE_EXCLUSIVE if statement.concurrently else Lock.ACCESS_EXCLUSIVE
            for name in names:
                statement.add_lock(name, lock, "index")
                statement.actions.append(Action(kind="drop_index", constraint=name.name if name else None, sql=statement.sql))
            statement.relation = names[0] if names else None
            if statement.concurrently:
                statement.no_transaction = "DROP INDEX CONCURRENTLY cannot run inside a transaction block"
            return
        if cursor.accept("TABLE") or cursor.accept("FOREIGN", "TABLE"):
            statement.kind = "drop_table"
            statement.if_exists = cursor.accept("IF", "EXISTS")
            for part in split_top_level(_without_words(cursor, "CASCADE", "RESTRICT")):
                name = Cursor(cursor.statement, part).relation()
                statement.add_lock(name, Lock.ACCESS_EXCLUSIVE)
                statement.relation = statement.relation or name
            return
        if cursor.accept("TRIGGER") or cursor.accept("POLICY") or cursor.accept("RULE"):
            statement.kind = "drop_" + cursor.tokens[cursor.index - 1].text.lower()
            statement.if_exists = cursor.accept("IF", "EXISTS")
            cursor.identifier()
            if cursor.accept("ON"):
                statement.relation = cursor.relation()
                statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE)
            return
        if cursor.accept("DATABASE") or cursor.accept("TABLESPACE"):
            statement.kind = "drop_" + cursor.tokens[cursor.index - 1].text.lower()
            statement.no_transaction = f"DROP {cursor.tokens[cursor.index - 1].text.upper()} cannot run inside a transaction block"
            return
        if cursor.accept("MATERIALIZED", "VIEW"):
            statement.kind = "drop_materialized_view"
            return
        word = cursor.word()
        if word in _HARMLESS_CREATE_OBJECTS or word in ("OWNED", "ROLE", "USER", "GROUP"):
            statement.kind = "drop_" + word.lower()
            cursor.advance()
            statement.if_exists = cursor.accept("IF", "EXISTS")
            return
        raise _Unanalyzable(f"DROP {word or '?'} is not understood")

    # -- other statements ------------------------------------------------------------------
    def _reindex(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "reindex"
        cursor.accept("REINDEX")
        options = _options(cursor)
        target = cursor.accept_any("INDEX", "TABLE", "SCHEMA", "DATABASE", "SYSTEM")
        if target is None:
            raise _Unanalyzable("REINDEX target is not understood")
        statement.concurrently = bool(cursor.accept("CONCURRENTLY")) or options.get("CONCURRENTLY") is True
        statement.relation = cursor.relation()
        statement.scans = True
        statement.actions.append(Action(kind="reindex_" + target.lower(), sql=statement.sql, concurrently=statement.concurrently))
        if statement.concurrently:
            statement.no_transaction = "REINDEX CONCURRENTLY cannot run inside a transaction block"
            statement.add_lock(statement.relation, Lock.SHARE_UPDATE_EXCLUSIVE, target.lower())
        elif target in ("INDEX", "TABLE"):
            statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE if target == "INDEX" else Lock.SHARE, target.lower())
        else:
            statement.no_transaction = f"REINDEX {target} cannot run inside a transaction block"
            statement.add_lock(statement.relation, Lock.SHARE, target.lower())

    def _lock(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "lock_table"
        cursor.accept("LOCK")
        cursor.accept("TABLE")
        cursor.accept("ONLY")
        in_at = cursor.find_word("IN")
        tables = cursor.rest() if in_at is None else cursor.rest()[:in_at]
        lock = Lock.ACCESS_EXCLUSIVE
        if in_at is not None:
            cursor.advance(in_at + 1)
            mode_words = []
            while not cursor.at_end and cursor.word() != "MODE":
                mode_words.append(cursor.word())
                cursor.advance()
            try:
                lock = Lock["_".join(mode_words)]
            except KeyError:
                raise _Unanalyzable(f"unknown lock mode {' '.join(mode_words)!r}") from None
        for part in split_top_level(tables):
            name = Cursor(cursor.statement, [t for t in part if t.token_type != TokenType.STAR]).relation()
            statement.add_lock(name, lock)
            statement.relation = statement.relation or name

    def _vacuum(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "vacuum"
        cursor.advance()
        options = _options(cursor)
        while cursor.accept_any("FULL", "FREEZE", "VERBOSE", "ANALYZE", "ANALYSE"):
            options[cursor.tokens[cursor.index - 1].text.upper()] = True
        full = options.get("FULL") is True
        statement.no_transaction = "VACUUM cannot run inside a transaction block"
        for part in split_top_level(cursor.rest()):
            name = Cursor(cursor.statement, part).relation()
            statement.add_lock(name, Lock.ACCESS_EXCLUSIVE if full else Lock.SHARE_UPDATE_EXCLUSIVE)
            statement.relation = statement.relation or name
        statement.rewrites = full
        statement.scans = True
        statement.actions.append(Action(kind="vacuum_full" if full else "vacuum", sql=statement.sql))

    def _analyze_stmt(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "analyze"
        cursor.advance()
        cursor.skip_group()
        cursor.accept("VERBOSE")
        for part in split_top_level(cursor.rest()):
            statement.add_lock(Cursor(cursor.statement, part).relation(), Lock.SHARE_UPDATE_EXCLUSIVE)

    def _cluster(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "cluster"
        cursor.advance()
        cursor.skip_group()
        cursor.accept("VERBOSE")
        statement.relation = cursor.relation()
        statement.rewrites = True
        statement.actions.append(Action(kind="cluster", sql=statement.sql))
        if statement.relation is None:
            statement.no_transaction = "CLUSTER without a table cannot run inside a transaction block"
        statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE)

    def _repack(self, cursor: Cursor, statement: Statement) -> None:
        """REPACK (PostgreSQL 19): VACUUM FULL and CLUSTER in one command, online with CONCURRENTLY."""
        if self.pg_version < 19:
            raise _Unanalyzable(f"REPACK needs PostgreSQL 19 (target is {self.pg_version})")
        statement.kind = "repack"
        cursor.advance()
        statement.concurrently = _options(cursor).get("CONCURRENTLY") is True
        statement.relation = cursor.relation()
        statement.rewrites = True
        statement.actions.append(Action(kind="repack", sql=statement.sql, concurrently=statement.concurrently))
        if statement.concurrently:
            # SHARE UPDATE EXCLUSIVE while it copies; ACCESS EXCLUSIVE only for the final swap
            statement.no_transaction = "REPACK (CONCURRENTLY) cannot run inside a transaction block"
            statement.add_lock(statement.relation, Lock.SHARE_UPDATE_EXCLUSIVE)
        else:
            if statement.relation is None:
                statement.no_transaction = "REPACK without a table cannot run inside a transaction block"
            statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE)

    def _refresh(self, cursor: Cursor, statement: Statement) -> None:
        cursor.advance()
        if not cursor.accept("MATERIALIZED", "VIEW"):
            raise _Unanalyzable("REFRESH form is not understood")
        statement.kind = "refresh_materialized_view"
        statement.concurrently = bool(cursor.accept("CONCURRENTLY"))
        statement.relation = cursor.relation()
        statement.scans = True
        statement.rewrites = not statement.concurrently  # a new heap is filled and swapped in
        statement.add_lock(statement.relation, Lock.EXCLUSIVE if statement.concurrently else Lock.ACCESS_EXCLUSIVE, "materialized_view")

    def _set(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "set"
        cursor.advance()
        local = cursor.accept_any("LOCAL", "SESSION") == "LOCAL"
        if cursor.word() in ("TIME", "ROLE", "CONSTRAINTS", "TRANSACTION", "SESSION"):
            return
        name = cursor.relation()
        if name is None:
            raise _Unanalyzable("SET of what is not understood")
        cursor.accept_any("TO") or (cursor.is_type(TokenType.EQ) and cursor.advance())
        self._record_setting(statement, str(name), cursor.rest(), local)

    def _reset(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "set"
        cursor.advance()
        if cursor.accept("ALL"):
            for name in ("lock_timeout", "statement_timeout"):
                statement.settings.append(Setting(name, None, None, False))
            return
        name = cursor.relation()
        if name is not None:
            statement.settings.append(Setting(str(name), None, None, False))

    def _record_setting(self, statement: Statement, name: str, value: list[Token], local: bool) -> None:
        raw = " ".join(token.text for token in value)
        milliseconds = None
        if len(value) == 1 and value[0].token_type != TokenType.DEFAULT and raw.upper() != "DEFAULT":
            milliseconds = parse_pg_duration(value[0].text)
        statement.settings.append(Setting(name, raw, milliseconds, local))

    def _select(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "select"
        into = cursor.find_word("INTO")
        if into is not None:  # SELECT ... INTO new_table: CREATE TABLE ... AS by another name
            target = Cursor(cursor.statement, cursor.rest()[into + 1 :])
            temporary = target.accept_any("TEMPORARY", "TEMP", "UNLOGGED") in ("TEMPORARY", "TEMP")
            target.accept("TABLE")
            statement.relation = target.relation()
            if temporary and statement.relation is not None and statement.relation.schema is None:
                statement.relation = Relation(statement.relation.name, "pg_temp")
            self._table_from_query(cursor, statement)
            return
        tokens = cursor.rest()
        for position, token in enumerate(tokens[:-5]):
            if token.text.lower() == "set_config" and tokens[position + 1].token_type == TokenType.L_PAREN:
                inner = Cursor(cursor.statement, tokens[position + 1 :])
                arguments = split_top_level(inner.skip_group())
                if len(arguments) == 3 and arguments[0][0].token_type in STRING_TOKENS:
                    local = arguments[2][0].text.lower() in ("true", "t", "on", "yes")
                    self._record_setting(statement, arguments[0][0].text.lower(), arguments[1], local)

    def _transaction(self, cursor: Cursor, statement: Statement) -> None:
        word = cursor.word()
        if word in ("BEGIN", "START"):
            statement.kind = "begin"
        elif word in ("COMMIT", "END"):
            statement.kind = "commit"
        elif word in ("ROLLBACK", "ABORT"):
            statement.kind = "savepoint" if cursor.find_word("TO") is not None else "rollback"
        else:
            statement.kind = "savepoint"
        if word == "START" and cursor.word(1) != "TRANSACTION":
            raise _Unanalyzable("START must be START TRANSACTION")
        if word == "ROLLBACK" and cursor.has_words("ROLLBACK", "PREPARED") or word == "COMMIT" and cursor.has_words("COMMIT", "PREPARED"):
            raise _Unanalyzable("two-phase commit statements are not supported in migrations")

    def _dml(self, cursor: Cursor, statement: Statement) -> None:
        word = cursor.word()
        statement.kind = word.lower()
        if word == "WITH":
            self._with(cursor, statement)
            return
        cursor.advance()
        cursor.accept_any("INTO", "FROM")
        cursor.accept("ONLY")
        statement.relation = cursor.relation()
        statement.add_lock(statement.relation, Lock.ROW_EXCLUSIVE)
        statement.scans = word in ("UPDATE", "DELETE", "MERGE")
        if word in ("UPDATE", "INSERT"):
            statement.actions.append(Action(kind="assign", sql=statement.sql, columns=_assigned_columns(cursor, word)))

    def _with(self, cursor: Cursor, statement: Statement) -> None:
        """A WITH query: each data-modifying part (a CTE or the main statement) becomes a child statement."""
        statement.kind = "with"
        cursor.advance()
        cursor.accept("RECURSIVE")
        parts = []
        while True:
            cursor.identifier()
            cursor.skip_group()  # column names
            if not cursor.accept("AS"):
                raise _Unanalyzable("WITH query form is not understood")
            cursor.accept("NOT")
            cursor.accept("MATERIALIZED")
            if not cursor.is_type(TokenType.L_PAREN):
                raise _Unanalyzable("WITH query form is not understood")
            parts.append(cursor.skip_group())
            if not cursor.is_type(TokenType.COMMA):
                break
            cursor.advance()
        if cursor.word() not in _QUERY_WORDS and not cursor.is_type(TokenType.L_PAREN):
            raise _Unanalyzable(f"WITH query followed by {cursor.word() or '?'} is not understood")
        parts.append(cursor.rest())
        for tokens in parts:
            if tokens and word_of(tokens[0]) in ("INSERT", "UPDATE", "DELETE", "MERGE", "WITH"):
                child = self.analyze_statement(RawStatement(cursor.statement.source, tokens))
                child.parent = statement
                statement.children.append(child)

    def _truncate(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "truncate"
        cursor.advance()
        cursor.accept("TABLE")
        cursor.accept("ONLY")
        for part in split_top_level(_without_words(cursor, "CASCADE", "RESTRICT", "RESTART", "CONTINUE", "IDENTITY")):
            name = Cursor(cursor.statement, [t for t in part if t.token_type != TokenType.STAR]).relation()
            statement.add_lock(name, Lock.ACCESS_EXCLUSIVE)
            statement.relation = statement.relation or name

    def _copy(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "copy"
        cursor.advance()
        statement.relation = cursor.relation()
        cursor.skip_group()
        lock = Lock.ROW_EXCLUSIVE if cursor.word() == "FROM" else Lock.ACCESS_SHARE
        statement.add_lock(statement.relation, lock)

    def _harmless(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = cursor.word().lower()

    def _do(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "do"
        cursor.advance()
        language = "plpgsql"
        body_token = None
        while not cursor.at_end:
            if cursor.accept("LANGUAGE"):
                language = (cursor.identifier() or cursor.string() or "").lower()
            elif cursor.peek().token_type in STRING_TOKENS:
                body_token = cursor.advance()
            else:
                raise _Unanalyzable("DO form is not understood")
        if body_token is None:
            raise _Unanalyzable("DO without a body")
        if language != "plpgsql":
            raise _Unanalyzable(f"DO block in language {language!r} cannot be analyzed")
        outer = cursor.statement.source
        offset = outer.text.find(body_token.text, body_token.start)
        if offset < 0 or body_token.token_type != TokenType.HEREDOC_STRING:
            offset = body_token.start + 1  # quoted body: positions stay approximate
        body = Source(body_token.text, base=outer, base_offset=offset)
        for child in self._plpgsql_statements(body):
            child.parent = statement
            statement.children.append(child)

    def _plpgsql_statements(self, body: Source) -> list[Statement]:
        """Static SQL statements of a PL/pgSQL block; dynamic EXECUTE is unanalyzable."""
        statements = []
        declaring = False
        for raw in split_statements(body, body.tokenize()):
            cursor = Cursor(raw)
            while not cursor.at_end:
                word = cursor.word()
                if cursor.is_type(TokenType.LT) and cursor.is_type(TokenType.LT, 1):  # <<label>>
                    cursor.advance(5)
                elif word == "DECLARE":
                    declaring = True
                    cursor.advance()
                elif word == "BEGIN":
                    declaring = False
                    cursor.advance()
                elif declaring:
                    cursor.advance()
                elif word in ("IF", "ELSIF", "ELSEIF", "WHILE", "FOR", "FOREACH", "WHEN", "CASE"):
                    stop = [cursor.find_word(w) for w in ("THEN", "LOOP")]
                    stop = [s for s in stop if s is not None]
                    cursor.advance(min(stop) + 1 if stop else len(cursor.rest()))
                elif word in ("END", "ELSE", "LOOP", "EXCEPTION", "THEN"):
                    cursor.advance()
                    cursor.accept_any("IF", "LOOP", "CASE")
                else:
                    break
            if cursor.at_end:
                continue
            word = cursor.word()
            if word in _PLPGSQL_PROCEDURAL or cursor.is_type(TokenType.COLON, 1) or cursor.is_type(TokenType.EQ, 1) or cursor.is_type(TokenType.COLON_EQ, 1):
                continue
            inner = RawStatement(body, cursor.rest())
            if word == "EXECUTE":
                line, column = body.position(inner.start)
                statements.append(
                    Statement(sql=inner.sql, line=line, column=column, end_line=body.line_of(inner.end - 1), kind="execute",
                              unanalyzable="dynamic SQL (EXECUTE) inside a DO block cannot be analyzed")
                )
                continue
            statements.append(self.analyze_statement(inner))
        return statements


class _Unanalyzable(Exception):
    pass


_HARMLESS_CREATE_OBJECTS = {
    "VIEW", "FUNCTION", "PROCEDURE", "TYPE", "DOMAIN", "SCHEMA", "SEQUENCE", "EXTENSION",
    "AGGREGATE", "COLLATION", "CAST", "OPERATOR", "ROLE", "USER", "GROUP", "SERVER",
    "PUBLICATION", "SUBSCRIPTION", "LANGUAGE", "TEXT", "CONVERSION", "EVENT", "FOREIGN",
    "ACCESS", "TRANSFORM", "STATISTICS", "PROCEDURAL", "TRUSTED",
}
_HARMLESS_ALTER_OBJECTS = {
    "VIEW", "FUNCTION", "PROCEDURE", "SCHEMA", "EXTENSION", "AGGREGATE", "COLLATION",
    "OPERATOR", "ROLE", "USER", "GROUP", "SERVER", "PUBLICATION", "SUBSCRIPTION", "LANGUAGE",
    "DATABASE", "TEXT", "CONVERSION", "EVENT", "STATISTICS", "ROUTINE", "TABLESPACE", "LARGE",
}
_PLPGSQL_PROCEDURAL = {
    "RAISE", "RETURN", "NULL", "GET", "PERFORM", "OPEN", "FETCH", "CLOSE", "EXIT", "CONTINUE",
    "ASSERT", "MOVE", "SELECT",
}


_QUERY_WORDS = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE"}

_HANDLERS = {
    "ALTER": Analyzer._alter,
    "CREATE": Analyzer._create,
    "DROP": Analyzer._drop,
    "REINDEX": Analyzer._reindex,
    "LOCK": Analyzer._lock,
    "VACUUM": Analyzer._vacuum,
    "ANALYZE": Analyzer._analyze_stmt,
    "ANALYSE": Analyzer._analyze_stmt,
    "CLUSTER": Analyzer._cluster,
    "REPACK": Analyzer._repack,
    "REFRESH": Analyzer._refresh,
    "SET": Analyzer._set,
    "RESET": Analyzer._reset,
    "SELECT": Analyzer._select,
    "VALUES": Analyzer._harmless,
    "BEGIN": Analyzer._transaction,
    "START": Analyzer._transaction,
    "COMMIT": Analyzer._transaction,
    "END": Analyzer._transaction,
    "ROLLBACK": Analyzer._transaction,
    "ABORT": Analyzer._transaction,
    "SAVEPOINT": Analyzer._transaction,
    "RELEASE": Analyzer._transaction,
    "INSERT": Analyzer._dml,
    "UPDATE": Analyzer._dml,
    "DELETE": Analyzer._dml,
    "MERGE": Analyzer._dml,
    "WITH": Analyzer._dml,
    "TRUNCATE": Analyzer._truncate,
    "COPY": Analyzer._copy,
    "COMMENT": Analyzer._harmless,
    "GRANT": Analyzer._harmless,
    "REVOKE": Analyzer._harmless,
    "NOTIFY": Analyzer._harmless,
    "DISCARD": Analyzer._harmless,
    "SHOW": Analyzer._harmless,
    "SECURITY": Analyzer._harmless,
    "DO": Analyzer._do,
}


# --- small helpers over sqlglot trees and tokens ------------------------------------------
def _identifier_name(node: exp.Expr | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, exp.Identifier):
        return node.this if node.quoted else node.this.lower()
    return _identifier_name(node.this) if isinstance(node.this, exp.Expr) else str(node.this).lower()


def _relation_of(node: exp.Expr | None) -> Relation | None:
    table = node.this if isinstance(node, exp.Schema) else node
    if not isinstance(table, exp.Table):
        return None
    schema = table.args.get("db")
    return Relation(_identifier_name(table.this), _identifier_name(schema) if schema else None)


def _single_action(parsed: exp.Expr | None, kind: type) -> exp.Expr | None:
    if not isinstance(parsed, exp.Alter):
        return None
    actions = parsed.args.get("actions") or []
    if len(actions) == 1 and isinstance(actions[0], kind):
        return actions[0]
    return None


_COLUMN_CONSTRAINT_WORDS = {
    "CONSTRAINT", "NOT", "NULL", "CHECK", "UNIQUE", "PRIMARY KEY", "REFERENCES", "GENERATED", "COLLATE",
    "DEFERRABLE", "INITIALLY", "COMPRESSION", "STORAGE", "ENFORCED", "NO", "DEFAULT",
}


def _until_column_constraint(cursor: Cursor) -> list[Token]:
    """The tokens from here to the next top-level column-constraint keyword (a DEFAULT's expression)."""
    rest = cursor.rest()
    depth = 0
    for offset, token in enumerate(rest):
        if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
        elif depth == 0 and offset and cursor.word(offset) in _COLUMN_CONSTRAINT_WORDS:
            return rest[:offset]
    return rest


def _expression(cursor: Cursor, tokens: list[Token]) -> exp.Expr | None:
    """Consume tokens and parse them as one SQL expression; None if sqlglot cannot."""
    cursor.advance(len(tokens))
    parsed = parse_one("SELECT " + cursor.sql_of(tokens)) if tokens else None
    if not isinstance(parsed, exp.Select) or len(parsed.expressions) != 1:
        return None
    return parsed.expressions[0]


def _skip_index_parameters(cursor: Cursor) -> None:
    """INCLUDE (...), WITH (...), USING INDEX TABLESPACE name after a UNIQUE or PRIMARY KEY."""
    while True:
        if cursor.accept("INCLUDE") or cursor.accept("WITH"):
            cursor.skip_group()
        elif cursor.accept("USING", "INDEX", "TABLESPACE"):
            cursor.advance()
        else:
            return


def _skip_reference_options(cursor: Cursor) -> None:
    """MATCH ... and ON DELETE / ON UPDATE actions after REFERENCES table (cols)."""
    while True:
        if cursor.accept("MATCH"):
            cursor.advance()
        elif cursor.accept("ON"):
            cursor.accept_any("DELETE", "UPDATE")
            if cursor.accept("SET"):
                cursor.accept_any("NULL", "DEFAULT")
                cursor.skip_group()
            elif not cursor.accept("NO", "ACTION"):
                cursor.accept_any("CASCADE", "RESTRICT")
        else:
            return


_TRUE = {"TRUE", "ON", "1", "YES"}
_FALSE = {"FALSE", "OFF", "0", "NO"}


def _options(cursor: Cursor) -> dict[str, bool | str]:
    """A parenthesised option list, `(CONCURRENTLY, FULL false, TABLESPACE x)`, consumed at the cursor.

    Each option is named in upper case; a boolean option without a value is true, as PostgreSQL
    reads it; a value that is not a boolean is kept as its text."""
    options: dict[str, bool | str] = {}
    for part in split_top_level(cursor.skip_group()):
        name = word_of(part[0]).upper() or part[0].text.upper()
        value = " ".join(token.text for token in part[1:]).upper()
        options[name] = True if not value or value in _TRUE else False if value in _FALSE else value
    return options


def _cast_chain(using: exp.Expr, column: str | None) -> list[PgType] | None:
    """The types of `USING col::t1::t2` innermost first; None if USING is any other expression."""
    casts: list[PgType] = []
    node = using
    while isinstance(node, (exp.Paren, exp.Cast)):
        if isinstance(node, exp.Cast):
            cast_type = parse_type(node.to.sql("postgres"))
            if cast_type is None:
                return None
            casts.insert(0, cast_type)
        node = node.this
    if isinstance(node, exp.Column) and not node.table and _identifier_name(node.this) == column:
        return casts
    return None


def _first_identifier(tokens: list[Token]) -> str:
    if len(tokens) == 1 or tokens and tokens[1].text.upper() in ("ASC", "DESC", "NULLS", "COLLATE") or (len(tokens) > 1 and tokens[1].token_type not in (TokenType.L_PAREN, TokenType.DOT) and tokens[0].token_type != TokenType.L_PAREN):
        first = tokens[0]
        return first.text if first.token_type == TokenType.IDENTIFIER else first.text.lower()
    return "(expression)"


def _assigned_columns(cursor: Cursor, word: str) -> tuple[str, ...]:
    """The whole columns an UPDATE's SET list or an INSERT's column list assigns, in order, repeats kept.

    Assignments to a subscript or field (a[1], c.f) are left out: PostgreSQL allows several per column."""
    if word == "INSERT":
        if cursor.accept("AS"):
            cursor.identifier()
        groups = [cursor.skip_group()]
    else:
        at = cursor.find_word("SET")
        if at is None:
            return ()
        cursor.advance(at + 1)
        end = min((i for i in (cursor.find_word(w) for w in ("FROM", "WHERE", "RETURNING")) if i is not None),
                  default=len(cursor.rest()))
        groups = [cursor.rest()[:end]]
    columns = []
    for part in split_top_level(groups[0]):
        if part and part[0].token_type == TokenType.L_PAREN:  # (a, b) = (...)
            inner = Cursor(cursor.statement, part).skip_group()
            columns += [fold(p[0]) for p in split_top_level(inner) if len(p) == 1]
        elif part and (word == "INSERT" and len(part) == 1 or word == "UPDATE" and len(part) > 1
                       and part[1].token_type == TokenType.EQ):
            columns.append(fold(part[0]))
    return tuple(columns)


def _column_list(cursor: Cursor) -> tuple[str, ...]:
    inner = cursor.skip_group()
    return tuple(_first_identifier(part) for part in split_top_level(inner))


def _is_not_null_check(cursor: Cursor) -> str | None:
    """The column of a `CHECK (col IS NOT NULL)`, else None."""
    tokens = cursor.tokens
    while len(tokens) >= 2 and tokens[0].token_type == TokenType.L_PAREN and tokens[-1].token_type == TokenType.R_PAREN:
        tokens = tokens[1:-1]
    inner = Cursor(cursor.statement, tokens)
    column = inner.identifier()
    if column and inner.accept("IS", "NOT", "NULL") and inner.at_end:
        return column
    return None


def _has_not_valid(cursor: Cursor) -> bool:
    """NOT VALID anywhere at the top level of the rest of an action."""
    words = [cursor.word(offset) for offset in range(len(cursor.rest()))]
    return any(a == "NOT" and b == "VALID" for a, b in zip(words, words[1:]))


def _without_words(cursor: Cursor, *words: str) -> list[Token]:
    rest = cursor.rest()
    while rest and rest[-1].text.upper() in words:
        rest = rest[:-1]
    return rest
