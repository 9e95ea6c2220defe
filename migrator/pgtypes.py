"""Column types as PostgreSQL itself names them, and whether changing one rewrites the table.

Every rule sees a column type through ``PgType``: the canonical name ``format_type()`` prints
(``int4``, ``serial4`` and ``pg_catalog.int4`` are all ``integer``; ``varchar(100)`` is
``character varying(100)``; bare ``char`` is ``character(1)``), its type modifiers, its array
dimensions (``int[]``, ``int array``, ``varchar(50)[3][4]``) and whether it was declared as a
serial (an integer with a sequence default).

``type_change_rewrites`` decides from PostgreSQL's binary-coercion rules whether
``ALTER COLUMN ... TYPE`` rewrites the table; the executor can call it with a type read from
the live catalog (``format_type(atttypid, atttypmod)``) through ``parse_type``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.tokens import TokenType

from migrator.sqltext import STRING_TOKENS, Cursor, RawStatement, Source, fold

# Names PostgreSQL's grammar or catalog gives one type under, mapped to format_type()'s name.
_ALIASES = {
    "int": "integer", "int4": "integer", "integer": "integer", "int2": "smallint", "smallint": "smallint",
    "int8": "bigint", "bigint": "bigint", "float4": "real", "real": "real", "float8": "double precision",
    "double precision": "double precision", "decimal": "numeric", "numeric": "numeric", "dec": "numeric",
    "bool": "boolean", "boolean": "boolean", "varchar": "character varying", "character varying": "character varying",
    "char varying": "character varying", "nchar varying": "character varying",
    "national character varying": "character varying", "national char varying": "character varying",
    "char": "character", "character": "character", "nchar": "character", "national character": "character",
    "national char": "character", "bpchar": "bpchar", "varbit": "bit varying", "bit varying": "bit varying",
    "bit": "bit", "timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone",
    "time": "time without time zone", "timetz": "time with time zone",
}
SERIALS = {
    "serial": "integer", "serial4": "integer", "bigserial": "bigint", "serial8": "bigint",
    "smallserial": "smallint", "serial2": "smallint",
}
# Names only the grammar knows (pg_type has none of them): quoted, "char" is the catalog's one-byte type, format_type's
# '"char"', and "integer" no type at all; a quoted catalog name ("int4", "varchar") is the type it names
_GRAMMAR_ONLY = {name for name in (*_ALIASES, *SERIALS, "float") if name not in {
    "int2", "int4", "int8", "float4", "float8", "numeric", "bool", "varchar", "bpchar", "varbit", "bit", "timestamp",
    "timestamptz", "time", "timetz"}}
# Types whose declaration without a length means length 1 (SQL standard), as format_type prints it.
_LENGTH_ONE = {"character", "bit"}
_TEXTUAL = {"text", "character varying"}
_PRECISION_TYPES = {"timestamp without time zone", "timestamp with time zone", "time without time zone", "time with time zone", "interval"}
_INTERVAL_FIELDS = {"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "TO"}
BUILT_IN = set(_ALIASES.values()) | {
    "text", "json", "jsonb", "uuid", "bytea", "date", "inet", "cidr", "macaddr", "macaddr8", "money", "interval",
    "xml", "tsvector", "tsquery", "point", "line", "lseg", "box", "path", "polygon", "circle", "oid",
    "int4range", "int8range", "numrange", "tsrange", "tstzrange", "daterange", "pg_lsn", "regclass", '"char"',
}


@dataclass(frozen=True)
class PgType:
    """A column type: format_type()'s name, its modifiers, its array dimensions."""

    name: str  # canonical: 'integer', 'character varying', 'timestamp with time zone', 'app.mood'
    modifiers: tuple[int, ...] = ()  # (100,) for varchar(100), (10, 2) for numeric(10,2)
    array_dims: int = 0
    serial: bool = False  # declared serial/bigserial/smallserial: the integer type plus a nextval() default

    @property
    def element(self) -> "PgType":
        """The type of one array element (the type itself when it is not an array)."""
        return PgType(self.name, self.modifiers, 0, self.serial)

    @property
    def is_array(self) -> bool:
        return self.array_dims > 0

    @property
    def built_in(self) -> bool:
        return self.name in BUILT_IN

    def __str__(self) -> str:
        """As format_type() prints it: 'character varying(100)[]', 'timestamp(3) with time zone'."""
        modifiers = f"({','.join(str(m) for m in self.modifiers)})" if self.modifiers else ""
        if self.name in _PRECISION_TYPES and self.name != "interval" and modifiers:
            head, _, zone = self.name.partition(" ")  # timestamp(3) with time zone
            text = f"{head}{modifiers} {zone}"
        else:
            text = self.name + modifiers
        return text + "[]" * self.array_dims

    def declared(self) -> str:
        """The type to write in a column definition (serial kept as serial)."""
        if self.serial:
            return {"integer": "serial", "bigint": "bigserial", "smallint": "smallserial"}[self.name]
        return str(self)


