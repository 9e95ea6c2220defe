"""Alembic revisions as SQL: `upgrade()` rendered offline with Alembic's own as_sql mode.

Nothing connects to a database. Each rendered statement remembers the line of the `op.` call
in the revision that produced it, so findings point there. `# migrator:` comments in the
revision work like the SQL directives. A revision that reads the database cannot be rendered
offline: run_live() runs it on the executor's connection, showing each statement before it runs.
"""

from __future__ import annotations

import configparser
import importlib.util
import io
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from migrator.errors import UserError, first_line


@dataclass
class RenderedRevision:
    path: Path
    statements: list[tuple[int, str]] = field(default_factory=list)  # (revision line, SQL)
    directives: list[tuple[int, str]] = field(default_factory=list)  # (revision line, "-- migrator:...")
    error: tuple[int, str] | None = None  # (revision line, why it could not be rendered)


class _Capture:
    """Alembic's output buffer: records each statement with the revision line that emitted it."""

    def __init__(self, filename: str, rendered: RenderedRevision):
        self.filename = filename
        self.rendered = rendered

    def write(self, text: str) -> None:
        text = text.strip()
        if text:
            self.rendered.statements.append((_revision_line(sys._getframe(1), self.filename), text))

    def flush(self) -> None:
        pass


def _revision_line(frame, filename: str) -> int:
    while frame is not None:
        if frame.f_code.co_filename == filename:
            return frame.f_lineno
        frame = frame.f_back
    return 1


def render_revision(path: Path, module=None) -> RenderedRevision:
    """Render a revision's upgrade() to SQL for PostgreSQL, offline (module: the revision already imported)."""
    from alembic.operations import Operations

    rendered = RenderedRevision(path)
    filename = str(path.resolve())
    source = path.read_text(encoding="utf-8")
    rendered.directives = _directives(source)
    try:
        if module is None:
            spec = importlib.util.spec_from_file_location(f"migrator_revision_{abs(hash(filename))}", filename)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        filename = getattr(module, "__file__", None) or filename
        upgrade = getattr(module, "upgrade", None)
        if not callable(upgrade):
            rendered.error = (1, "no upgrade() function: not an Alembic revision")
            return rendered
        capture, context = _offline_context()
        capture.filename, capture.rendered = filename, rendered
        with Operations.context(context):
            upgrade()
    except SyntaxError as error:
        rendered.error = (error.lineno or 1, f"syntax error: {error.msg}")
    except Exception as error:  # the revision's own code: anything can fail offline
        line = _failing_line(error.__traceback__, filename)
        rendered.error = (line, f"cannot render offline ({type(error).__name__}: {first_line(error)}); "
                                "revisions that read from the database (op.get_bind()) need a live one")
    return rendered


def run_live(path: Path, module, connection, before_statement) -> None:
    """Run a revision's upgrade() through SQLAlchemy, as Alembic online does, on the executor's
    psycopg `connection` and in the transaction the executor opened there.

    before_statement(sql, line) gets each statement, its parameters inlined, and the revision
    line that sends it, before it runs; it may refuse it by raising. Database errors come out as
    psycopg's own, so the executor retries lock timeouts as it does for SQL steps.
    """
    import psycopg
    import sqlalchemy

    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    filename = getattr(module, "__file__", None) or str(path.resolve())
    engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=lambda: _ExecutorOwned(connection),
                                      poolclass=sqlalchemy.pool.StaticPool, pool_reset_on_return=None,
                                      use_native_hstore=False)  # its type lookup wants a real psycopg connection
    inline = psycopg.ClientCursor(connection)

    def check(sa_connection, cursor, statement, parameters, context, executemany) -> None:
        values = parameters[0] if executemany and parameters else parameters
        before_statement(inline.mogrify(statement, values or None), _revision_line(sys._getframe(1), filename))

    try:
        with engine.connect() as sa_connection:  # SQLAlchemy's own first queries (server version...) are not checked
            sqlalchemy.event.listen(sa_connection, "before_cursor_execute", check)
            context = MigrationContext.configure(connection=sa_connection)
            context.autocommit_block = _refuse_autocommit_block
            with Operations.context(context):
                module.upgrade()
    except sqlalchemy.exc.DBAPIError as error:
        raise error.orig from None
    except (UserError, psycopg.Error):
        raise
    except Exception as error:  # the revision's own code
        raise UserError(f"{path}:{_failing_line(error.__traceback__, filename)}: upgrade() failed "
                        f"({type(error).__name__}: {first_line(error)}); nothing of it was applied") from None
    finally:
        inline.close()
        engine.dispose()


def _refuse_autocommit_block():
    raise UserError("autocommit_block() cannot run in a revision that reads the database (it runs in one "
                    "transaction): move the statements that need it to a revision of their own")


