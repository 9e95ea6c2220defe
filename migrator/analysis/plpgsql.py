"""PL/pgSQL bodies: the static SQL statements of a DO block, each analyzed like a top-level one."""

from __future__ import annotations

from sqlglot.tokens import TokenType

from migrator.analysis.facts import Statement, Unanalyzable
from migrator.sqltext import STRING_TOKENS, Cursor, RawStatement, Source, split_statements


class Plpgsql:
    """DO blocks."""

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
                raise Unanalyzable("DO form is not understood")
        if body_token is None:
            raise Unanalyzable("DO without a body")
        if language != "plpgsql":
            raise Unanalyzable(f"DO block in language {language!r} cannot be analyzed")
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
                    if word == "END" and len(cursor.rest()) == 1 and cursor.identifier():  # END label
                        continue
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


_PLPGSQL_PROCEDURAL = {
    "RAISE", "RETURN", "NULL", "GET", "PERFORM", "OPEN", "FETCH", "CLOSE", "EXIT", "CONTINUE",
    "ASSERT", "MOVE", "SELECT",
}
