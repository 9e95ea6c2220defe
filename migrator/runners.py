"""Migration tools and the transaction each one runs a file in.

Whether a statement runs inside a transaction block is the migration tool's business, not the
file's: goose wraps each file in one, golang-migrate sends the file as one query string (which
PostgreSQL runs as one implicit transaction when it holds more than one statement), psql runs
statement by statement. The `runner` setting names the tool; markers in a file (goose's, dbmate's
and sql-migrate's comments, postgres-migrations' `disable-transaction`, popx's `.autocommit.up.sql` names)
name it where the file says, and a few project layouts (Prisma, diesel, Flyway) name it otherwise.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

WRAPPED, AUTOCOMMIT, ONE_STRING = "wrapped", "autocommit", "one-string"


@dataclass(frozen=True)
class Runner:
    """A migration tool: how it sends a file to PostgreSQL and how a file opts out of its transaction."""

    name: str
    wraps: bool  # runs each file in one transaction unless the file opts out
    one_string: bool  # outside its own transaction it sends the file as one multi-statement query string
    opt_out: str  # how a file runs outside the tool's transaction
    sets_timeouts: bool = False  # the tool sets lock_timeout and statement_timeout itself

    def mode(self, opted_out: bool) -> str:
        if self.wraps and not opted_out:
            return WRAPPED
        return ONE_STRING if self.one_string else AUTOCOMMIT


RUNNERS = {runner.name: runner for runner in (
    Runner("alembic", True, False, "statements inside `op.get_context().autocommit_block()`"),
    Runner("dbmate", True, True, "`-- migrate:up transaction:false`"),
    Runner("diesel", True, True, "`run_in_transaction = false` in the migration's metadata.toml"),
    Runner("flyway", True, False, "a file of non-transactional statements only, or "
                                  "`executeInTransaction=false` in the file's `.sql.conf`"),
    Runner("golang-migrate", False, True, "always outside: the file is one query string"),
    Runner("goose", True, False, "`-- +goose NO TRANSACTION`"),
    Runner("migrator", True, False, "`-- migrator:no-transaction`", sets_timeouts=True),
    Runner("popx", True, True, "a file named `*.autocommit.up.sql`"),
    Runner("postgres-migrations", True, True, "`-- postgres-migrations disable-transaction` at the top"),
    Runner("prisma", False, True, "always outside: migration.sql is one query string"),
    Runner("psql", False, False, "always outside unless run with `psql -1` (use `transaction = \"wrapped\"`)"),
    Runner("sql-migrate", True, False, "`-- +migrate Up notransaction`"),
    Runner("sqlx", True, True, "`-- no-transaction` as the first line"),
)}

GOOSE = re.compile(r"^--\s*\+goose\b", re.IGNORECASE | re.MULTILINE)
GOOSE_NO_TRANSACTION = re.compile(r"^--\s*\+goose\s+no\s+transaction\b", re.IGNORECASE | re.MULTILINE)
DBMATE = re.compile(r"^--\s*migrate:up\b", re.IGNORECASE | re.MULTILINE)
DBMATE_NO_TRANSACTION = re.compile(r"^--\s*migrate:up\b[^\n]*\btransaction:false\b", re.IGNORECASE | re.MULTILINE)
SQL_MIGRATE = re.compile(r"^--\s*\+migrate\s+up\b", re.IGNORECASE | re.MULTILINE)
SQL_MIGRATE_NO_TRANSACTION = re.compile(r"^--\s*\+migrate\s+up\s+notransaction\b", re.IGNORECASE | re.MULTILINE)
POSTGRES_MIGRATIONS = re.compile(r"\A(?:\s*--[^\n]*\n)*?\s*--\s*postgres-migrations\s+disable-transaction\b", re.IGNORECASE)
SQLX_NO_TRANSACTION = re.compile(r"\A--\s*no-transaction\b")
FLYWAY_NAME = re.compile(r"^[VR]\d[\w.]*__\w.*\.sql$|^R__\w.*\.sql$")


@dataclass(frozen=True)
class FileTransaction:
    """How one migration file reaches PostgreSQL: the tool, its mode, and the words for findings."""

    runner: Runner | None
    mode: str  # WRAPPED | AUTOCOMMIT | ONE_STRING
    origin: str  # who makes the transaction, as a finding says it
    escape: str  # how to run a statement outside it

    @property
    def sets_timeouts(self) -> bool:
        return self.runner is not None and self.runner.sets_timeouts

    def wraps(self, statements) -> bool:
        """Whether these top-level statements run inside one transaction block (explicit or implicit)."""
        if self.mode == ONE_STRING:
            return len(statements) > 1
        if self.mode == WRAPPED and self.runner is not None and self.runner.name == "flyway":
            # Flyway runs a migration outside its transaction when every statement needs that
            return not all(statement.no_transaction for statement in statements)
        return self.mode == WRAPPED


def file_transaction(text: str, path: Path | None, runner_name: str | None, transaction: str | None) -> FileTransaction:
    """The runner and transaction mode of a migration file.

    The file's own markers name the tool first; then the configured runner; then the project
    layout (Prisma's migration_lock.toml, diesel's metadata.toml, Flyway's V1__name.sql names).
    An explicit `transaction` setting ("wrapped" or "none") overrides the tool's default.
    """
    runner, opted_out = _marked_runner(text, path)
    if runner is None and runner_name is not None:
        runner = RUNNERS[runner_name]
        opted_out = _opted_out(runner, text, path)
    if runner is None and path is not None:
        runner = _layout_runner(path)
        opted_out = runner is not None and _opted_out(runner, text, path)
    if runner is None:
        mode = AUTOCOMMIT if transaction == "none" else WRAPPED
        return FileTransaction(None, mode, "the transaction the runner wraps this file in",
                               "Move it to its own migration whose first line is `-- migrator:no-transaction`.")
    mode = runner.mode(opted_out)
    if transaction is not None and not opted_out:
        mode = AUTOCOMMIT if transaction == "none" else WRAPPED
    if mode == WRAPPED and runner.name == "flyway":
        origin = ("the transaction flyway wraps this file in (Flyway refuses a migration that mixes "
                  "non-transactional statements with others unless mixed=true)")
    elif mode == WRAPPED:
        origin = f"the transaction {runner.name} wraps this file in"
    elif mode == ONE_STRING:
        origin = (f"the implicit transaction PostgreSQL makes of a multi-statement query string "
                  f"({runner.name} sends the file as one string)")
    else:
        origin = ""
    if runner.one_string:
        escape = (f"Move it to a migration file of its own with no other statement ({runner.name} then sends it "
                  f"alone, outside any transaction block)")
        escape += f" and take that file out of {runner.name}'s transaction: {runner.opt_out}." if runner.wraps else "."
    else:
        escape = f"Move it to its own migration that runs outside the transaction: {runner.opt_out}."
    return FileTransaction(runner, mode, origin, escape)


def _marked_runner(text: str, path: Path | None) -> tuple[Runner | None, bool]:
    """The tool a file's own markers or name belong to, and whether they opt out of its transaction."""
    if path is not None and path.name.endswith(".autocommit.up.sql"):
        return RUNNERS["popx"], True
    if "goose" in text and GOOSE.search(text):
        return RUNNERS["goose"], bool(GOOSE_NO_TRANSACTION.search(text))
    if "migrate:" in text and DBMATE.search(text):
        return RUNNERS["dbmate"], bool(DBMATE_NO_TRANSACTION.search(text))
    if "+migrate" in text and SQL_MIGRATE.search(text):
        return RUNNERS["sql-migrate"], bool(SQL_MIGRATE_NO_TRANSACTION.search(text))
    if "postgres-migrations" in text and POSTGRES_MIGRATIONS.match(text):
        return RUNNERS["postgres-migrations"], True
    return None, False


def _opted_out(runner: Runner, text: str, path: Path | None) -> bool:
    """Whether a file opts out of its (configured or detected) runner's transaction."""
    name = runner.name
    if name == "sqlx":
        return bool(SQLX_NO_TRANSACTION.match(text))
    if name == "diesel" and path is not None:
        metadata = path.parent / "metadata.toml"
        if metadata.is_file():
            try:
                return tomllib.loads(metadata.read_text(encoding="utf-8")).get("run_in_transaction") is False
            except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
                return False
    if name == "flyway" and path is not None:
        conf = path.with_name(path.name + ".conf")
        if conf.is_file():
            try:
                return re.search(r"^\s*executeInTransaction\s*=\s*false\s*$", conf.read_text(encoding="utf-8"),
                                 re.MULTILINE | re.IGNORECASE) is not None
            except (UnicodeDecodeError, OSError):
                return False
    if name == "popx" and path is not None:
        return path.name.endswith(".autocommit.up.sql")
    return False


def _layout_runner(path: Path) -> Runner | None:
    """A tool named by the project layout around a migration file."""
    folder = path.parent
    if path.name == "migration.sql" and (folder.parent / "migration_lock.toml").is_file():
        return RUNNERS["prisma"]
    if path.name == "up.sql" and any((where / name).is_file() for where, name in (
            (folder, "metadata.toml"), (folder.parent, "diesel.toml"), (folder.parent.parent, "diesel.toml"))):
        return RUNNERS["diesel"]
    if FLYWAY_NAME.match(path.name):
        return RUNNERS["flyway"]
    return None


# --- which files of a folder are migrations for PostgreSQL ------------------------------------
POSTGRES_ONLY = ".sql.postgres"  # Synapse's deltas for PostgreSQL only (their *.sql.sqlite twins are SQLite's)
# Names tools give a file for another database, before its .sql (mautrix's NAME.sqlite.sql, popx's
# NAME.mysql.up.sql and NAME.cockroach.up.sql): that tool sends it to that database only.
OTHER_DATABASES = frozenset({"sqlite", "sqlite3", "mysql", "mariadb", "cockroach", "cockroachdb", "mssql", "sqlserver",
                             "oracle", "h2", "hsqldb", "derby", "db2", "clickhouse", "duckdb", "spanner"})


FLYWAY_UNDO = re.compile(r"^U\d[\w.]*__\w.*\.sql$")


def is_down_migration(path: Path) -> bool:
    """Files run only to roll back, not on deploy: golang-migrate's NAME.down.sql, diesel's down.sql, Postgrator's
    NAME.undo.sql, yoyo's NAME.rollback.sql and Flyway's undo migrations U2__name.sql."""
    name = path.name
    return (name == "down.sql" or name.endswith((".down.sql", ".undo.sql", ".rollback.sql"))
            or FLYWAY_UNDO.match(name) is not None)


EXTENSION_SCRIPT = re.compile(r"^(?P<extension>.+?)--.+\.sql$")  # NAME--VERSION.sql, NAME--FROM--TO.sql
CONTROL_SCHEMA = re.compile(r"^\s*schema\s*=\s*'?(?P<schema>[^'#\s]+)", re.MULTILINE)


def extension_search_path(file: Path | None, text: str) -> list[str] | None:
    """The search_path an extension script runs with, if this is one: CREATE and ALTER EXTENSION set it to the
    extension's schema, the `schema` of its control file (beside the script or in the folder above), or the
    schema CREATE EXTENSION names, which the script calls @extschema@. None: not an extension script."""
    script = EXTENSION_SCRIPT.match(file.name) if file is not None else None
    if script is not None:
        for folder in (file.parent, file.parent.parent):
            try:
                control = (folder / f"{script['extension']}.control").read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            schema = CONTROL_SCHEMA.search(control)
            return [schema["schema"] if schema else "@extschema@"]
    return ["@extschema@"] if "@extschema@" in text else None



def sql_migrations(folder: Path, recursive: bool = False) -> list[Path]:
    """The SQL migrations in a folder (and its subfolders when recursive) that reach PostgreSQL on
    deploy, in name order: *.sql and *.sql.postgres files, leaving out down migrations and files
    named for another database."""
    found = [*folder.rglob("*.sql"), *folder.rglob(f"*{POSTGRES_ONLY}")] if recursive else \
        [*folder.glob("*.sql"), *folder.glob(f"*{POSTGRES_ONLY}")]
    # by parts, as Paths compare, without a Path comparison per step of the sort (2,000 files: 20,000 of them)
    return sorted((path for path in found if path.is_file() and not is_down_migration(path)
                   and OTHER_DATABASES.isdisjoint(path.name.lower().split(".")[1:-1])), key=lambda path: path.parts)


def migration_version(path: Path) -> str:
    """A SQL migration's version: its file name without .sql (or .sql.postgres)."""
    return path.name.removesuffix(POSTGRES_ONLY).removesuffix(".sql")