class _ExecutorOwned:
    """The executor's connection as SQLAlchemy's DBAPI connection. Its transaction and settings
    are the executor's: commit, rollback and close from SQLAlchemy do nothing, and changing a
    setting (autocommit, isolation level) is refused."""

    def __init__(self, connection):
        object.__setattr__(self, "_connection", connection)

    def __getattr__(self, name):
        return getattr(self._connection, name)

    def __setattr__(self, name, value):
        raise UserError(f"a revision that reads the database runs in the executor's transaction: it cannot set {name}")

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


_OFFLINE: tuple | None = None


def _offline_context():
    """One offline PostgreSQL MigrationContext per process, its output captured (configuring one costs)."""
    global _OFFLINE
    if _OFFLINE is None:
        from alembic.runtime.migration import MigrationContext

        capture = _Capture("", RenderedRevision(Path()))
        _OFFLINE = (capture, MigrationContext.configure(dialect_name="postgresql",
                                                         opts={"as_sql": True, "output_buffer": capture}))
    return _OFFLINE


def version_table_sql(revision_map, scripts: list, heads: tuple[str, ...]) -> list[str]:
    """Per revision in `scripts` (upgrade order, from `heads`), the SQL that moves alembic_version
    past it, as Alembic itself writes it: one row per head, so branch points insert a row and
    merge revisions delete all but one of their parents' rows."""
    from alembic.runtime.migration import HeadMaintainer, MigrationStep

    capture, context = _offline_context()
    maintainer = HeadMaintainer(context, heads)
    changes = []
    for script in scripts:
        capture.filename, capture.rendered = "", RenderedRevision(Path())
        maintainer.update_to_step(MigrationStep.upgrade_from_script(revision_map, script))
        changes.append(";\n".join(text.rstrip(";") for _, text in capture.rendered.statements))
    return changes


def _failing_line(traceback, filename: str) -> int:
    line = 1
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == filename:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _directives(source: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    if "migrator:" not in source:
        return found
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and token.string.lstrip("# ").startswith("migrator:"):
                found.append((token.start[0], "-- " + token.string.lstrip("# ")))
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def origin_line(origin: list[int], line: int) -> int:
    """The revision line that a line of to_sql()'s text stands for."""
    return origin[min(line, len(origin)) - 1]


def to_sql(rendered: RenderedRevision) -> tuple[str, list[int]]:
    """The rendered SQL text and, per line of it, the revision line it stands for.

    An `ignore` directive is placed before the statement it applies to: one on the same
    revision line, else the first one below it.
    """
    lines: list[str] = []
    origin: list[int] = []
    pending = sorted(rendered.directives)
    for line, text in pending:
        if not text.startswith("-- migrator:ignore ") and not text.startswith("-- migrator:ignore\t"):
            lines.append(text)
            origin.append(line)
    ignores = [(line, text) for line, text in pending if text.startswith("-- migrator:ignore ") or text.startswith("-- migrator:ignore\t")]
    for statement_line, sql in rendered.statements:
        for directive in [d for d in ignores if d[0] <= statement_line]:
            lines.append(directive[1])
            origin.append(directive[0])
            ignores.remove(directive)
        for text in sql.splitlines():
            lines.append(text)
            origin.append(statement_line)
    for line, text in ignores:  # applies to nothing: reported as unused at its own line
        lines.append(text)
        origin.append(line)
    return "\n".join(lines) + "\n", origin


def revision_files(target: Path) -> list[Path] | None:
    """The revision files of an Alembic project (alembic.ini, or a folder holding it or env.py); None if not one."""
    if target.is_file() and target.name.endswith(".ini"):
        return _versions_of_ini(target)
    if target.is_dir():
        if (target / "alembic.ini").is_file():
            return _versions_of_ini(target / "alembic.ini")
        if (target / "env.py").is_file() and (target / "versions").is_dir():
            return sorted((target / "versions").rglob("*.py"))
    return None


def _versions_of_ini(ini: Path) -> list[Path]:
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent.resolve())})
    parser.read(ini)
    section = "alembic"
    script_location = parser.get(section, "script_location", fallback=None) if parser.has_section(section) else None
    if not script_location:
        raise ValueError(f"{ini}: no script_location in [alembic]")
    script = Path(script_location)
    if not script.is_absolute():
        script = ini.parent / script
    locations = parser.get(section, "version_locations", fallback=None)
    folders = [Path(p) if Path(p).is_absolute() else ini.parent / p for p in (locations or "").replace(",", " ").split()] \
        or [script / "versions"]
    files = []
    for folder in folders:
        if not folder.is_dir():
            raise ValueError(f"{ini}: versions folder {folder} does not exist")
        files += sorted(p for p in folder.rglob("*.py") if p.name != "__init__.py")
    return files
