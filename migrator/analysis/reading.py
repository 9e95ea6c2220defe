"""Small readers shared by the statement families: names, expressions, option lists, volatility."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from migrator.sqltext import Cursor, Relation, parse_one, split_top_level, word_of


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


def identifier_name(node: exp.Expr | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, exp.Identifier):
        return node.this if node.quoted else node.this.lower()
    return identifier_name(node.this) if isinstance(node.this, exp.Expr) else str(node.this).lower()


def output_names(query: exp.Expr | None) -> tuple[str, ...]:
    """The column names a SELECT gives its result where PostgreSQL's rules fix them here (an alias, a
    column's own name, `?column?` for a bare constant); other expressions are left out."""
    while isinstance(query, exp.Subquery):
        query = query.this
    if not isinstance(query, exp.Select):
        return ()
    names = []
    for target in query.selects:
        if isinstance(target, exp.Alias):
            names.append(identifier_name(target.args.get("alias")))
        elif isinstance(target, exp.Column) and isinstance(target.this, exp.Identifier):
            names.append(identifier_name(target.this))
        elif isinstance(target, (exp.Literal, exp.Null)):
            names.append("?column?")
    return tuple(name for name in names if name)


def relation_of(node: exp.Expr | None) -> Relation | None:
    table = node.this if isinstance(node, exp.Schema) else node
    if not isinstance(table, exp.Table):
        return None
    schema = table.args.get("db")
    return Relation(identifier_name(table.this), identifier_name(schema) if schema else None)


def single_action(parsed: exp.Expr | None, kind: type) -> exp.Expr | None:
    if not isinstance(parsed, exp.Alter):
        return None
    actions = parsed.args.get("actions") or []
    if len(actions) == 1 and isinstance(actions[0], kind):
        return actions[0]
    return None


def read_expression(cursor: Cursor, tokens: list[Token]) -> exp.Expr | None:
    """Consume tokens and parse them as one SQL expression; None if sqlglot cannot."""
    cursor.advance(len(tokens))
    parsed = parse_one("SELECT " + cursor.sql_of(tokens)) if tokens else None
    if not isinstance(parsed, exp.Select) or len(parsed.expressions) != 1:
        return None
    return parsed.expressions[0]


_TRUE = {"TRUE", "ON", "1", "YES"}


_FALSE = {"FALSE", "OFF", "0", "NO"}


def read_options(cursor: Cursor) -> dict[str, bool | str]:
    """A parenthesised option list, `(CONCURRENTLY, FULL false, TABLESPACE x)`, consumed at the cursor.

    Each option is named in upper case; a boolean option without a value is true, as PostgreSQL
    reads it; a value that is not a boolean is kept as its text."""
    options: dict[str, bool | str] = {}
    for part in split_top_level(cursor.skip_group()):
        name = word_of(part[0]).upper() or part[0].text.upper()
        value = " ".join(token.text for token in part[1:]).upper()
        options[name] = True if not value or value in _TRUE else False if value in _FALSE else value
    return options


def first_identifier(tokens: list[Token]) -> str:
    if len(tokens) == 1 or tokens and tokens[1].text.upper() in ("ASC", "DESC", "NULLS", "COLLATE") or (len(tokens) > 1 and tokens[1].token_type not in (TokenType.L_PAREN, TokenType.DOT) and tokens[0].token_type != TokenType.L_PAREN):
        first = tokens[0]
        return first.text if first.token_type == TokenType.IDENTIFIER else first.text.lower()
    return "(expression)"


def column_list(cursor: Cursor) -> tuple[str, ...]:
    inner = cursor.skip_group()
    return tuple(first_identifier(part) for part in split_top_level(inner))


def is_not_null_check(cursor: Cursor) -> str | None:
    """The column of a `CHECK (col IS NOT NULL)`, else None."""
    tokens = cursor.tokens
    while len(tokens) >= 2 and tokens[0].token_type == TokenType.L_PAREN and tokens[-1].token_type == TokenType.R_PAREN:
        tokens = tokens[1:-1]
    inner = Cursor(cursor.statement, tokens)
    column = inner.identifier()
    if column and inner.accept("IS", "NOT", "NULL") and inner.at_end:
        return column
    return None


def has_not_valid(cursor: Cursor) -> bool:
    """NOT VALID anywhere at the top level of the rest of an action."""
    words = [cursor.word(offset) for offset in range(len(cursor.rest()))]
    return any(a == "NOT" and b == "VALID" for a, b in zip(words, words[1:]))


def without_words(cursor: Cursor, *words: str) -> list[Token]:
    rest = cursor.rest()
    while rest and rest[-1].text.upper() in words:
        rest = rest[:-1]
    return rest
