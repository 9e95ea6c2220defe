"""SQL text handling on top of sqlglot's PostgreSQL tokenizer: statements, positions, cursors.

sqlglot's compiled parser (``sqlglot[c]``) cannot be subclassed, but its tokenizer can. We
tokenize with a PostgreSQL tokenizer that never swallows the rest of a statement as one opaque
string (``DO``, ``REINDEX``, ``LOCK``, ``VACUUM`` ...), split on top-level semicolons, and hand
statement fragments to sqlglot's parser where an expression tree is needed.
"""

from __future__ import annotations

import bisect
import logging
import re
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from migrator.pgnames import index_name_addition, make_object_name, quote_identifier  # noqa: F401 (re-exported)


class MigratorPostgres(Postgres):
    """PostgreSQL dialect whose tokenizer keeps every statement fully tokenized."""

    class Tokenizer(Postgres.Tokenizer):
        COMMANDS: set = set()


DIALECT = MigratorPostgres()
_TOKENIZER = DIALECT.tokenizer()  # one instance: building a tokenizer core per call is measurable
_PARSER = DIALECT.parser()


# Flyway's and Liquibase's ${name}; Synapse's $%NAME%$ (`$%AUTO_INCREMENT_PRIMARY_KEY%$` for BIGSERIAL PRIMARY KEY)
_BRACED_PLACEHOLDER = re.compile(r"\$\{[^{}\s$'\"]{1,80}\}|\$%[A-Za-z_]\w{0,80}%\$")


def tokenize(sql: str) -> list[Token]:
    braced = ({m.group(0): '"' + m.group(0)[1:-1] + '"' for m in _BRACED_PLACEHOLDER.finditer(sql)}
              if "${" in sql or "$%" in sql else {})
    if braced:  # `${a}.${b}` would read as a dollar-quoted string: tokenize "{a"."{b" (same length), then restore
        tokens = _TOKENIZER.tokenize(_BRACED_PLACEHOLDER.sub(lambda m: braced[m.group(0)], sql))
        for token in tokens:
            if sql[token.start] == "$" and token.token_type == TokenType.IDENTIFIER:
                token.text = sql[token.start : token.end + 1]
            elif token.token_type in QUOTED_TOKENS and ('"{' in token.text or '"%' in token.text):
                for original, stand_in in braced.items():
                    token.text = token.text.replace(stand_in, original)
    else:
        tokens = _TOKENIZER.tokenize(sql)
    return _placeholders(tokens) if ":" in sql or "@" in sql or "{{" in sql else tokens


_OPERAND_ENDS = {TokenType.VAR, TokenType.NUMBER, TokenType.IDENTIFIER, TokenType.R_PAREN, TokenType.R_BRACKET,
                 TokenType.STRING}


_TEMPLATE_CONTROL = {"if", "else", "end", "range", "with", "define", "block", "template", "break", "continue"}


def _template_start(token: Token, following: Token | None) -> bool:
    """`{{` (or `{{-`, which trims the space before it) opening a Go template action."""
    return token.token_type == TokenType.BLOCK_START or (
        token.token_type == TokenType.L_BRACE and following is not None and following.token_type == TokenType.L_BRACE)


def _template_end(tokens: list[Token], at: int) -> bool:
    return tokens[at].token_type == TokenType.BLOCK_END or (
        tokens[at].token_type == TokenType.R_BRACE and at + 1 < len(tokens) and tokens[at + 1].token_type == TokenType.R_BRACE)


# the tokens a placeholder can start with: `:name`, `@extschema@`, `{{` (two L_BRACEs, or BLOCK_START `{{-`)
_PLACEHOLDER_STARTS = {TokenType.COLON, TokenType.PARAMETER, TokenType.L_BRACE, TokenType.BLOCK_START}


