"""CREATE and DROP of tables (also from a query) and the other schema objects, and the ALTER dispatcher."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import TokenType

from migrator.analysis.facts import Action, Lock, Routine, Statement, Unanalyzable
from migrator.analysis.reading import column_list, first_identifier, identifier_name, output_names, relation_of, without_words
from migrator.sqltext import Cursor, Relation, parse_one, split_top_level


class Objects:
    """ALTER (dispatch), CREATE and DROP."""

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
            # RENAME, SET SCHEMA, OWNER TO, SET [UN]LOGGED go through ALTER TABLE's paths; the sequence's own
            # options (RESTART, INCREMENT, OWNED BY ...) through AlterSequence's SHARE ROW EXCLUSIVE
            catalog = cursor.word() in ("RENAME", "OWNER") or cursor.word() == "SET" and cursor.word(1) in (
                "SCHEMA", "LOGGED", "UNLOGGED")
            statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE if catalog else Lock.SHARE_ROW_EXCLUSIVE, "sequence")
        elif cursor.accept("TRIGGER") or cursor.accept("POLICY") or cursor.accept("RULE"):
            statement.kind = "alter_" + cursor.tokens[1].text.lower()
            cursor.identifier()
            if not cursor.accept("ON"):
                raise Unanalyzable("expected ON table")
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
            raise Unanalyzable(f"ALTER {cursor.word() or '?'} is not understood")

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
        cursor.accept("RECURSIVE")  # CREATE RECURSIVE VIEW
        if cursor.accept("TRIGGER") or cursor.accept("POLICY") or cursor.accept("RULE"):
            statement.kind = "create_" + cursor.tokens[cursor.index - 1].text.lower()
            cursor.identifier()
            # a rule names its table after its event: CREATE RULE r AS ON INSERT TO table
            word = "TO" if statement.kind == "create_rule" else "ON"
            at = cursor.find_word(word)
            if at is None:
                raise Unanalyzable(f"expected {word} table")
            cursor.advance(at + 1)
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
        if _cluster_object(cursor, statement, "CREATE"):
            return
        word = cursor.word()
        if word in _HARMLESS_CREATE_OBJECTS:
            statement.kind = "create_" + word.lower()
            cursor.advance()
            foreign_table = word == "FOREIGN" and cursor.accept("TABLE")
            cursor.accept("IF", "NOT", "EXISTS")
            statement.relation = cursor.relation()
            if foreign_table:  # its columns are defined as a table's are
                columns = tuple(first_identifier(part) for part in split_top_level(cursor.skip_group())
                                if Cursor(cursor.statement, part).word() not in ("CONSTRAINT", "CHECK", "LIKE"))
                statement.actions.append(Action(kind="output_columns", sql=statement.sql, columns=columns))
            elif word == "VIEW":
                self._view_columns(cursor, statement)
            elif word == "FUNCTION":  # what a DEFAULT calling it later in the migration costs depends on this
                volatility = next((w.lower() for w in cursor.rest_words()
                                   if w in ("IMMUTABLE", "STABLE", "VOLATILE")), "volatile")
                statement.actions.append(Action(kind="function_volatility", value=volatility, sql=statement.sql))
            if word in ("FUNCTION", "PROCEDURE") and statement.relation is not None:
                statement.routine = Routine(statement.relation, [cursor.statement, cursor.rest()])
            return
        raise Unanalyzable(f"CREATE {word or '?'} is not understood")

    def _create_table(self, cursor: Cursor, statement: Statement, temporary: bool = False) -> None:
        statement.kind = "create_table"
        statement.if_not_exists = bool(cursor.accept("IF", "NOT", "EXISTS"))
        statement.relation = cursor.relation()
        if statement.relation is None:
            raise Unanalyzable("expected a table name")
        if temporary and statement.relation.schema is None:
            statement.relation = Relation(statement.relation.name, "pg_temp")
        if cursor.accept("PARTITION", "OF"):
            parent = cursor.relation()
            statement.add_lock(parent, Lock.ACCESS_EXCLUSIVE, "parent")
        as_at = cursor.find_word("AS")
        if as_at is not None:
            start = cursor.index
            named = column_list(cursor) if cursor.is_type(TokenType.L_PAREN) else ()  # CREATE TABLE t (a, b) AS
            cursor.index = start + as_at + 1
            self._table_from_query(cursor, statement, named)
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
        if cursor.accept("INHERITS"):  # each parent: SHARE UPDATE EXCLUSIVE, as PostgreSQL merges its columns
            for parent in split_top_level(cursor.skip_group()):
                statement.add_lock(Cursor(cursor.statement, parent).relation(), Lock.SHARE_UPDATE_EXCLUSIVE, "parent")
        on_commit = cursor.find_word("COMMIT")
        if on_commit is not None and cursor.word(on_commit - 1) == "ON":  # ON COMMIT DROP | DELETE ROWS | PRESERVE ROWS
            statement.actions.append(Action(kind="on_commit", value=cursor.word(on_commit + 1).lower(), sql=statement.sql))
        inner = Cursor(cursor.statement, body)
        while not inner.at_end:  # a new, empty table: only the tables it references are locked
            if inner.accept("REFERENCES"):
                referenced = inner.relation()
                if not _names_itself(statement.relation, referenced):  # a tree's parent key: no one else's table
                    statement.add_lock(referenced, Lock.SHARE_ROW_EXCLUSIVE, "referenced")
            else:
                inner.advance()

    def _table_from_query(self, cursor: Cursor, statement: Statement, named: tuple[str, ...] = ()) -> None:
        """CREATE TABLE ... AS / SELECT INTO: a new table, filled by reading the query's tables; named: its
        column names when the statement lists them."""
        statement.kind = "create_table_as"
        words = cursor.rest_words()
        with_data = words[-3:] != ["WITH", "NO", "DATA"]
        tail = 3 if not with_data else 2 if words[-2:] == ["WITH", "DATA"] else 0
        query_tokens = cursor.rest()[: len(words) - tail]
        query = parse_one(cursor.sql_of(query_tokens)) if cursor.word() != "EXECUTE" else None
        if query is None:
            raise Unanalyzable("the query of CREATE TABLE ... AS is not understood")
        statement.actions.append(Action(kind="output_columns", sql=statement.sql, columns=named or output_names(query)))
        ctes = {identifier_name(cte.args.get("alias")) for cte in query.find_all(exp.CTE)}
        for table in query.find_all(exp.Table):
            source = None if table.find_ancestor(exp.Into) else relation_of(table)
            if source is not None and source.name not in ctes and source != statement.relation:
                statement.add_lock(source, Lock.ACCESS_SHARE)
        statement.scans = with_data and bool(statement.locks)

    def _view_columns(self, cursor: Cursor, statement: Statement) -> None:
        """The column names a view gets: its own list, else its query's output names."""
        named = column_list(cursor) if cursor.is_type(TokenType.L_PAREN) else ()
        as_at = cursor.find_word("AS")
        if not named and as_at is not None:
            cursor.advance(as_at + 1)
            named = output_names(parse_one(cursor.rest_sql()))
        statement.actions.append(Action(kind="output_columns", sql=statement.sql, columns=named))

    def _reassign_owned(self, cursor: Cursor, statement: Statement) -> None:
        """REASSIGN OWNED BY role, ... TO role: ALTER ... OWNER TO on every object each role owns in the database,
        ACCESS EXCLUSIVE on each of its tables until the transaction ends."""
        statement.kind = "reassign_owned"
        if not (cursor.accept("REASSIGN") and cursor.accept("OWNED") and cursor.accept("BY")):
            raise Unanalyzable("REASSIGN form is not understood")
        to = cursor.find_word("TO")
        if to is None:
            raise Unanalyzable("REASSIGN OWNED without TO")
        for role in split_top_level(cursor.rest()[:to]):
            statement.add_lock(Relation(Cursor(cursor.statement, role).identifier() or "?"), Lock.ACCESS_EXCLUSIVE,
                               "owned_by")

    # -- DROP ----------------------------------------------------------------------------
    def _drop(self, cursor: Cursor, statement: Statement) -> None:
        cursor.accept("DROP")
        if cursor.accept("INDEX"):
            statement.kind = "drop_index"
            statement.concurrently = bool(cursor.accept("CONCURRENTLY"))
            statement.if_exists = cursor.accept("IF", "EXISTS")
            names = [Cursor(cursor.statement, part).relation() for part in split_top_level(without_words(cursor, "CASCADE", "RESTRICT"))]
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
            for part in split_top_level(without_words(cursor, "CASCADE", "RESTRICT")):
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
        if _cluster_object(cursor, statement, "DROP"):
            return
        if cursor.accept("MATERIALIZED", "VIEW"):
            statement.kind = "drop_materialized_view"
            return
        word = cursor.word()
        if word in _HARMLESS_CREATE_OBJECTS or word in ("OWNED", "ROLE", "USER", "GROUP", "ROUTINE"):
            statement.kind = "drop_" + word.lower()
            cursor.advance()
            statement.if_exists = cursor.accept("IF", "EXISTS")
            return
        raise Unanalyzable(f"DROP {word or '?'} is not understood")


