"""Alembic projects as a migration source for the executor.

Each pending revision's upgrade() is rendered to SQL offline by Alembic itself (see
migrator.revisions), planned like a SQL migration (timeouts, retries, rewrites,
autocommit_block() sections outside the transaction) and stamped in Alembic's own
alembic_version table, which stays the record, one row per head as Alembic keeps it. A revision
that reads the database runs live instead, in one transaction, each statement checked and timed
as it is sent (no rewrites: what would need one is refused).
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import psycopg
from psycopg import sql

from migrator.analyzer import Analyzer, Statement
from migrator.executor import ApplyError, Group, Migration, Step, plan_live_statement, plan_text
from migrator.revisions import render_revision, run_live, to_sql, version_table_sql

VERSION_TABLE_SQL = ("CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) NOT NULL "
                     "CONSTRAINT alembic_version_pkc PRIMARY KEY)")


class AlembicProject:
    """The revisions of an Alembic project between the database's current one and `target`."""

    def __init__(self, ini: Path, target: str = "head", pg_version: int = 15, rewrite: bool = True):
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        if not ini.is_file():
            raise ApplyError(f"{ini}: no alembic.ini here")
        try:
            self.script = ScriptDirectory.from_config(Config(str(ini)))
            self.script.get_heads()  # loads every revision: their errors surface here
        except CommandError as error:
            raise ApplyError(f"{ini}: {error}") from None
        except SyntaxError as error:
            raise ApplyError(f"{error.filename}:{error.lineno}: syntax error: {error.msg}") from None
        except Exception as error:  # a revision's own import-time code failed
            raise ApplyError(f"{ini}: cannot load the revisions ({type(error).__name__}: {error})") from None
        self._refuse_custom_version_table()
        self.ini, self.target, self.rewrite = ini, target, rewrite
        self.analyzer = Analyzer(pg_version)
        self.stamps: dict[str, str] = {}
        self._resolve(())  # an unknown target fails now, before anything connects

    def _refuse_custom_version_table(self) -> None:
        """migrator records revisions in alembic_version: an env.py that names another version
        table would see every revision as pending again, so it is refused, not guessed at."""
        env = Path(self.script.env_py_location)
        text = env.read_text(encoding="utf-8") if env.is_file() else ""
        for number, line in enumerate(text.splitlines(), 1):
            if "version_table" in line.split("#", 1)[0]:
                raise ApplyError(f"{env}:{number}: env.py configures its own version table; migrator records "
                                 "revisions in alembic_version only (not supported yet: apply with alembic upgrade)")

    def _resolve(self, heads: tuple[str, ...]) -> list:
        """The revisions from `heads` (the database's) up to the target, in upgrade order, as Alembic orders them."""
        from alembic.script.revision import MultipleHeads, RevisionError
        from alembic.util import CommandError

        try:
            revisions = list(self.script.iterate_revisions(self.target, heads or "base", implicit_base=True))
        except MultipleHeads as error:
            raise ApplyError(f"{self.ini}: the history has several heads ({', '.join(error.heads)}) for target "
                             f"{self.target!r}: name one with --to REVISION, or --to heads for all of them") from None
        except (CommandError, RevisionError) as error:
            raise ApplyError(f"{self.ini}: {error}") from None
        except AssertionError:  # Alembic's walk trips over a revision id that is one of its keywords
            raise ApplyError(self._reserved_revision_id() or f"{self.ini}: Alembic cannot order the revisions") from None
        return list(reversed(revisions))

    def _reserved_revision_id(self) -> str | None:
        """Where a revision is named base, head or heads (Alembic reads those names as keywords)."""
        folders = self.script.version_locations or [Path(self.script.dir, "versions")]
        for path in (path for folder in folders for path in Path(folder).rglob("*.py")):
            try:
                body = ast.parse(path.read_text(encoding="utf-8")).body
            except (SyntaxError, UnicodeDecodeError):  # not a revision Alembic loaded
                continue
            for node in body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "revision" for t in node.targets) \
                        and isinstance(node.value, ast.Constant) and node.value.value in ("base", "head", "heads"):
                    return (f"{path}:{node.lineno}: revision id {node.value.value!r} is one of Alembic's keywords "
                            "(base, head, heads): give the revision another id")
        return None

    def _plan(self, revision) -> Migration:
        path = Path(revision.path)
        rendered = render_revision(path, revision.module)  # Alembic imported it already
        if rendered.error is not None:
            return self._live(revision, path, rendered.error)
        text, origin = to_sql(rendered)
        return plan_text(revision.revision, path, text, self.analyzer, self.rewrite, origin)

    def _live(self, revision, path: Path, why: tuple[int, str]) -> Migration:
        """A revision that cannot be rendered offline (it reads the database): one transaction in
        which upgrade() runs live, each statement planned and refused like a SQL step as it comes."""
        line, message = why
        text = path.read_text(encoding="utf-8")
        shown = Statement(f"-- upgrade() of {path.name} runs live, in one transaction: online only ({message})",
                          line, 0, line, "live_revision")

        def run(connection: psycopg.Connection, before_step) -> None:
            from migrator.context import MigrationContext

            so_far = MigrationContext(self.analyzer.pg_version)  # each attempt starts the revision over
            run_live(path, revision.module, connection,
                     lambda sql_text, at: before_step(plan_live_statement(path, sql_text, at, self.analyzer, so_far)))

        return Migration(revision.revision, path, hashlib.sha256(text.encode()).hexdigest()[:16],
                         [Group([Step(0, shown)], transaction=True, live=run)])

    def all(self) -> list[Migration]:
        return [self._plan(r) for r in self._resolve(())]

    def current(self, connection: psycopg.Connection) -> tuple[str, ...]:
        """The database's heads: alembic_version holds one row per head of a branched history."""
        if not connection.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()[0]:
            return ()
        return tuple(row[0] for row in connection.execute("SELECT version_num FROM alembic_version ORDER BY 1"))

    def pending(self, connection: psycopg.Connection) -> list[Migration]:
        heads = self.current(connection)
        revisions = self._resolve(heads)
        changes = version_table_sql(self.script.revision_map, revisions, heads)
        if not heads:  # alembic_version may not exist yet
            changes[:1] = [VERSION_TABLE_SQL + ";\n" + change for change in changes[:1]]
        self.stamps = {revision.revision: change for revision, change in zip(revisions, changes)}
        return [self._plan(r) for r in revisions]

    def stamp_sql(self, migration: Migration) -> sql.SQL:
        """The statements that record the revision as Alembic does; the executor runs them in a transaction."""
        return sql.SQL(self.stamps[migration.version])


def run_migrations_through_migrator(context) -> None:
    """Call this in env.py instead of context.run_migrations(): `alembic upgrade` then runs
    through migrator's executor (timeouts, retries, rewrites, journal, deploy lock)."""
    import os

    from migrator.executor import Executor, Policy

    if context.is_offline_mode():
        with context.begin_transaction():
            context.run_migrations()
        return
    config = context.config
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1).replace("postgresql+psycopg2://", "postgresql://", 1)
    target = context.get_revision_argument() or "head"
    if isinstance(target, tuple):
        target = target[0] if len(target) == 1 else "heads"
    source = AlembicProject(Path(config.config_file_name), target)

    def show(event: dict) -> None:
        if event["event"] in ("retry", "done"):
            detail = f" retry {event['attempt']} after {event['error']}" if event["event"] == "retry" else " applied"
            print(f"migrator: {event['migration']}{detail}", flush=True)

    Executor(dsn, Policy(), show).apply(source)
