"""The shared statement analyzer: SQL text -> one typed fact record per statement.

Used alike by the linter, the planner and the executor. For every statement it says what kind
of statement it is, which relations it locks and how strongly (per the PostgreSQL docs), whether
it rewrites or scans a table, whether it may not run inside a transaction block, and which
timeouts it sets. A statement it cannot classify carries ``unanalyzable`` with the reason: it is
never assumed safe.
"""

from __future__ import annotations

from sqlglot.tokens import Token, TokenType

from migrator.analysis.alter_table import AlterTable
from migrator.analysis.constraints import Constraints
from migrator.analysis.dml import Dml
from migrator.analysis.facts import Action, Lock, LockTarget, Routine, Setting, Statement, Unanalyzable
from migrator.analysis.indexes import Indexes
from migrator.analysis.maintenance import Maintenance
from migrator.analysis.objects import Objects
from migrator.analysis.plpgsql import Plpgsql
from migrator.analysis.reading import VOLATILE_FUNCTIONS, touches_no_table, volatile_functions
from migrator.analysis.transactions import Transactions
from migrator.analysis.types import Types
from migrator.sqltext import Cursor, RawStatement, Source, split_statements, syntax_problem

__all__ = [
    "VOLATILE_FUNCTIONS", "Action", "Analyzer", "Lock", "LockTarget", "Setting", "Statement", "touches_no_table", "volatile_functions",
]


class Analyzer(Objects, AlterTable, Constraints, Indexes, Types, Maintenance, Transactions, Dml, Plpgsql):
    """Turns SQL text into Statement facts for one PostgreSQL major version.

    Each statement family is read by its own module of migrator.analysis (ALTER TABLE actions,
    constraints, indexes, types and domains, maintenance commands, transactions and settings, data
    changes, PL/pgSQL bodies); this class dispatches on a statement's first word."""

    def __init__(self, pg_version: int = 15):
        self.pg_version = pg_version

    def analyze(self, text: str) -> list[Statement]:
        """Analyze a whole file. Raises SqlSyntaxError if it cannot even be tokenized."""
        source = Source(text)
        return self.analyze_source(source, source.tokenize())

    def analyze_source(self, source: Source, tokens: list[Token], breaks: list[int] = (),
                       routines: dict[str, Routine] | None = None) -> list[Statement]:
        """Every statement of a source; breaks: offsets where a statement ends without a semicolon;
        routines: the functions and procedures the migration created before this source (by name),
        updated with those it creates (a fresh migration when None)."""
        routines = {} if routines is None else routines
        statements = []
        for index, raw in enumerate(split_statements(source, tokens, breaks)):
            statement = self.analyze_statement(raw)
            statement.syntax_error = syntax_problem(raw)
            if statement.syntax_error:
                statement.unanalyzable = f"syntax error: {statement.syntax_error}"
            self.follow_calls(statement, raw.tokens, routines)
            statement.index = index
            statements.append(statement)
        return statements

    def analyze_statement(self, raw: RawStatement) -> Statement:
        line, column = raw.source.position(raw.start)
        end_line = raw.source.line_of(raw.end - 1)
        statement = Statement(sql=raw.sql, line=line, column=column, end_line=end_line, kind="unknown")
        cursor = Cursor(raw)
        head = cursor.word()
        handler = Analyzer._psql_meta if cursor.is_type(TokenType.BACKSLASH) else _HANDLERS.get(head)
        if handler is None:
            statement.unanalyzable = f"statement kind {head or raw.tokens[0].text!r} is not understood"
            return statement
        try:
            handler(self, cursor, statement)
        except Unanalyzable as reason:
            statement.unanalyzable = str(reason)
        except (IndexError, AttributeError, TypeError, ValueError) as error:  # malformed input we did not foresee
            statement.unanalyzable = f"malformed or unsupported statement ({type(error).__name__})"
        for target_action in statement.actions:
            if target_action.kind == "unanalyzable":
                statement.unanalyzable = f"cannot analyze {target_action.sql!r}"
        return statement

    def _harmless(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = cursor.word().lower()


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
    "TABLE": Analyzer._select,  # TABLE t: SELECT * FROM t
    "DECLARE": Analyzer._select,  # DECLARE c CURSOR FOR query: the query, read as its rows are fetched
    "FETCH": Analyzer._harmless,
    "MOVE": Analyzer._harmless,
    "CLOSE": Analyzer._harmless,
    "PREPARE": Analyzer._harmless,  # defines a statement; EXECUTE of it runs what this file does not show here
    "EXPLAIN": Analyzer._explain,
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
    "REASSIGN": Analyzer._reassign_owned,
    "COPY": Analyzer._copy,
    "COMMENT": Analyzer._harmless,
    "GRANT": Analyzer._harmless,
    "REVOKE": Analyzer._harmless,
    "NOTIFY": Analyzer._harmless,
    "LISTEN": Analyzer._harmless,
    "UNLISTEN": Analyzer._harmless,
    "CHECKPOINT": Analyzer._harmless,
    "LOAD": Analyzer._harmless,
    "DEALLOCATE": Analyzer._harmless,
    "IMPORT": Analyzer._harmless,  # IMPORT FOREIGN SCHEMA: new foreign tables only
    "DISCARD": Analyzer._harmless,
    "SHOW": Analyzer._harmless,
    "SECURITY": Analyzer._harmless,
    "DO": Analyzer._do,
    "CALL": Analyzer._call,
}
