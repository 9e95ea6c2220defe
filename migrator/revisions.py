"""Alembic revisions as SQL: `upgrade()` rendered offline with Alembic's own as_sql mode.

Nothing connects to a database. Each rendered statement remembers the line of the `op.` call
in the revision that produced it, so findings point there. `# migrator:` comments in the
revision work like the SQL directives. A revision that reads the database cannot be rendered
offline: `migrator apply` runs it with Alembic's own runtime (migrator.alembic_source).
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import importlib.util
import io
import os
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from migrator.errors import first_line


@dataclass
class RenderedRevision:
    path: Path
    statements: list[tuple[int, str]] = field(default_factory=list)  # (revision line, SQL)
    directives: list[tuple[int, str]] = field(default_factory=list)  # (revision line, "-- migrator:...")
    error: tuple[int, str] | None = None  # (revision line, why it could not be rendered)
    stacks: list[tuple[int, ...]] = field(default_factory=list)  # per statement: the revision lines on its call stack
    blocks: dict[int, str] = field(default_factory=dict)  # statement index -> its autocommit_block() edge (Statement.alembic_block)


class _Capture:
    """Alembic's output buffer: records each statement with the revision lines that emitted it."""

    def __init__(self, filename: str, rendered: RenderedRevision):
        self.filename = filename
        self.rendered = rendered

    def write(self, text: str) -> None:
        text = text.strip()
        if text:
            stack = revision_stack(sys._getframe(1), {self.filename})
            edge = autocommit_block_edge(sys._getframe(1), text)
            if edge is not None:
                self.rendered.blocks[len(self.rendered.statements)] = edge
            self.rendered.statements.append((stack[0] if stack else 1, text))
            self.rendered.stacks.append(stack)

    def flush(self) -> None:
        pass


_AUTOCOMMIT_BLOCK_FILE = os.path.join("alembic", "runtime", "migration.py")


def autocommit_block_edge(frame, text: str) -> str | None:
    """"enter" for the COMMIT Alembic's autocommit_block() writes as it begins, "exit" for the BEGIN
    it writes as it ends; None for any other statement (a revision's own BEGIN or COMMIT too)."""
    word = text.rstrip(";").strip().upper()
    if word not in ("COMMIT", "BEGIN"):
        return None
    while frame is not None:
        code = frame.f_code
        if code.co_name == "autocommit_block" and code.co_filename.endswith(_AUTOCOMMIT_BLOCK_FILE):
            return "enter" if word == "COMMIT" else "exit"
        frame = frame.f_back
    return None


def mark_autocommit_blocks(statements, blocks: dict[int, str]) -> None:
    """Tell the statements autocommit_block() sent (to_sql's blocks: their lines of its text) from a revision's own."""
    for statement in statements if blocks else ():
        statement.alembic_block = blocks.get(statement.line)


def revision_stack(frame, filenames) -> tuple[int, ...]:
    """The lines of the revision files in `filenames` on the call stack, innermost first."""
    lines = []
    while frame is not None:
        if frame.f_code.co_filename in filenames:
            lines.append(frame.f_lineno)
        frame = frame.f_back
    return tuple(lines)


class RevisionDirectives:
    """A revision's `# migrator:` comments, each tied to the Python statement it applies to: the
    one on its line, else the next one below it (a whole `def` when that comes next). A statement
    sent to the database is covered when any revision line on its call stack lies in that
    statement, so a directive works wherever the `op.` call sits, in a helper function too."""

    def __init__(self, source: str):
        self.comments = _directives(source)
        try:
            tree = ast.parse(source)
        except SyntaxError:
            tree = ast.Module(body=[], type_ignores=[])
        self._spans = sorted((node.lineno, node.end_lineno or node.lineno)
                             for node in ast.walk(tree) if isinstance(node, ast.stmt))

    def target(self, line: int) -> tuple[int, int] | None:
        """The lines of the Python statement a directive on `line` applies to."""
        on_line = [span for span in self._spans if span[0] == line]
        if on_line:
            return min(on_line, key=lambda span: span[1])
        below = [span for span in self._spans if span[0] > line]
        if not below:
            return None
        first = min(span[0] for span in below)
        return min((span for span in below if span[0] == first), key=lambda span: span[1])

    def covers(self, directive_line: int, stack: tuple[int, ...]) -> bool:
        span = self.target(directive_line)
        return span is not None and any(span[0] <= line <= span[1] for line in stack)

    def ignores(self, rule: str, stack: tuple[int, ...]) -> bool:
        """Does an ignore (or ignore-file) directive silence `rule` for a statement sent from `stack`?"""
        for line, text in self.comments:
            verb, _, rest = text.removeprefix("-- migrator:").partition(" ")
            rules = {item.strip() for item in rest.split("--", 1)[0].split(",")}
            if rule in rules and (verb == "ignore-file" or verb == "ignore" and self.covers(line, stack)):
                return True
        return False


