"""Alembic projects as a migration source for the executor.

Each pending revision's upgrade() is rendered to SQL offline by Alembic itself (see
migrator.revisions), planned like a SQL migration (timeouts, retries, rewrites,
autocommit_block() sections outside the transaction) and stamped in Alembic's own
alembic_version table, which stays the record.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from migrator.analyzer import Analyzer
from migrator.executor import ApplyError, Migration, plan_text
from migrator.revisions import render_revision, to_sql


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
            heads = self.script.get_heads()
        except CommandError as error:
            raise ApplyError(f"{ini}: {error}") from None
        except SyntaxError as error:
            raise ApplyError(f"{error.filename}:{error.lineno}: syntax error: {error.msg}") from None
        except Exception as error:  # a revision's own import-time code failed
            raise ApplyError(f"{ini}: cannot load the revisions ({type(error).__name__}: {error})") from None
        if len(heads) > 1:
            raise ApplyError(f"{ini}: the project has {len(heads)} heads ({', '.join(heads)}); merge them first "
                             "(branched histories are not supported yet)")
        self.ini, self.target, self.rewrite = ini, target, rewrite
        self.analyzer = Analyzer(pg_version)
        self._resolve(None)  # an unknown target fails now, before anything connects

    def _resolve(self, current: str | None) -> list:
        from alembic.script.revision import RevisionError
        from alembic.util import CommandError

        try:
            revisions = list(self.script.iterate_revisions(self.target, current or "base"))
        except (CommandError, RevisionError) as error:
            raise ApplyError(f"{self.ini}: {error}") from None
        if any(isinstance(r.down_revision, tuple) for r in revisions):
            raise ApplyError(f"{self.ini}: merge revisions are not supported yet")
        return list(reversed(revisions))

    def _plan(self, revision) -> Migration:
        path = Path(revision.path)
        rendered = render_revision(path, revision.module)  # Alembic imported it already
        if rendered.error is not None:
            line, message = rendered.error
            raise ApplyError(f"{path}:{line}: {message}; this revision is online only: apply it with alembic upgrade")
        text, origin = to_sql(rendered)
        migration = plan_text(revision.revision, path, text, self.analyzer, self.rewrite, origin)
        migration.down_revision = revision.down_revision
        return migration

    def all(self) -> list[Migration]:
        return [self._plan(r) for r in self._resolve(None)]

    def current(self, connection: psycopg.Connection) -> str | None:
        if not connection.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()[0]:
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None

    def pending(self, connection: psycopg.Connection) -> list[Migration]:
        return [self._plan(r) for r in self._resolve(self.current(connection))]

    def stamp_sql(self, migration: Migration) -> sql.Composed:
        """The statements that record the revision as Alembic does; the executor runs them in a transaction."""
        version = sql.Literal(migration.version)
        if migration.down_revision is None:  # the first revision: the table may not exist yet
            return sql.SQL("CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) NOT NULL "
                           "CONSTRAINT alembic_version_pkc PRIMARY KEY); DELETE FROM alembic_version; "
                           "INSERT INTO alembic_version (version_num) VALUES ({})").format(version)
        return sql.SQL("UPDATE alembic_version SET version_num = {} WHERE version_num = {}").format(
            version, sql.Literal(migration.down_revision))


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