def _placeholders(tokens: list[Token]) -> list[Token]:
    """Names that a tool substitutes before PostgreSQL sees the file, read as one name each: psql's
    variables (`:name`, `:'name'` a literal, `:"name"` an identifier), an extension script's
    `@extschema@` and Go templates (`{{ index .Options "Namespace" }}`, as gobuffalo/fizz migrations
    write; control actions such as `{{ if }}` and `{{ end }}` are dropped). Without this a migration run
    with `psql -v schema=app` would be unreadable."""
    merged: list[Token] = []
    index = 0
    for start in [at for at, token in enumerate(tokens) if token.token_type in _PLACEHOLDER_STARTS]:
        if start < index:  # inside a placeholder merged already
            continue
        merged += tokens[index:start]  # the tokens between the candidates stay as they are
        index = start
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        after = tokens[index + 2] if index + 2 < len(tokens) else None
        if (token.token_type == TokenType.COLON and following is not None and following.start == token.end + 1
                and (following.token_type in (TokenType.IDENTIFIER, TokenType.STRING) or word_of(following))
                and not (merged and merged[-1].token_type in _OPERAND_ENDS and merged[-1].end + 1 == token.start)
                and not (merged and merged[-1].token_type == TokenType.L_BRACKET)):
            kind = TokenType.STRING if following.token_type == TokenType.STRING else TokenType.IDENTIFIER
            merged.append(Token(kind, f":{following.text}", token.line, token.col, token.start, following.end))
            index += 2
        elif (token.token_type == TokenType.PARAMETER and token.text == "@" and following is not None
              and after is not None and word_of(following) and after.text == "@"
              and following.start == token.end + 1 and after.start == following.end + 1):
            merged.append(Token(TokenType.IDENTIFIER, f"@{following.text}@", token.line, token.col, token.start, after.end))
            index += 3
        elif _template_start(token, following):
            inner = index + (1 if token.token_type == TokenType.BLOCK_START else 2)
            end = next((i for i in range(inner, len(tokens)) if _template_end(tokens, i)), None)
            if end is None:
                merged.append(token)
                index += 1
                continue
            last = end if tokens[end].token_type == TokenType.BLOCK_END else end + 1
            words = [t.text for t in tokens[inner:end]]
            if not (words and words[0].lower() in _TEMPLATE_CONTROL):  # {{ if }}, {{ end }}: no SQL text of their own
                template = "{{" + " ".join(words) + "}}"
                merged.append(Token(TokenType.IDENTIFIER, template, token.line, token.col, token.start, tokens[last].end))
            index = last + 1
        else:
            merged.append(token)
            index += 1
    merged += tokens[index:]
    return merged


class _CommandFallbackFilter(logging.Filter):
    """We never accept sqlglot's opaque Command fallback, so its warning is noise to our users."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_CommandFallbackFilter())

QUOTED_TOKENS = {
    TokenType.IDENTIFIER,
    TokenType.STRING,
    TokenType.HEREDOC_STRING,
    TokenType.BYTE_STRING,
    TokenType.BIT_STRING,
    TokenType.HEX_STRING,
    TokenType.NATIONAL_STRING,
    TokenType.UNICODE_STRING,
    TokenType.RAW_STRING,
}
STRING_TOKENS = QUOTED_TOKENS - {TokenType.IDENTIFIER}


class SqlSyntaxError(Exception):
    """SQL that sqlglot could not tokenize or parse; carries a 1-based line when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


_NEWLINE = re.compile("\n")


@dataclass(frozen=True)
class Relation:
    """A schema-qualified relation name, folded as PostgreSQL folds identifiers."""

    name: str
    schema: str | None = None

    def __str__(self) -> str:
        text = self.__dict__.get("_text")  # quoted once: findings name a relation in message and help alike
        if text is None:
            text = ".".join(quote_identifier(part) for part in (self.schema, self.name) if part)
            object.__setattr__(self, "_text", text)
        return text

    def matches(self, other: "Relation") -> bool:
        """Same relation, treating a missing schema as 'whatever search_path finds'."""
        if self.name != other.name:
            return False
        return self.schema is None or other.schema is None or self.schema == other.schema