def render_revision(path: Path, module=None, function: str = "upgrade", config=None,
                    arguments: dict | None = None) -> RenderedRevision:
    """Render a revision's upgrade() (or `function`) to SQL for PostgreSQL, offline (module: the revision already
    imported); `op.get_context().config` is the project's Alembic `config` (else one without options), as for
    `alembic upgrade --sql`; `arguments`: what env.py passes to run_migrations() that is known offline, given
    to upgrade() where it takes them."""
    from alembic.config import Config
    from alembic.operations import Operations
    from alembic.runtime.environment import EnvironmentContext

    rendered = RenderedRevision(path)
    filename = str(path.resolve())
    source = path.read_text(encoding="utf-8")
    rendered.directives = _directives(source)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # what a revision prints must not corrupt json/sarif output
            if module is None:
                spec = importlib.util.spec_from_file_location(f"migrator_revision_{abs(hash(filename))}", filename)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            filename = getattr(module, "__file__", None) or filename
            upgrade = getattr(module, function, None)
            if not callable(upgrade):
                rendered.error = (1, f"no {function}() function: not an Alembic revision")
                return rendered
            given = {name: value for name, value in (arguments or {}).items() if _takes(upgrade, name)}
            wanted = [name for name in _required_parameters(upgrade) if name not in given]
            if wanted:
                rendered.error = (upgrade.__code__.co_firstlineno, f"cannot render offline: {function}() takes "
                                  f"{', '.join(wanted)}, which env.py passes to context.run_migrations() when it runs "
                                  "online; offline it gets nothing to call it with")
                return rendered
            capture, context = _offline_context()
            capture.filename, capture.rendered = filename, rendered
            context.environment_context = EnvironmentContext(config or Config(), None)  # only its config is read
            with Operations.context(context):
                upgrade(**given)
    except SyntaxError as error:
        rendered.error = (error.lineno or 1, f"syntax error: {error.msg}")
    except ImportError as error:  # the application the revision imports is not installed here
        rendered.error = (_failing_line(error.__traceback__, filename),
                          f"cannot render: {type(error).__name__}: {first_line(error)}; run migrator where the "
                          "application is installed, or name its folder in the ini's prepend_sys_path")
    except Exception as error:  # the revision's own code: anything can fail offline
        line = _failing_line(error.__traceback__, filename)
        reads = " revisions that read from the database (op.get_bind()) need a live one" if _reads_database(error, source) else \
            " its own code failed without a database to run on"
        rendered.error = (line, f"cannot render offline ({type(error).__name__}: {first_line(error)});{reads}")
    return rendered


def _required_parameters(function) -> list[str]:
    """The parameters of a revision's upgrade() that have no default (what env.py must pass it)."""
    import inspect

    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # not a plain Python function: call it as Alembic would
        return []
    return [p.name for p in parameters if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _takes(function, name: str) -> bool:
    """Does the function take a keyword argument of that name?"""
    import inspect

    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind == p.VAR_KEYWORD for p in parameters.values())


def _reads_database(error: Exception, source: str) -> bool:
    """Did rendering fail on what the database would have answered: the revision asks for the connection
    (whose offline stand-in, SQLAlchemy's MockConnection, returns no rows), or that stand-in was inspected
    or used as a live one, or Alembic's online context was asked for?"""
    if "get_bind" in source:
        return True
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename.endswith(os.path.join("sqlalchemy", "engine", "mock.py")):
            return True
        traceback = traceback.tb_next
    return "MockConnection" in str(error) or "get_bind" in str(error) or "EnvironmentContext" in str(error)


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


def to_sql(rendered: RenderedRevision) -> tuple[str, list[int], dict[int, str]]:
    """The rendered SQL text, per line of it the revision line it stands for, and the lines of the
    statements autocommit_block() sent with their edge (see mark_autocommit_blocks).

    An `ignore` directive is placed before the first statement it covers (see RevisionDirectives).
    """
    lines: list[str] = []
    origin: list[int] = []
    pending = sorted(rendered.directives)
    for line, text in pending:
        if not text.startswith("-- migrator:ignore ") and not text.startswith("-- migrator:ignore\t"):
            lines.append(text)
            origin.append(line)
    ignores = [(line, text) for line, text in pending if text.startswith("-- migrator:ignore ") or text.startswith("-- migrator:ignore\t")]
    coverage = RevisionDirectives(rendered.path.read_text(encoding="utf-8")) if ignores else None
    stacks = rendered.stacks or [(line,) for line, _ in rendered.statements]
    blocks = {}
    for index, ((statement_line, sql), stack) in enumerate(zip(rendered.statements, stacks)):
        for directive in [d for d in ignores if coverage.covers(d[0], stack)]:
            lines.append(directive[1])
            origin.append(directive[0])
            ignores.remove(directive)
        if index in rendered.blocks:
            blocks[len(lines) + 1] = rendered.blocks[index]
        for text in sql.splitlines():
            lines.append(text)
            origin.append(statement_line)
    for line, text in ignores:  # applies to nothing: reported as unused at its own line
        lines.append(text)
        origin.append(line)
    return "\n".join(lines) + "\n", origin, blocks


