"""ALTER TABLE: its actions, column definitions (shared with CREATE TABLE) and the facts of each action."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from migrator.analysis.constraints import skip_index_parameters, skip_reference_options
from migrator.analysis.facts import Action, Lock, Statement, Unanalyzable
from migrator.analysis.reading import (
    column_list,
    identifier_name,
    is_not_null_check,
    read_expression,
    single_action,
    volatile_functions,
)
from migrator.pgtypes import PgType, parse_type, read_type
from migrator.sqltext import Cursor, Relation, parse_one, quote_identifier, split_top_level


class AlterTable:
    """ALTER TABLE actions and the column definitions of ADD COLUMN and CREATE TABLE."""

    def _alter_table(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "alter_table"
        if cursor.has_words("ALL", "IN", "TABLESPACE"):
            raise Unanalyzable("ALTER TABLE ALL IN TABLESPACE moves every table: not analyzable per table")
        cursor.accept("IF", "EXISTS")
        cursor.accept("ONLY")
        table = cursor.relation()
        if table is None:
            raise Unanalyzable("expected a table name")
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
            if cursor.word() in ("CONSTRAINT", "CHECK", "UNIQUE", "PRIMARY KEY", "FOREIGN KEY", "EXCLUDE", "NOT"):
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
        if word in ("ENABLE", "DISABLE", "FORCE") or cursor.has_words("NO", "FORCE"):
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
            rest = set(cursor.rest_words())
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
            given, name = name, None  # a CONSTRAINT name belongs to the constraint right after it
            if cursor.accept("NOT", "NULL"):
                action.not_null = True
            elif cursor.accept("NULL") or cursor.accept("NOT", "DEFERRABLE") or cursor.accept("DEFERRABLE") \
                    or cursor.accept("NOT", "ENFORCED") or cursor.accept("ENFORCED") or cursor.accept("NO", "INHERIT"):
                pass
            elif cursor.accept_any("COLLATE", "COMPRESSION", "STORAGE", "INITIALLY"):
                cursor.advance()
            elif cursor.accept("DEFAULT"):
                expression = read_expression(cursor, _until_column_constraint(cursor))
                if expression is None:
                    return Action(kind="unanalyzable", sql=action.sql)
                action.default = expression
            elif cursor.accept("PRIMARY KEY") or cursor.accept("UNIQUE"):
                primary = cursor.tokens[cursor.index - 1].text.upper().startswith("PRIMARY")
                constraint = _column_constraint(action, given, "primary_key" if primary else "unique")
                action.not_null |= primary
                cursor.accept("NULLS", "NOT", "DISTINCT") or cursor.accept("NULLS", "DISTINCT")
                skip_index_parameters(cursor)
                action.column_constraints.append(constraint)
            elif cursor.accept("REFERENCES"):
                constraint = _column_constraint(action, given, "foreign_key")
                constraint.references = cursor.relation()
                constraint.referenced_columns = column_list(cursor)
                skip_reference_options(cursor)
                action.column_constraints.append(constraint)
            elif cursor.accept("CHECK"):
                constraint = _column_constraint(action, given, "check")
                constraint.check_not_null_column = is_not_null_check(Cursor(cursor.statement, cursor.skip_group()))
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
            node = single_action(parsed, exp.AlterColumn)
            if node is not None:
                action.kind = "set_default"
                action.default = node.args.get("default")
        elif cursor.accept("TYPE") or cursor.accept("SET", "DATA", "TYPE"):
            action.data_type = read_type(cursor)
            if cursor.accept("COLLATE"):
                cursor.advance()
            action.using_casts = []
            if cursor.accept("USING"):
                action.using = read_expression(cursor, cursor.rest())
                if action.using is None:
                    return action
                action.using_casts = _cast_chain(action.using, action.column)
            if action.data_type is not None and cursor.at_end:
                action.kind = "alter_column_type"
                action.partner_lock = Lock.ACCESS_EXCLUSIVE  # PostgreSQL rebuilds the column's foreign keys
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
            elif action.not_null and action.generated is None and (action.default is None or isinstance(action.default, exp.Null)):
                action.scans = True  # no value to fill it with: PostgreSQL reads every row to check none exists
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


_COLUMN_CONSTRAINT_WORDS = {
    "CONSTRAINT", "NOT", "NULL", "CHECK", "UNIQUE", "PRIMARY KEY", "REFERENCES", "GENERATED", "COLLATE",
    "DEFERRABLE", "INITIALLY", "COMPRESSION", "STORAGE", "ENFORCED", "NO", "DEFAULT",
}


def _column_constraint(column: Action, name: str | None, constraint_type: str) -> Action:
    """A constraint written in a column's definition (made only once the definition has one)."""
    return Action(kind="column_constraint", constraint=name, columns=(column.column,), constraint_type=constraint_type)


def _until_column_constraint(cursor: Cursor) -> list[Token]:
    """The tokens from here to the next top-level column-constraint keyword (a DEFAULT's expression)."""
    rest = cursor.rest()
    depth = 0
    for offset, token in enumerate(rest):
        if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
        elif depth == 0 and offset and cursor.statement.word(token) in _COLUMN_CONSTRAINT_WORDS:
            return rest[:offset]
    return rest


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
    if isinstance(node, exp.Column) and not node.table and identifier_name(node.this) == column:
        return casts
    return None
