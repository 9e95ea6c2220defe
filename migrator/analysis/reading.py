"""Small readers shared by the statement families: names, expressions, option lists, volatility."""

from __future__ import annotations

import functools

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from migrator.sqltext import Cursor, Relation, call_of, parse_one, split_top_level, word_of


VOLATILE_FUNCTIONS = {
    "random", "clock_timestamp", "timeofday", "gen_random_uuid", "uuid", "uuid_generate_v1",
    "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4", "uuidv7", "nextval", "setval",
    "random_normal", "rand", "gen_random_bytes",
}
# volatile functions that write only the catalog or the session's settings: a call reads and writes no table's rows
CATALOG_ONLY_FUNCTIONS = {"pg_extension_config_dump", "set_config"}
# PostgreSQL's functions that are not volatile, with the numbers of arguments it has them for (pg_proc:
# fewest, most; None: any number more). A call with another number is no function PostgreSQL has: it is
# unknown, as an unknown name is (tests/test_oracle.py checks this table against the server's pg_proc).
STABLE_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "now": (0, 0), "transaction_timestamp": (0, 0), "statement_timestamp": (0, 0), "timezone": (2, 2),
    "lower": (1, 1), "upper": (1, 1), "concat": (1, None), "to_json": (1, 1), "to_jsonb": (1, 1),
    "jsonb_build_object": (0, None), "json_build_object": (0, None), "jsonb_build_array": (0, None),
    "json_build_array": (0, None), "length": (1, 2), "abs": (1, 1), "round": (1, 2), "btrim": (1, 2),
    "make_interval": (0, 7), "date_trunc": (2, 3), "to_char": (2, 2), "to_timestamp": (1, 2),
    "current_schema": (0, 0), "current_setting": (1, 2), "substring": (2, 3), "replace": (3, 3), "md5": (1, 1),
    "txid_current": (0, 0), "pg_current_xact_id": (0, 0), "overlay": (3, 4), "position": (2, 2), "strpos": (2, 2),
    # SQL's own call forms, not in pg_proc: CURRENT_TIMESTAMP(precision) ...
    "current_timestamp": (1, 1), "current_time": (1, 1), "localtimestamp": (1, 1), "localtime": (1, 1),
    "coalesce": (1, None), "greatest": (1, None), "least": (1, None), "nullif": (2, 2),
}
# sqlglot's names for the non-volatile forms that are not written as a call: CURRENT_DATE, CAST, CASE,
# ARRAY[...], TRIM(BOTH ...), SUBSTRING(a FROM 1) ...
_STABLE_SQL_FORMS = {
    "current_timestamp", "current_date", "current_time", "localtimestamp", "localtime", "current_user",
    "session_user", "current_schema", "cast", "array", "case", "if", "trim", "substring", "interval", "json",
    "jsonb", "tsordered", "coalesce", "greatest", "least", "nullif", "extract", "overlay",
    "str_position",  # POSITION(a IN b)
}


_SQLGLOT_FUNCTION_NAMES = {"rand": "random", "uuid": "gen_random_uuid", "currenttimestamp": "now"}


def volatile_functions(expression: exp.Expr | None) -> list[str]:
    """The calls in an expression to volatile functions, or to functions migrator does not know and so
    assumes volatile: a name it does not know, a schema other than pg_catalog, or a number of arguments
    PostgreSQL has no such function for (named `now with 1 argument`)."""
    if expression is None:
        return []
    found = []
    for node in expression.find_all(exp.Func):
        call = call_of(node)
        if call is None:  # not written as a call: sqlglot's reading of the SQL form names it
            if isinstance(node, exp.Anonymous):
                name = str(node.this).lower()
            elif isinstance(node, (exp.Cast, exp.Array)):
                continue
            else:
                name = _SQLGLOT_FUNCTION_NAMES.get(node.sql_name().lower(), node.sql_name().lower())
            if name in VOLATILE_FUNCTIONS or name not in _STABLE_SQL_FORMS | STABLE_FUNCTIONS.keys():
                found.append(name)
            continue
        name, schema, arguments = call
        if schema not in (None, "pg_catalog"):
            found.append(f"{schema}.{name}")
        elif name in VOLATILE_FUNCTIONS or name not in STABLE_FUNCTIONS:
            found.append(name)
        else:
            fewest, most = STABLE_FUNCTIONS[name]
            if arguments < fewest or most is not None and arguments > most:
                found.append(f"{name} with {arguments} argument{'' if arguments == 1 else 's'}")
    return found


def touches_no_table(sql: str) -> bool:
    """Is this a SELECT that reads no table and calls no function that may read or write one (SELECT 1, an
    extension script's SELECT pg_catalog.pg_extension_config_dump(...))? False when it cannot be read."""
    query = parse_one(sql)
    return (isinstance(query, exp.Select) and next(query.find_all(exp.Table), None) is None
            and all(name in CATALOG_ONLY_FUNCTIONS for name in volatile_functions(query)))


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
    """Consume tokens and parse them as one SQL expression (its text as written in meta["written"]);
    None if sqlglot cannot.

    The tree is shared by every statement with the same expression text (`DEFAULT now()`, `DEFAULT 0`
    recur in most migrations): read it, never modify it."""
    cursor.advance(len(tokens))
    return _parse_expression(cursor.sql_of(tokens)) if tokens else None


@functools.lru_cache(maxsize=4096)
def _parse_expression(written: str) -> exp.Expr | None:
    parsed = parse_one("SELECT " + written)
    if not isinstance(parsed, exp.Select) or len(parsed.expressions) != 1:
        return None
    parsed.expressions[0].meta["written"] = written  # sqlglot's SQL may differ: now(123) prints CURRENT_TIMESTAMP
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
    words = cursor.rest_words()
    return any(a == "NOT" and b == "VALID" for a, b in zip(words, words[1:]))


def without_words(cursor: Cursor, *words: str) -> list[Token]:
    rest = cursor.rest()
    while rest and rest[-1].text.upper() in words:
        rest = rest[:-1]
    return rest