@dataclass
class ProjectLayout:
    """Where an Alembic project keeps its parts, as Alembic reads alembic.ini (relative paths are
    taken from the ini's folder, or the project root above it they were written for, so migrator
    finds them from anywhere)."""

    ini: Path | None
    script: Path  # the folder holding env.py
    versions: list[Path]  # the version folders
    sys_paths: list[str]  # prepend_sys_path, absolute


def project_layout(target: Path) -> ProjectLayout | None:
    """An Alembic project given as an .ini, the folder holding alembic.ini, or the folder holding
    env.py; None if `target` is none of these. Without script_location the ini's own folder holds
    env.py (the Flask-Migrate layout)."""
    if target.is_file() and target.name.endswith(".ini"):
        ini = target
    elif target.is_dir() and (target / "alembic.ini").is_file():
        ini = target / "alembic.ini"
    elif target.is_dir() and (target / "env.py").is_file():
        return ProjectLayout(None, target.resolve(), [target.resolve() / "versions"], [])
    else:
        return None
    here = ini.parent.resolve()
    parser = configparser.ConfigParser(defaults={"here": str(here)})
    parser.read(ini)

    def option(name: str) -> str | None:
        return parser.get("alembic", name, fallback=None) if parser.has_section("alembic") else None

    location = option("script_location")
    base = _relative_base(here, location)
    separator = {"os": os.pathsep, "space": " ", "newline": "\n", ";": ";", ":": ":"}.get(option("path_separator") or "", None)

    def split(value: str | None) -> list[str]:
        if not value:
            return []
        if separator is not None:
            return [part.strip() for part in value.split(separator) if part.strip()]
        return [part for part in value.replace(",", " ").split() if part]  # Alembic's legacy splitting

    sys_paths = [str((base / path).resolve()) for path in split(option("prepend_sys_path"))]

    def absolute(path: str, name: str = "script_location") -> Path:
        if not Path(path).is_absolute() and ":" in path:  # package:folder, as Alembic reads it
            return _package_folder(path, f"{ini}: {name} {path}", sys_paths)
        return Path(path) if Path(path).is_absolute() else base / path

    if location:
        script = absolute(location)
    elif (here / "env.py").is_file():
        script = here
    else:
        raise ValueError(f"{ini}: no script_location in [alembic], and no env.py beside it")
    versions = [absolute(folder, "version_locations") for folder in split(option("version_locations"))] or [script / "versions"]
    return ProjectLayout(ini, script, versions, sys_paths)


def _package_folder(resource: str, where: str, sys_paths: list[str]) -> Path:
    """The folder a location written as package:folder names (Alembic reads it with importlib.resources),
    found on the path (prepend_sys_path first) without importing the package."""
    import importlib.machinery

    package, *folders = resource.split(":")
    top, *inner = package.split(".")
    spec = importlib.machinery.PathFinder.find_spec(top, [*sys_paths, *sys.path])
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{where}: package {package} is not importable here: install the application, or name the "
                         "folder holding it in the ini's prepend_sys_path")
    return Path(list(spec.submodule_search_locations)[0], *inner, *folders)


def _relative_base(here: Path, location: str | None) -> Path:
    """The folder the ini's relative paths are read from: its own, or else the nearest folder above
    it that holds script_location. Alembic reads them from the working directory, so an ini can be
    written for running from a project root above it (MLflow's `mlflow/store/db_migrations/alembic.ini`
    names `mlflow/store/db_migrations`); migrator finds that root from anywhere."""
    if not location or Path(location).is_absolute() or (here / location / "env.py").is_file():
        return here
    return next((folder for folder in here.parents if (folder / location / "env.py").is_file()), here)


def loose_revisions(folder: Path) -> list[Path]:
    """The Alembic revisions in a folder that is no project of its own (a versions folder): its .py files, in
    subfolders too, that define upgrade() and name their revision."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "def upgrade(" in text and "revision" in text:
            found.append(path)
    return found


def revision_files(target: Path) -> list[Path] | None:
    """The revision files of an Alembic project (see project_layout), its prepend_sys_path put on
    sys.path so revisions that import the application render; None if `target` is not one."""
    layout = project_layout(target)
    if layout is None:
        return None
    sys.path[:0] = [path for path in layout.sys_paths if path not in sys.path]
    files = []
    for folder in layout.versions:
        if not folder.is_dir():
            raise ValueError(f"{layout.ini or target}: versions folder {folder} does not exist")
        files += sorted(p for p in folder.rglob("*.py") if p.name != "__init__.py")
    return files
