"""PL/pgSQL bodies: the static SQL statements of a DO block, each analyzed like a top-level one, and
the bodies of the functions and procedures a migration creates, analyzed where it calls them."""

from __future__ import annotations

import re

from sqlglot.tokens import Token, TokenType

from migrator.analysis.facts import Routine, Statement, Unanalyzable
from migrator.sqltext import STRING_TOKENS, Cursor, RawStatement, Source, SqlSyntaxError, fold, split_statements

# Statements that run the routines they call (a DROP FUNCTION f() or GRANT ... ON FUNCTION f() names
# one without running it; a DEFAULT or GENERATED expression of a new table runs on no rows)
_CALLING_KINDS = frozenset({"select", "values", "insert", "update", "delete", "merge", "with", "call", "do"})
_MAX_CALL_DEPTH = 8  # routines calling routines: deeper chains are cut (recursion is never followed)


class Plpgsql:
    """DO blocks, CALL, and calls of the routines a migration creates."""

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
        for child in self._plpgsql_statements(body, body.tokenize()):
            child.parent = statement
            statement.children.append(child)

    def _call(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "call"
        raise Unanalyzable("CALL of a procedure this migration does not create: what it does cannot be analyzed")

    def follow_calls(self, statement: Statement, tokens: list[Token], routines: dict[str, Routine]) -> None:
        """Remember the routine a statement creates (routines: those created so far in the migration, by
        name). A statement that calls routines the migration created runs their bodies: their statements
        become its children, at its position, as a DO block's do."""
        if statement.routine is not None:
            routines[statement.routine.name.name] = statement.routine
            return
        if not routines or statement.kind not in _CALLING_KINDS or statement.syntax_error:
            return
        called = _calls(_body_tokens(tokens) if statement.kind == "do" else tokens, routines)
        if statement.kind == "call" and called:
            statement.unanalyzable = None
        for routine in called:
            self._run_routine(routine, statement, routines, (routine.name.name,))

    def _run_routine(self, routine: Routine, call: Statement, routines: dict[str, Routine], calling: tuple[str, ...]) -> None:
        """Add the statements of routine's body (and of the routines it calls in turn) to call's children.

        What the analyzer reads of the body is added; what it cannot (a body in another language, dynamic
        EXECUTE, a body it cannot tokenize) stays as unknown as the body of a routine the migration did
        not create, whose calls are not reported either: knowing the body only ever adds facts to the call."""
        read = routine_body(routine)
        if read is None:
            return
        language, text = read
        body = Source(text)
        try:
            tokens = body.tokenize()
            # a SQL body's SELECTs compute the result, as PL/pgSQL's SELECT INTO (left out there too) computes values
            statements = self._plpgsql_statements(body, tokens) if language == "plpgsql" else \
                [self.analyze_statement(raw) for raw in split_statements(body, tokens) if raw.word(raw.tokens[0]) != "SELECT"]
        except SqlSyntaxError:
            return
        for child in statements:
            if any(part.unanalyzable for part in child.walk()):
                continue
            for part in child.walk():
                part.line, part.column, part.end_line = call.line, call.column, call.line
            child.parent = call
            call.children.append(child)
        if len(calling) < _MAX_CALL_DEPTH:
            for inner in _calls(tokens, routines):
                if inner.name.name not in calling:
                    self._run_routine(inner, call, routines, (*calling, inner.name.name))

    def _plpgsql_statements(self, body: Source, tokens: list[Token]) -> list[Statement]:
        """Static SQL statements of a PL/pgSQL block (tokens: the body's); dynamic EXECUTE is unanalyzable."""
        statements = []
        declaring = False
        for raw in split_statements(body, tokens):
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
                            unanalyzable="dynamic SQL (EXECUTE) in a PL/pgSQL body cannot be analyzed")
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


def routine_body(routine: Routine) -> tuple[str, str] | None:
    """(language, text) of a routine's body when it is PL/pgSQL or SQL (AS 'body', or a BEGIN ATOMIC
    body); None for other languages (C, plpython...), read once."""
    if not routine.read:
        routine.read, routine.body = True, _body_of(Cursor(*routine.definition))
    return routine.body


def _body_of(cursor: Cursor) -> tuple[str, str] | None:
    cursor.skip_group()  # the arguments
    tokens, words = cursor.rest(), cursor.rest_words()
    language, body = None, None
    for position, word in enumerate(words[:-1]):
        following = tokens[position + 1]
        if word == "LANGUAGE":
            language = following.text.lower() if following.token_type in STRING_TOKENS else fold(following)
        elif word == "AS" and body is None and following.token_type in STRING_TOKENS:
            body = following.text
        elif word == "BEGIN" and words[position + 1] == "ATOMIC" and words[-1] == "END":
            language, body = "sql", cursor.sql_of(tokens[position + 2 : -1])
            break
    return (language, body) if body is not None and language in ("plpgsql", "sql") else None


def _calls(tokens: list[Token], routines: dict[str, Routine]) -> list[Routine]:
    """The routines called in tokens (a name, schema-qualified or not, before a parenthesis), each once, in order."""
    found: list[Routine] = []
    for position, token in enumerate(tokens[:-1]):
        if tokens[position + 1].token_type != TokenType.L_PAREN or token.token_type in STRING_TOKENS:
            continue
        routine = routines.get(fold(token))
        if routine is None or any(routine is seen for seen in found):
            continue
        schema = fold(tokens[position - 2]) if position >= 2 and tokens[position - 1].token_type == TokenType.DOT else None
        if schema is None or routine.name.schema is None or schema == routine.name.schema:
            found.append(routine)
    return found


def _body_tokens(tokens: list[Token]) -> list[Token]:
    """The tokens of a DO block's body (its string), where its calls are; none if it cannot be tokenized."""
    for token in tokens:
        if token.token_type in STRING_TOKENS:
            try:
                return Source(token.text).tokenize()
            except SqlSyntaxError:
                return []
    return []


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