def parse_type(text: str) -> PgType | None:
    """A type from its SQL text ('varchar(100)[]', format_type output, ...); None if it is not one type."""
    source = Source(text)
    tokens = source.tokenize()
    if not tokens:
        return None
    cursor = Cursor(RawStatement(source, tokens))
    data_type = read_type(cursor)
    return data_type if cursor.at_end else None


def read_type(cursor: Cursor) -> PgType | None:
    """Consume one type name at the cursor (with modifiers and array bounds); None if there is none."""
    start = cursor.index
    words = _type_words(cursor)
    if words is None:
        return None
    schema, name = words
    quoted = cursor.tokens[start + (2 if schema is not None else 0)].token_type == TokenType.IDENTIFIER
    modifiers = _modifiers(cursor)
    if name in ("time", "timestamp") and cursor.word() in ("WITH", "WITHOUT"):
        with_zone = cursor.word() == "WITH"
        cursor.advance()
        if not (cursor.accept("TIME", "ZONE")):
            return None
        name = "timestamptz" if name == "timestamp" and with_zone else "timetz" if with_zone else name
    elif name == "interval":
        while cursor.word() in _INTERVAL_FIELDS:
            cursor.advance()
        modifiers = modifiers or _modifiers(cursor)
    if modifiers is None:
        return None
    dims = _array_dims(cursor)
    if quoted and name in _GRAMMAR_ONLY and schema in (None, "pg_catalog"):
        return PgType(f'"{name}"', modifiers, dims)
    if schema not in (None, "pg_catalog"):
        return PgType(f"{schema}.{name}", modifiers, dims)
    serial = name in SERIALS
    canonical = SERIALS.get(name) or _ALIASES.get(name, name)
    if name == "float":  # float(p): p binary digits, real up to 24
        canonical = "double precision" if not modifiers or modifiers[0] > 24 else "real"
        modifiers = ()
    if canonical == "bpchar" and modifiers:  # bpchar(n) is character(n); bare bpchar has no limit
        canonical = "character"
    if canonical in _LENGTH_ONE and not modifiers:
        modifiers = (1,)
    return PgType(canonical, modifiers, dims, serial)


def _type_words(cursor: Cursor) -> tuple[str | None, str] | None:
    token = cursor.peek()
    if token is None or token.token_type in STRING_TOKENS:
        return None
    if token.token_type != TokenType.IDENTIFIER and not cursor.word():
        return None
    first = cursor.word()
    if first == "NATIONAL":
        cursor.advance()
        first = "NATIONAL " + cursor.word()
    cursor.advance()
    if first in ("BIT", "NCHAR", "NATIONAL CHAR", "NATIONAL CHARACTER") and cursor.accept("VARYING"):
        return None, (first + " varying").lower()
    if first == "DOUBLE" and cursor.accept("PRECISION"):
        return None, "double precision"
    name = fold(token) if not first.startswith("NATIONAL") else first.lower()
    if token.token_type != TokenType.IDENTIFIER:
        name = " ".join(name.split())  # 'CHARACTER VARYING' arrives as one token
    if cursor.is_type(TokenType.DOT):
        cursor.advance()
        inner = cursor.peek()
        if inner is None or (inner.token_type != TokenType.IDENTIFIER and not cursor.word()):
            return None
        cursor.advance()
        return name, fold(inner)
    return None, name


