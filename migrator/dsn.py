"""Connection strings in output: never with their password."""

from __future__ import annotations

import re

from psycopg.conninfo import conninfo_to_dict

_URL_PASSWORD = re.compile(r"(?P<scheme>\b[a-zA-Z][\w+.-]*://[^:/@?#\s]*):(?P<password>[^/?#\s]*)@")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_password(text: str) -> str:
    """The text with any password in a URL (postgresql://, postgresql+driver://, or any scheme a
    mistyped DSN names) or key=value DSN replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}:***@", text)
    return _KEYWORD_PASSWORD.sub(lambda m: m.group(1) + "***", text)


def connect(dsn: str, failure: type[Exception], **options):
    """An autocommit connection, or `failure` saying plainly (and without the password) why not."""
    import psycopg

    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10, **options)
    except psycopg.OperationalError as error:
        raise failure(f"cannot connect to {describe_dsn(dsn)}: {mask_password(connect_failure_cause(error))}") from None
    except psycopg.ProgrammingError as error:  # libpq could not parse it: a URL of another scheme, a stray word
        raise failure(f"not a PostgreSQL connection string ({mask_password(connect_failure_cause(error))}): "
                      "write postgresql://user@host:port/dbname or host=... dbname=... pairs") from None


def connect_failure_cause(error: Exception) -> str:
    """Why libpq could not connect, in one line: `connection refused`, `password authentication
    failed for user "x"`, ... (each host's cause once; libpq's hints and tabs left out)."""
    causes = []
    for line in str(error).splitlines():
        line = " ".join(line.split())
        if not line or line.endswith(":") or line.startswith(("Is the server", "HINT")):
            continue
        cause = re.sub(r"^(FATAL|ERROR):\s*", "", line.rsplit(" failed: ", 1)[-1])
        cause = cause[:1].lower() + cause[1:] if cause[1:2].islower() else cause
        if cause not in causes:
            causes.append(cause)
    return "; ".join(causes) or "connection failed"


def split_driver(dsn: str) -> tuple[str, str | None]:
    """A SQLAlchemy-style URL (postgresql+psycopg2://...) as a libpq URL and the driver it names
    (None when it names none)."""
    match = _DRIVER.match(dsn)
    if match is None:
        return dsn, None
    return "postgresql://" + dsn[match.end():], match.group("driver")


_DRIVER = re.compile(r"^postgres(?:ql)?\+(?P<driver>\w+)://")


def describe_dsn(dsn: str) -> str:
    """host:port/dbname of a DSN, for messages."""
    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return mask_password(dsn)
    host = parts.get("host") or "localhost"
    if host.startswith("/"):
        host = "socket"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}".rstrip("/")