class Source:
    """A SQL text with offset -> (line, column) mapping."""

    def __init__(self, text: str, base: "Source | None" = None, base_offset: int = 0):
        self.text = text
        self._line_starts = [0] + [match.end() for match in _NEWLINE.finditer(text)]
        self.base = base
        self.base_offset = base_offset

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset, in the outermost source."""
        if self.base is not None:
            return self.base.position(self.base_offset + offset)
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def line_of(self, offset: int) -> int:
        return self.position(offset)[0]

    def tokenize(self) -> list[Token]:
        try:
            return tokenize(without_copy_rows(self.text))
        except TokenError:
            raise SqlSyntaxError(
                "cannot tokenize: unterminated string, quoted identifier, comment or $$ body",
                self._first_untokenizable_line(),
            ) from None

    def _first_untokenizable_line(self) -> int:
        """The line where tokenizing starts to fail: the longest prefix of whole lines that tokenizes, plus one."""
        good, bad = 0, len(self._line_starts)
        text = without_copy_rows(self.text)
        while bad - good > 1:
            middle = (good + bad) // 2
            try:
                tokenize(text[: self._line_starts[middle]])
                good = middle
            except TokenError:
                bad = middle
        return self.position(self._line_starts[good])[0]


# psql's COPY ... FROM STDIN (or \\copy ... from stdin) in a script: psql reads the rows from the lines that
# follow, up to a line `\\.`, and sends them as COPY data, not as SQL
_COPY_FROM_STDIN = re.compile(r"^[ \t]*(?:COPY\b[^;]*?\bFROM\s+STDIN\b[^;]*;|\\copy\b[^\n]*?\bfrom\s+p?stdin\b)[^\n]*\n",
                              re.IGNORECASE | re.MULTILINE)
_END_OF_COPY_ROWS = re.compile(r"^\\\.[ \t]*\r?$", re.MULTILINE)
_NOT_NEWLINE = re.compile(r"[^\n]")


def without_copy_rows(text: str) -> str:
    """The text with the rows of each COPY ... FROM STDIN blanked, and its closing `\\.` line: offsets and
    lines stay as they are, and no row is read as SQL."""
    if "stdin" not in text and "STDIN" not in text:
        return text
    parts, done = [], 0
    for match in _COPY_FROM_STDIN.finditer(text):
        if match.start() < done:  # a line inside rows already blanked
            continue
        end = _END_OF_COPY_ROWS.search(text, match.end())
        if end is None:  # psql would read the rest of the file as rows; any other tool sends it as SQL: read it so
            break
        parts += [text[done : match.end()], _NOT_NEWLINE.sub(" ", text[match.end() : end.end()])]
        done = end.end()
    return "".join(parts) + text[done:] if parts else text


def word_of(token: Token) -> str:
    """The upper-case text of an unquoted word token ("PRIMARY KEY" for multi-word keywords), else ''."""
    if token.token_type in QUOTED_TOKENS:
        return ""
    text = token.text
    first = text[:1]
    if not (first.isalpha() or first == "_"):
        return ""
    return " ".join(text.upper().split()) if " " in text else text.upper()


@dataclass
class RawStatement:
    """The tokens of one statement and where it sits in its source."""

    source: Source
    tokens: list[Token]

    def __post_init__(self) -> None:
        self._words: dict[int, str] = {}  # a token's start offset -> word_of(token), as the analyzer asks

    def word(self, token: Token) -> str:
        """word_of(token) for a token of this statement, worked out once (the analyzer asks about the same
        leading words again and again, and about most other tokens never)."""
        word = self._words.get(token.start)
        if word is None:
            word = self._words[token.start] = word_of(token)
        return word

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end + 1

    @property
    def sql(self) -> str:
        return self.source.text[self.start : self.end]


_CLOSING = {TokenType.R_PAREN: TokenType.L_PAREN, TokenType.R_BRACKET: TokenType.L_BRACKET}
_BRACKETS = frozenset({*_CLOSING, *_CLOSING.values()})
# Reserved words (and punctuation) after which no PostgreSQL statement can end, unless a label (`AS on`, `t.from`)
_NEVER_LAST_WORDS = frozenset({
    "AND", "OR", "NOT", "ON", "IN", "TO", "INTO", "FROM", "WHERE", "USING", "TABLE", "COLUMN", "CONSTRAINT", "CHECK",
    "COLLATE", "CASE", "CAST", "WHEN", "THEN", "ELSE", "FOREIGN", "PRIMARY", "REFERENCES", "HAVING", "UNION", "EXCEPT",
    "INTERSECT", "GROUP", "ORDER"})
_NEVER_LAST_TOKENS = frozenset({TokenType.COMMA, TokenType.DOT, TokenType.EQ})


def syntax_problem(raw: RawStatement) -> str | None:
    """Why PostgreSQL refuses a whole (top-level) statement that tokenizes: an unbalanced parenthesis or
    bracket, or an end no statement can have (cut short, or cut at the end of the file); None otherwise.
    psql meta-commands are left alone."""
    tokens = raw.tokens
    if (raw.source.text.find("\\", raw.start, raw.end) >= 0  # a backslash token needs a backslash in the text
            and any(token.token_type == TokenType.BACKSLASH for token in tokens)):
        return None
    open_brackets: list[Token] = []
    for token in [token for token in tokens if token.token_type in _BRACKETS]:
        if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
            open_brackets.append(token)
        elif not open_brackets or open_brackets[-1].token_type != _CLOSING[token.token_type]:
            return f"{token.text!r} at line {raw.source.line_of(token.start)} closes nothing"
        else:
            open_brackets.pop()
    if open_brackets:
        token = open_brackets[-1]
        return f"{token.text!r} at line {raw.source.line_of(token.start)} is never closed"
    last = tokens[-1]
    # a label (`AS on`, `t.from`) or a setting's value (`SET x TO on`, `ALTER ROLE r SET x = on`)
    label = len(tokens) > 1 and (tokens[-2].token_type in (TokenType.DOT, TokenType.EQ) or raw.word(tokens[-2]) in ("AS", "TO"))
    if last.token_type in _NEVER_LAST_TOKENS or (raw.word(last) in _NEVER_LAST_WORDS and not label):
        return f"the statement ends after {last.text!r} at line {raw.source.line_of(last.start)}: it is cut short"
    return None


_ROUTINE = (TokenType.FUNCTION, TokenType.PROCEDURE)
# the only tokens that change the depth or end a statement
_DEPTH_TOKENS = frozenset({TokenType.L_PAREN, TokenType.R_PAREN, TokenType.SEMICOLON, TokenType.BEGIN, TokenType.CASE,
                           TokenType.END})


def _semicolon_depths(tokens: list[Token]):
    """(index, depth) of each semicolon token, depth counted as psql counts it: the parentheses open, and
    the BEGIN ... END blocks open in the body of a CREATE [OR REPLACE] FUNCTION|PROCEDURE written in SQL
    (`BEGIN ATOMIC ... END`, with the CASE ... END inside it), outside parentheses."""
    depth = blocks = 0
    routine = None  # whether the statement being read creates a routine (known from its first words)
    start = 0  # where that statement starts
    for index, kind in [(index, token.token_type) for index, token in enumerate(tokens)
                        if token.token_type in _DEPTH_TOKENS]:
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth = max(depth - 1, 0)
        elif kind == TokenType.SEMICOLON:
            yield index, depth + blocks
            if depth + blocks == 0:
                routine, start = None, index + 1
        elif depth == 0 and kind in (TokenType.BEGIN, TokenType.CASE, TokenType.END):
            if routine is None:
                routine = _creates_routine(tokens, start)
            if not routine:
                continue
            if kind == TokenType.BEGIN or (kind == TokenType.CASE and blocks):
                blocks += 1
            elif kind == TokenType.END and blocks:
                blocks -= 1


def _creates_routine(tokens: list[Token], start: int) -> bool:
    """Whether the statement at start begins CREATE [OR REPLACE] FUNCTION|PROCEDURE (psql's test)."""
    kinds = [token.token_type for token in tokens[start : start + 4]]
    if kinds[1:3] == [TokenType.OR, TokenType.REPLACE]:
        del kinds[1:3]
    return len(kinds) > 1 and kinds[0] == TokenType.CREATE and kinds[1] in _ROUTINE


def split_statements(source: Source, tokens: list[Token], breaks: list[int] = ()) -> list[RawStatement]:
    """Split a token stream on top-level semicolons, and at the offsets in breaks (sorted) where a
    migration tool's marker ends a statement that has none (goose's StatementEnd).

    A psql meta-command (`\\set ON_ERROR_STOP 1`, an extension script's `\\echo ... \\quit`) is a
    statement of its own that runs to the end of its line, as psql reads it: no semicolon ends it, and
    it ends the statement before it (`SELECT ... \\gexec`). As in psql, a semicolon inside parentheses
    ends nothing (CREATE RULE's `DO (a; b)`; a statement cut at an open parenthesis runs on)."""
    statements: list[RawStatement] = []
    start = 0  # where the statement being read starts

    def end_before(index: int) -> None:
        if index > start:
            statements.append(RawStatement(source, tokens[start:index]))

    ends = {index for index, depth in _semicolon_depths(tokens) if depth == 0}
    metas = ({index for index, token in enumerate(tokens) if token.token_type == TokenType.BACKSLASH}
             if "\\" in source.text else set())
    starts = [token.start for token in tokens] if metas or breaks else []
    cuts = {bisect.bisect_right(starts, offset) for offset in breaks}  # the first token after each marker
    meta_end = 0  # the first token after the line of the last psql meta-command
    for index in sorted(ends | metas | cuts):  # the only tokens where a statement can end
        if index < meta_end:  # on the meta-command's line: part of it
            continue
        if index in cuts:
            end_before(index)
            start = index
        if index in metas:
            end_before(index)
            newline = source.text.find("\n", starts[index])
            meta_end = bisect.bisect_left(starts, newline if newline >= 0 else len(source.text), index + 1)
            statements.append(RawStatement(source, tokens[index:meta_end]))
            start = meta_end
        elif index in ends:
            end_before(index)
            start = index + 1
    end_before(len(tokens))
    return statements


def gaps(source: Source, tokens: list[Token]):
    """Yield (offset, text) of the stretches between tokens: only comments and whitespace."""
    previous_end = 0
    for token in tokens:
        if token.start > previous_end:
            yield previous_end, source.text[previous_end : token.start]
        previous_end = token.end + 1
    if previous_end < len(source.text):
        yield previous_end, source.text[previous_end:]


def fold(token: Token) -> str:
    """An identifier as PostgreSQL stores it: unquoted names fold to lower case."""
    return token.text if token.token_type == TokenType.IDENTIFIER else token.text.lower()


class Cursor:
    """A position in a statement's tokens, with the small matching helpers our parser needs."""

    def __init__(self, statement: RawStatement, tokens: list[Token] | None = None):
        self.statement = statement
        self.tokens = statement.tokens if tokens is None else tokens
        self.index = 0

    # -- looking -------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token | None:
        position = self.index + ahead
        return self.tokens[position] if position < len(self.tokens) else None

    def word(self, ahead: int = 0) -> str:
        """The upper-case text of an unquoted word token, else ''."""
        position = self.index + ahead
        if position >= len(self.tokens):
            return ""
        return self.statement.word(self.tokens[position])

    def is_type(self, token_type: TokenType, ahead: int = 0) -> bool:
        position = self.index + ahead
        return position < len(self.tokens) and self.tokens[position].token_type == token_type

    @property
    def at_end(self) -> bool:
        return self.index >= len(self.tokens)

    def has_words(self, *words: str) -> bool:
        """Whether the words come next, in order (the first compared before anything else: most calls stop there)."""
        tokens, index = self.tokens, self.index
        if index + len(words) > len(tokens):
            return False
        word_of_token = self.statement.word
        if word_of_token(tokens[index]) != words[0]:
            return False
        for offset in range(1, len(words)):
            if word_of_token(tokens[index + offset]) != words[offset]:
                return False
        return True

    # -- consuming -----------------------------------------------------------------------
    def advance(self, count: int = 1) -> Token | None:
        token = self.peek()
        self.index += count
        return token

    def accept(self, *words: str) -> bool:
        """Consume the words if they come next, in order."""
        if self.has_words(*words):
            self.index += len(words)
            return True
        return False

    def accept_any(self, *words: str) -> str | None:
        word = self.word()
        if word and word in words:
            self.index += 1
            return word
        return None

    def identifier(self) -> str | None:
        token = self.peek()
        if token is None or token.token_type in STRING_TOKENS:
            return None
        if token.token_type != TokenType.IDENTIFIER and not self.word():
            return None
        self.index += 1
        return fold(token)

    def relation(self) -> Relation | None:
        """A possibly schema-qualified name (a database prefix is dropped)."""
        parts = []
        name = self.identifier()
        if name is None:
            return None
        parts.append(name)
        while self.is_type(TokenType.DOT):
            self.index += 1
            name = self.identifier()
            if name is None:
                return None
            parts.append(name)
        if len(parts) == 1:
            return Relation(parts[0])
        return Relation(parts[-1], parts[-2])

    def string(self) -> str | None:
        token = self.peek()
        if token is not None and token.token_type in STRING_TOKENS:
            self.index += 1
            return token.text
        return None

    def skip_group(self) -> list[Token]:
        """Consume a parenthesised group; return the tokens inside it."""
        if not self.is_type(TokenType.L_PAREN):
            return []
        depth, start = 0, self.index
        while not self.at_end:
            token_type = self.tokens[self.index].token_type
            if token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
                depth += 1
            elif token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
                depth -= 1
                if depth == 0:
                    self.index += 1
                    return self.tokens[start + 1 : self.index - 1]
            self.index += 1
        return self.tokens[start + 1 :]

    def rest(self) -> list[Token]:
        return self.tokens[self.index :]

    def rest_words(self) -> list[str]:
        """word() of each token from here on."""
        return [self.statement.word(token) for token in self.tokens[self.index :]]

    def sql_of(self, tokens: list[Token]) -> str:
        if not tokens:
            return ""
        return self.statement.source.text[tokens[0].start : tokens[-1].end + 1]

    def rest_sql(self) -> str:
        return self.sql_of(self.rest())

    def find_word(self, word: str) -> int | None:
        """Index (relative to here) of a top-level occurrence of a word, else None."""
        depth = 0
        for offset, token in enumerate(self.rest()):
            if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
                depth += 1
            elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
                depth -= 1
            elif depth == 0 and self.statement.word(token) == word:
                return offset
        return None


def split_top_level(tokens: list[Token], separator: TokenType = TokenType.COMMA) -> list[list[Token]]:
    """Split tokens on a separator that is not inside parentheses or brackets."""
    parts: list[list[Token]] = []
    depth, start = 0, 0
    for index, token_type in [(index, token.token_type) for index, token in enumerate(tokens)
                              if token.token_type in _BRACKETS or token.token_type == separator]:
        if token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
        if depth == 0 and token_type == separator:
            parts.append(tokens[start:index])
            start = index + 1
    parts.append(tokens[start:])
    return [part for part in parts if part]


def parse_one(sql: str):
    """Parse one statement with sqlglot's PostgreSQL parser; None when it cannot."""
    try:
        tokens = tokenize(sql)
        expressions = _PARSER.parse(tokens, sql)
    except (ParseError, TokenError):
        return None
    if len(expressions) != 1 or isinstance(expressions[0], exp.Command):
        return None
    expressions[0].meta["tokens"] = tokens  # the text as written, for what the tree normalises away (call_of)
    return expressions[0]


# words inside the parentheses of SQL's special call syntax: SUBSTRING(a FROM 1 FOR 2), TRIM(BOTH 'x' FROM a) ...
_SQL_SYNTAX_WORDS = {"FROM", "FOR", "PLACING", "IN", "BOTH", "LEADING", "TRAILING", "SIMILAR", "ESCAPE"}


def call_of(function: exp.Func) -> tuple[str, str | None, int] | None:
    """A function call as written: (name, schema or None, number of arguments); None when the tree does
    not say where it was written, or it was written without parentheses (CURRENT_DATE) or in SQL's own
    syntax (TRIM(BOTH ...), SUBSTRING(a FROM 1)).

    sqlglot reads `now(123)` and `current_timestamp(123)` as the same node; PostgreSQL has only the
    second: the written name and argument count tell them apart."""
    start = function.meta.get("start")
    tokens = function.root().meta.get("tokens")
    if start is None or tokens is None:
        return None
    at = bisect.bisect_left([token.start for token in tokens], start)
    if at + 1 >= len(tokens) or tokens[at].start != start or tokens[at + 1].token_type != TokenType.L_PAREN:
        return None
    schema = tokens[at - 2].text.lower() if at >= 2 and tokens[at - 1].token_type == TokenType.DOT else None
    depth, arguments, empty = 0, 1, True
    for token in tokens[at + 1:]:
        if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
            if depth == 0:
                break
        elif depth == 1:
            empty = False
            if token.token_type == TokenType.COMMA:
                arguments += 1
            elif token.text.upper() in _SQL_SYNTAX_WORDS:
                return None
        if depth > 1:
            empty = False
    name = tokens[at].text if tokens[at].token_type == TokenType.IDENTIFIER else tokens[at].text.lower()
    return name, schema, 0 if empty else arguments


def insert_after_keyword(sql: str, keyword: str, insertion: str) -> str:
    """The statement with a word inserted after the first occurrence of keyword."""
    return re.sub(rf"\b{keyword}\b", f"{keyword} {insertion}", sql, count=1, flags=re.IGNORECASE)


def constraint_name(table: str, columns, suffix: str) -> str:
    """The name PostgreSQL gives a constraint or index of these columns when no other has it."""
    return make_object_name(table, index_name_addition([c for c in columns if c != "(expression)"]) or None, suffix)
