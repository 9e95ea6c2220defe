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
        if word in ("UPDATE", "INSERT", "MERGE"):
            for whole, partial in _assignment_lists(cursor, word):
                statement.actions.append(Action(kind="assign", sql=statement.sql, columns=whole, partial_columns=partial))

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
        if cursor.accept("FROM", "STDIN"):  # its rows come from the client (psql sends the lines after it)
            statement.actions.append(Action(kind="copy_from_client", sql=statement.sql))


_QUERY_WORDS = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE"}


def _assignment_lists(cursor: Cursor, word: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each list of columns the statement assigns (an UPDATE's SET list, an INSERT's column list and its
    ON CONFLICT DO UPDATE SET list, each WHEN clause of a MERGE): (whole columns, columns of which only
    an element or field is assigned), in order, repeats kept."""
    lists = []
    if word == "INSERT":
        if cursor.accept("AS"):
            cursor.identifier()
        if cursor.is_type(TokenType.L_PAREN) and cursor.word(1) not in _QUERY_WORDS | {"WITH"}:  # not INSERT INTO t (SELECT ...)
            lists.append(_column_targets(cursor, cursor.skip_group()))
    here, depth = Cursor(cursor.statement, cursor.rest()), 0
    while not here.at_end:
        token_type = here.peek().token_type
        depth += token_type in (TokenType.L_PAREN, TokenType.L_BRACKET)
        depth -= token_type in (TokenType.R_PAREN, TokenType.R_BRACKET)
        if depth == 0 and (word == "UPDATE" and here.has_words("SET") or here.has_words("UPDATE", "SET")):
            here.advance(1 if word == "UPDATE" else 2)
            end = min((i for i in map(here.find_word, ("FROM", "WHERE", "RETURNING", "WHEN")) if i is not None),
                      default=len(here.rest()))
            lists.append(_column_targets(cursor, here.rest()[:end], set_list=True))
            if word == "UPDATE":
                break
        elif depth == 0 and word == "MERGE" and here.has_words("THEN", "INSERT") and here.is_type(TokenType.L_PAREN, 2):
            here.advance(2)
            lists.append(_column_targets(cursor, here.skip_group()))
            continue
        here.advance()
    return lists


def _column_targets(cursor: Cursor, tokens, set_list: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    whole, partial = [], []
    for part in split_top_level(tokens):
        if set_list and part and part[0].token_type == TokenType.L_PAREN:  # (a, b) = (...)
            inner = Cursor(cursor.statement, part).skip_group()
            targets = split_top_level(inner)
        elif set_list:
            at = next((i for i, t in enumerate(part) if t.token_type == TokenType.EQ), len(part))
            targets = [part[:at]]
        else:
            targets = [part]
        for target in targets:
            if target:
                (whole if len(target) == 1 else partial).append(fold(target[0]))
    return tuple(whole), tuple(partial)