def _modifiers(cursor: Cursor) -> tuple[int, ...] | None:
    if not cursor.is_type(TokenType.L_PAREN):
        return ()
    values = []
    inside = cursor.skip_group()
    if cursor.tokens[cursor.index - 1].token_type != TokenType.R_PAREN:
        return None
    for token in inside:
        if token.token_type == TokenType.NUMBER and token.text.isdigit():
            values.append(int(token.text))
        elif token.token_type != TokenType.COMMA:
            return None
    return tuple(values)


def _array_dims(cursor: Cursor) -> int:
    """Array dimensions: `[]`, `[n]` (repeated), or `ARRAY` / `ARRAY[n]` (one dimension)."""
    keyword = cursor.accept("ARRAY")
    dims = 0
    while cursor.is_type(TokenType.L_BRACKET):
        cursor.advance()
        if cursor.is_type(TokenType.NUMBER):
            cursor.advance()
        if not cursor.is_type(TokenType.R_BRACKET):
            return dims
        cursor.advance()
        dims += 1
    return max(dims, 1) if keyword else dims


# --- does a type change rewrite the table? --------------------------------------------------
def type_change_rewrites(old: PgType, new: PgType, using: list[PgType] | None = None, pg_version: int = 15) -> bool | None:
    """Whether ALTER COLUMN ... TYPE from old to new rewrites the table.

    Mirrors ATColumnChangeRequiresRewrite: no rewrite when the conversion is a binary-coercible
    relabeling or a length coercion that the type's support function proves is a no-op
    (varchar, numeric, bit varying and time types widening). ``using`` is the chain of casts a
    ``USING col::t1::t2`` applies to the bare column (empty or None: no USING); a USING clause
    that is anything else is not for this function: it always rewrites.

    True: rewrites. False: keeps the relfilenode. None: depends on something outside the
    statement (timestamp to timestamptz skips the rewrite only when the session TimeZone is UTC,
    from PostgreSQL 12), or on a type that is not built in (a cast an extension defines).
    """
    steps = [old, *(using or []), new]
    verdicts = [_step_rewrites(a, b, pg_version) for a, b in zip(steps, steps[1:])]
    if any(verdict is True for verdict in verdicts):
        return True
    return None if None in verdicts else False


def reachable_without_rewrite(new: PgType) -> bool:
    """Some other type could change to this one without a rewrite (so an unknown old type leaves it open)."""
    if new.is_array:
        return False
    return not new.built_in or new.name in ({"text", "character varying", "numeric", "inet", "bpchar", "bit varying"} | _PRECISION_TYPES)


def _step_rewrites(old: PgType, new: PgType, pg_version: int) -> bool | None:
    if old.name == new.name and old.modifiers == new.modifiers and old.array_dims == new.array_dims:
        return False
    if old.is_array or new.is_array:  # an array coercion (ArrayCoerceExpr) is never a relabeling
        return True
    if not (old.built_in and new.built_in):
        return None
    if old.name in _TEXTUAL and new.name in _TEXTUAL:
        return not _widens(old, new) if new.name == "character varying" else False
    if old.name == new.name and old.name in ("numeric", "bit varying", *_PRECISION_TYPES):
        if old.name == "numeric" and new.modifiers and old.modifiers:
            old_scale = old.modifiers[1] if len(old.modifiers) > 1 else 0
            new_scale = new.modifiers[1] if len(new.modifiers) > 1 else 0
            return not (old_scale == new_scale and new.modifiers[0] >= old.modifiers[0])
        return not _widens(old, new)
    if old.name == "bit" and new.name == "bit varying":
        return not (not new.modifiers or new.modifiers[0] >= old.modifiers[0])
    if old.name == "cidr" and new.name == "inet":
        return False
    if old.name == "character" and new.name == "bpchar":
        return False
    if {old.name, new.name} == {"timestamp without time zone", "timestamp with time zone"}:
        if old.modifiers != new.modifiers:
            return True
        return None if pg_version >= 12 else True
    return True


def _widens(old: PgType, new: PgType) -> bool:
    """A length or precision coercion the support function drops: no limit, or one at least as large."""
    if not new.modifiers or new.name in _PRECISION_TYPES and new.modifiers[0] >= 6:  # 6: the maximum precision
        return True
    return bool(old.modifiers) and new.modifiers[0] >= old.modifiers[0]
