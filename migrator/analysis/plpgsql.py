"""PL/pgSQL bodies: the static SQL statements of a DO block, each analyzed like a top-level one."""

from __future__ import annotations

import re

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
            statements.append(self._execute(body, inner) if word == "EXECUTE" else self.analyze_statement(inner))
        return statements

    def _execute(self, body: Source, inner: RawStatement) -> Statement:
        """EXECUTE of a constant, or of format() over a constant template whose %I and %L fill in
        names and values (not the table's name): analyzed as the statement it runs, at the EXECUTE's
        position. Any other dynamic SQL is unanalyzable."""
        line, column = body.position(inner.start)
        dynamic = Statement(sql=inner.sql, line=line, column=column, end_line=body.line_of(inner.end - 1), kind="execute",
                            unanalyzable="dynamic SQL (EXECUTE) inside a DO block cannot be analyzed")
        cursor = Cursor(inner)
        cursor.advance()
        if cursor.word() == "FORMAT" and cursor.is_type(TokenType.L_PAREN, 1):
            cursor.advance()
            arguments = cursor.skip_group()
            constant = arguments[:1] if arguments and arguments[0].token_type in STRING_TOKENS else []
            template = _filled(constant[0].text) if constant and (len(arguments) == 1 or
                                                                   arguments[1].token_type == TokenType.COMMA) else None
        else:
            template = cursor.string()
        if template is None or not (cursor.at_end or cursor.word() in ("INTO", "USING")):
            return dynamic
        try:
            source = Source(template)
            raws = split_statements(source, source.tokenize())
        except Exception:  # not SQL the tokenizer reads: stays unanalyzable
            return dynamic
        if len(raws) != 1:
            return dynamic
        statement = self.analyze_statement(raws[0])
        if any(RUN_TIME_NAME in str(target.relation) for target in statement.locks) or \
                RUN_TIME_NAME in str(statement.relation):
            dynamic.unanalyzable = "dynamic SQL (EXECUTE) names the table it changes at run time"
            return dynamic
        statement.line, statement.column, statement.end_line = dynamic.line, dynamic.column, dynamic.end_line
        return statement


# What format()'s %I fills in, in the statement an EXECUTE is analyzed as: a name known at run time.
RUN_TIME_NAME = "name_known_at_run_time"
_FORMAT_SPEC = re.compile(r"%(?:\d+\$)?(.)")


def _filled(template: str) -> str | None:
    """A format() template with %I as RUN_TIME_NAME and %L as NULL; None when it has another
    specifier (%s pastes text of any kind, widths and flags change the text)."""
    kinds = {"%": "%", "I": RUN_TIME_NAME, "L": "NULL"}
    if any(match[1] not in kinds for match in _FORMAT_SPEC.finditer(template)):
        return None
    return _FORMAT_SPEC.sub(lambda match: kinds[match[1]], template)


_PLPGSQL_PROCEDURAL = {
    "RAISE", "RETURN", "NULL", "GET", "PERFORM", "OPEN", "FETCH", "CLOSE", "EXIT", "CONTINUE",
    "ASSERT", "MOVE", "SELECT",
}