def _cluster_object(cursor: Cursor, statement: Statement, verb: str) -> bool:
    """CREATE or DROP DATABASE | TABLESPACE (after `verb`): no table lock, never in a transaction block."""
    if not (cursor.accept("DATABASE") or cursor.accept("TABLESPACE")):
        return False
    word = cursor.tokens[cursor.index - 1].text.upper()
    statement.kind = f"{verb.lower()}_{word.lower()}"
    statement.no_transaction = f"{verb} {word} cannot run inside a transaction block"
    return True


_HARMLESS_CREATE_OBJECTS = {
    "VIEW", "FUNCTION", "PROCEDURE", "TYPE", "DOMAIN", "SCHEMA", "SEQUENCE", "EXTENSION",
    "AGGREGATE", "COLLATION", "CAST", "OPERATOR", "ROLE", "USER", "GROUP", "SERVER",
    "PUBLICATION", "SUBSCRIPTION", "LANGUAGE", "TEXT", "CONVERSION", "EVENT", "FOREIGN",
    "ACCESS", "TRANSFORM", "STATISTICS", "PROCEDURAL", "TRUSTED",
}


_HARMLESS_ALTER_OBJECTS = {
    "VIEW", "FUNCTION", "PROCEDURE", "SCHEMA", "EXTENSION", "AGGREGATE", "COLLATION",
    "OPERATOR", "ROLE", "USER", "GROUP", "SERVER", "PUBLICATION", "SUBSCRIPTION", "LANGUAGE",
    "DATABASE", "TEXT", "CONVERSION", "EVENT", "STATISTICS", "ROUTINE", "TABLESPACE", "LARGE", "FOREIGN",
}


def _names_itself(table: Relation | None, referenced: Relation | None) -> bool:
    """Whether a REFERENCES in CREATE TABLE names the table being created: a bare name finds it first (a
    temporary table before any other, a permanent one in the schema CREATE puts it in, public by default)."""
    if table is None or referenced is None or table.name != referenced.name:
        return False
    schemas = {table.schema, referenced.schema}
    return len(schemas) == 1 or schemas in ({None, "pg_temp"}, {None, "public"})
