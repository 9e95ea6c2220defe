import re

from lint_rules import Rule
from migrator.sqltext import tokenize
from sqlglot.tokens import TokenType

MAX_BYTES = 63  # NAMEDATALEN - 1
# a run that may be a name over 63 bytes (16 characters of 4 bytes): only then is the statement tokenized.
# Runs of word characters here are matched from their first character only: trying every later one as a
# start too scans the rest of the run again from each.
CANDIDATE = re.compile(r'"(?:[^"]|""){16,}"|(?<![\w$])[\w$]{16,}')
# in ASCII text a character is a byte: an unquoted name over 63 bytes is a run of 64 word characters
LONG_ASCII_WORD = re.compile(r"(?<![\w$])[\w$]{64}")
QUOTED = re.compile(r'"(?:[^"]|""){16,}"')


def check(statement, ctx):
    if not may_hold_long_name(statement.sql):
        return
    seen = set()
    for token in tokenize(statement.sql):
        if token.token_type not in (TokenType.VAR, TokenType.IDENTIFIER) or token.text in seen:
            continue
        size = len(token.text.encode())
        if size > MAX_BYTES:
            seen.add(token.text)
            kept = truncated(token.text)
            ctx.report(
                f"identifier {token.text!r} is {size} bytes: PostgreSQL silently truncates it to {kept!r} (63 bytes), "
                "so names that share those 63 bytes collide and the name in the catalog is not the one written",
                f"Shorten it to at most 63 bytes, e.g. {kept[:50]!r}.",
            )


def may_hold_long_name(sql: str) -> bool:
    """Whether the text has a run that may be a name over 63 bytes (most statements have none: cheap to rule out)."""
    if sql.isascii():
        # a run of 64 word characters has no space in it: look for one only in text that has such a stretch
        return len(sql) > MAX_BYTES and (
            max(map(len, sql.split()), default=0) > MAX_BYTES and LONG_ASCII_WORD.search(sql) is not None
            or any(len(m.group(0)) > MAX_BYTES for m in QUOTED.finditer(sql)))
    return any(len(m.group(0).encode()) > MAX_BYTES for m in CANDIDATE.finditer(sql))


def truncated(name: str) -> str:
    """The name PostgreSQL keeps: the first 63 bytes, never cutting a character in two."""
    return name.encode()[:MAX_BYTES].decode(errors="ignore")


RULE = Rule(
    id="identifier-too-long",
    severity="warning",
    summary="An identifier longer than 63 bytes, which PostgreSQL silently truncates.",
    what=(
        "Flags names longer than 63 bytes, quoted or not, in any statement: where objects are made (CREATE, "
        "ALTER) and where they are named (DROP, COMMENT, queries), since PostgreSQL truncates every one."
    ),
    why=(
        "PostgreSQL keeps only the first 63 bytes of an identifier (NAMEDATALEN - 1) and merely logs a NOTICE. "
        "Two indexes or constraints whose names share those 63 bytes collide (the second fails with "
        "`already exists`, or an IF NOT EXISTS silently skips it), and tools that compare the name they wrote "
        "with the catalog (ORMs, schema diffs) see a different name. A long name in a DROP or a query is cut "
        "the same way, so it reaches whichever object owns the first 63 bytes."
    ),
    instead="CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at);",
    check=check,
)
