"""Data changes: INSERT, UPDATE, DELETE, MERGE, WITH queries, TRUNCATE and COPY."""

from __future__ import annotations

from sqlglot.tokens import TokenType

from migrator.analysis.facts import Action, Lock, Statement, Unanalyzable
from migrator.analysis.reading import without_words
from migrator.sqltext import Cursor, RawStatement, fold, split_top_level, word_of


class Dml:
    """INSERT, UPDATE, DELETE, MERGE, WITH, TRUNCATE and COPY."""

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
                raise Unanalyzable("WITH query form is not understood")
            cursor.accept("NOT")
            cursor.accept("MATERIALIZED")
            if not cursor.is_type(TokenType.L_PAREN):
                raise Unanalyzable("WITH query form is not understood")
            parts.append(cursor.skip_group())
            if not cursor.is_type(TokenType.COMMA):
                break
            cursor.advance()
        if cursor.word() not in _QUERY_WORDS and not cursor.is_type(TokenType.L_PAREN):
            raise Unanalyzable(f"WITH query followed by {cursor.word() or '?'} is not understood")
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
        for part in split_top_level(without_words(cursor, "CASCADE", "RESTRICT", "RESTART", "CONTINUE", "IDENTITY")):
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


_QUERY_WORDS = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE"}


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
