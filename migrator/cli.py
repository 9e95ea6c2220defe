"""The `migrator` command line."""

from __future__ import annotations

import atexit
import functools
import gc
import json
import sys
from pathlib import Path

import click

from migrator import __version__
from migrator.runners import RUNNERS  # small: the names for --runner

# On exit the interpreter's last garbage collections walk every object of the libraries loaded
# (sqlglot, SQLAlchemy, Alembic: over 100,000), about 0.2 s of a 0.6 s `apply`, and there is
# nothing left to collect by then: frozen objects are skipped. Files and connections are closed
# by their own `with` blocks before this runs.
atexit.register(gc.freeze)


class DurationType(click.ParamType):
    """A duration option such as 200ms, 5s or 1m, converted to milliseconds."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        from migrator.durations import parse_duration

        try:
            return parse_duration(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


DURATION = DurationType()


class SizeType(click.ParamType):
    """A size such as 0, 64kB, 8MB or 1GB (units as PostgreSQL writes them), converted to bytes."""

    name = "size"
    UNITS = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40}

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        import re

        match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?b)?\s*", str(value), re.IGNORECASE)
        if match is None or (match.group(2) is None and match.group(1) != "0"):
            self.fail(f"{value!r} is not a size: write it with a unit, as 512kB, 8MB or 1GB (or 0)", param, ctx)
        return int(match.group(1)) * self.UNITS[(match.group(2) or "b").lower()]


SIZE = SizeType()


def _rule_list(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(item.strip() for item in value.split(",") if item.strip())


def _one_line_errors(function):
    """Errors meant for people (and database errors) become one line, password masked, exit status 1."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        import psycopg

        from migrator.dsn import mask_password
        from migrator.errors import UserError, first_line

        try:
            return function(*args, **kwargs)
        except UserError as error:
            raise click.ClickException(mask_password(str(error))) from None
        except psycopg.Error as error:
            raise click.ClickException(mask_password(first_line(error))) from None

    return wrapper


class _UsageLine(click.ClickException):
    """A usage error on one line, as every other error: `Error: <what> (see 'migrator lint --help')`."""

    exit_code = 2

    def __init__(self, error: click.UsageError):
        message = error.format_message().rstrip(".")
        if error.ctx is not None and "(see " not in message:
            message += f" (see '{error.ctx.command_path} --help')"
        super().__init__(message)


class _OneLineUsageErrors(click.Group):
    """Click prints a usage error after the command's usage and a hint, on four lines; here each is
    one line. Parsing the top-level options (make_context) and everything below (invoke) is covered.
    A group given no command (`migrator`, `migrator backfill`) is not one: Click shows its help
    as `--help` does, on stderr with exit 2 (Click's convention since 8.2: the command is missing)."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise _UsageLine(error) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise _UsageLine(error) from None


@click.group(cls=_OneLineUsageErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="migrator")
def main():
    """migrator: safe schema migrations and backfills for PostgreSQL.

    \b
    Examples:
      migrator lint migrations/
      migrator explain set-not-null
    """


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--pg-version", type=click.IntRange(10, 19), help="Target PostgreSQL major version [default: 15].")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github", "sarif"]), default="text", show_default=True,
              help="text for people, json for tools, github for Actions annotations, sarif for code scanning.")
@click.option("--changed-since", metavar="GIT_REF", help="Only files added or modified since this git ref (and uncommitted ones), "
                   "asked of each file's own repository.")
@click.option("--select", help="Only these rules (comma-separated ids); can enable off-by-default rules. "
                                "syntax-error and unanalyzable-statement still run: what was not read is never passed.")
@click.option("--ignore", help="Skip these rules (comma-separated ids).")
@click.option("--max-timeout", type=DURATION, help="Largest lock/statement timeout allowed [default: 5s].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Config file for every PATH (default: migrator.toml or [tool.migrator] in pyproject.toml, "
                   "searched upward from each linted file's folder, as ruff does).")
@click.option("--runner", type=click.Choice(sorted(RUNNERS)),
              help="The migration tool that applies the files: decides which run in a transaction [default: detected per file].")
@click.option("--no-cache", is_flag=True, help="Lint every file again: neither read nor write the result cache.")
@click.option("--dsn", help="Also warn about columns that unfinished backfills of this database write or read (no cache).")
@click.option("--fleet", "fleet_file", is_flag=False, flag_value="", default=None, metavar="FILE",
              help="As --dsn, for the unfinished backfills of every target of the [fleet] table of FILE (alone: the "
                   "migrator.toml found upward).")
def lint(paths, pg_version, output_format, changed_since, select, ignore, max_timeout, config_path, runner, no_cache, dsn,
         fleet_file):
    """Lint SQL migration files for locking and rewriting hazards.

    PATHS are SQL files, Alembic revisions (.py), Alembic projects (alembic.ini or its folder),
    directories (searched for *.sql and Synapse's PostgreSQL-only *.sql.postgres, leaving out down
    migrations and files named for another database, such as NAME.sqlite.sql or NAME.mysql.up.sql)
    or - for standard input. In goose and dbmate files only the up section is linted.
    Exit status: 0 no errors, 1 error findings, 2 usage error or unreadable input.

    \b
    Examples:
      migrator lint migrations/
      migrator lint --pg-version 12 --format json db/0042_add_index.sql
      migrator lint --changed-since origin/main --format github migrations/
    """
    from migrator.config import ConfigError, find_config_file, load_config
    from migrator.lint_cache import LintCache
    from migrator.output import print_github, print_json, print_sarif, print_text

    # Every file's findings are kept until the report: at the default thresholds the collector walks
    # that growing heap over and over (a third of the time of a cached re-run of 2,000 files), and a
    # lint run is short. Collecting a hundred times less often still bounds the garbage of parsing.
    gc.set_threshold(200_000, 30, 30)
    configs: dict[Path | None, tuple] = {}  # config source: (config, its cache, its linter once needed)
    backfills = _unfinished_backfills(dsn) if dsn else None
    if fleet_file is not None:
        backfills = (*(backfills or ()), *_fleet_backfills(_load_fleet(fleet_file, None, None, None, Path(paths[0]))))
    sources: dict[Path, Path | None] = {}  # folder: its config source, searched once per folder

    def config_for(folder: Path):
        """The configuration that applies in folder: --config, else the nearest one upward from folder
        (as ruff finds it), with the command line's options over it."""
        if folder not in sources:
            sources[folder] = config_path or find_config_file(folder.resolve())
        source = sources[folder]
        if source not in configs:
            try:
                config = load_config(source, start=folder.resolve())
            except ConfigError as error:
                raise click.UsageError(str(error)) from None
            config = config.with_options(
                pg_version=pg_version, max_timeout_ms=max_timeout, select=_rule_list(select),
                ignore=_rule_list(ignore) if ignore is not None else None, runner=runner, backfills=backfills,
            )
            for option, given, rule_ids in (("--select", select, config.select), ("--ignore", ignore, config.ignore)):
                unknown = sorted(set(rule_ids or ()) - _known_rules()) if rule_ids else []
                if unknown:
                    raise click.BadParameter(f"unknown rule {unknown[0]!r} (see `migrator rules`)",
                                             param_hint=option if given is not None else config.source)
            configs[source] = [config, None if no_cache or backfills is not None else LintCache(config), None]
        return configs[source]

    def linter_for(folder: Path):
        """The linter of folder's configuration, built (sqlglot and the rules loaded) only when a file needs it."""
        entry = config_for(folder)
        if entry[2] is None:
            from migrator.lint import Linter

            entry[2] = Linter(entry[0])
        return entry[2]

    config_for(Path.cwd())  # a bad option or configuration is a usage error even with nothing to lint
    results, input_errors = [], []
    inputs = list(_expand_paths(paths, input_errors))
    if changed_since:
        changed = _changed_files(changed_since, [(display, path) for display, path in inputs if path is not None])
        inputs = [(display, path) for display, path in inputs if path is None or path.resolve() in changed]
    if any(path is None for _, path in inputs):
        from migrator.lint import FileResult, InputError, decode_sql

        try:
            results.append(linter_for(Path.cwd()).lint_text(decode_sql(sys.stdin.buffer.read()), "<stdin>"))
        except InputError as error:
            results.append(FileResult("<stdin>", error=str(error)))
    groups: dict[int, list[tuple[int, tuple[str, Path]]]] = {}
    by_position = {}
    for position, (display, path) in enumerate(inputs):
        if path is None:
            continue
        entry = config_for(path.parent)
        cached = entry[1].get(path, display) if entry[1] is not None else None
        if cached is not None:
            by_position[position] = cached
        else:
            groups.setdefault(id(entry), []).append((position, (display, path)))
    for members in groups.values():
        from migrator.lint import lint_files

        _, cache, _ = config_for(members[0][1][1].parent)
        linter = linter_for(members[0][1][1].parent)
        for (position, (_, path)), result in zip(members, lint_files(linter, [item for _, item in members])):
            by_position[position] = result
            if cache is not None:
                cache.store(path, result)
    for _, cache, _ in configs.values():
        if cache is not None:
            cache.save()
    results += [by_position[position] for position in sorted(by_position)]
    input_errors += [f"{r.path}: error: {r.error}" for r in results if r.error]
    for message in input_errors:
        click.echo(message, err=True)
    for result in results:
        if result.note:
            click.echo(f"{result.path}: {result.note}", err=True)
    findings = [finding for result in results for finding in result.findings]
    if output_format == "json":
        print_json(findings)
    elif output_format == "github":
        print_github(findings)
    elif output_format == "sarif":
        from lint_rules import all_rules

        print_sarif(findings, all_rules().values())
    else:
        print_text(results)
    if input_errors:
        sys.exit(2)
    sys.exit(1 if any(f.severity == "error" for f in findings) else 0)


def _known_rules() -> set[str]:
    from lint_rules import all_rules

    return set(all_rules())


def _fleet_backfills(fleet) -> tuple:
    """The unfinished backfills of every target, each named with the targets it runs on."""
    import dataclasses

    on: dict = {}
    for target in fleet.targets:
        for known in _unfinished_backfills(target.connection_dsn):
            on.setdefault(known, []).append(target.name)
    return tuple(dataclasses.replace(known, targets=f"{', '.join(names[:3])}{' ...' if len(names) > 3 else ''}")
                 for known, names in on.items())


def _unfinished_backfills(dsn: str) -> tuple:
    """The backfills of the database at dsn that are not done (for the unfinished-backfill rule)."""
    from migrator.dsn import connect
    from migrator.errors import UserError
    from migrator.gates import unfinished_backfills

    try:
        with connect(dsn, UserError) as connection:
            return unfinished_backfills(connection)
    except UserError as error:
        raise click.BadParameter(str(error), param_hint="--dsn") from None


def _changed_files(ref: str, files: list[tuple[str, Path]]) -> set[Path]:
    """Of files (display name, path), those added or modified since ref in their own git repository,
    committed or not, or untracked (resolved paths). git runs in each file's repository, found from
    its folder, wherever the working directory is."""
    import subprocess

    def git(folder: Path, *args: str, failure: str = "git failed") -> str:
        try:
            result = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True)
        except FileNotFoundError:
            raise click.UsageError("--changed-since needs git, which is not installed") from None
        if result.returncode != 0:
            raise click.BadParameter(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else failure,
                                     param_hint="--changed-since")
        return result.stdout

    tops: dict[Path, Path] = {}  # folder: the top of its repository
    for display, path in files:
        folder = path.parent.resolve()
        if folder not in tops:
            try:
                tops[folder] = Path(git(folder, "rev-parse", "--show-toplevel").strip())
            except click.BadParameter as error:
                problem = " is in no git repository" if "not a git repository" in error.message else f": {error.message}"
                raise click.BadParameter(f"{display}{problem}", param_hint="--changed-since") from None
    changed: set[Path] = set()
    for top in sorted(set(tops.values())):
        git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", failure=f"{ref!r} is no commit of the repository at {top}")
        names = git(top, "diff", "-z", "--name-only", "--diff-filter=AMR", ref, "--")
        names += git(top, "ls-files", "-z", "--others", "--exclude-standard")
        changed |= {(top / name).resolve() for name in names.split("\0") if name}
    return changed


def _expand_paths(paths, errors: list[str]):
    """(display name, Path or None for stdin) for each input; problems go to errors.

    A folder (or alembic.ini) of an Alembic project gives its revision files; another folder its SQL migrations
    (runners.sql_migrations). The folder of an Alembic project gives its SQL migrations outside the
    project's versions folders too. A file reached twice is linted once.
    """
    seen: set = set()
    for display, path in _each_input(paths, errors):
        key = _file_identity(path) if path is not None else None
        if key not in seen:
            seen.add(key)
            yield display, path


def _file_identity(path: Path):
    """What makes two paths the same file (links and relative spellings alike): one stat, where
    resolving the path would look up each of its folders."""
    try:
        stat = path.stat()
    except OSError:
        return path.resolve()
    return stat.st_dev, stat.st_ino


def _each_input(paths, errors: list[str]):
    from migrator.revisions import loose_revisions, project_layout, revision_files
    from migrator.runners import sql_migrations

    for raw in paths:
        if raw == "-":
            yield "<stdin>", None
            continue
        path = Path(raw)
        try:
            revisions = revision_files(path)
        except ValueError as error:
            errors.append(f"{raw}: error: {error}")
            continue
        if revisions is not None:
            if not revisions:
                errors.append(f"{raw}: error: Alembic project without revisions")
            for file in revisions:
                yield str(file), file
            if path.is_dir():  # its SQL folders (sql/, unsafe/ ...) are the user's too
                versions = project_layout(path).versions
                for file in sql_migrations(path, recursive=True):
                    if not any(file.resolve().is_relative_to(folder) for folder in versions):
                        yield str(file), file
        elif path.is_dir():
            files = sql_migrations(path, recursive=True) + loose_revisions(path)  # an Alembic versions folder: revisions
            if not files:
                errors.append(f"{raw}: error: no .sql files or Alembic revisions in this directory")
            for file in files:
                yield str(file), file
        elif not path.exists():
            errors.append(f"{raw}: error: no such file or directory")
        else:
            yield raw, path


@main.command()
@click.option("--format", "output_format", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
def rules(output_format):
    """List every lint rule with its id, severity and summary.

    \b
    Examples:
      migrator rules
      migrator rules --format markdown > docs/rules.md
    """
    from lint_rules import all_rules
    from migrator.output import print_rules

    print_rules(list(all_rules().values()), output_format)


@main.command()
@click.argument("rule_id")
def explain(rule_id):
    """Show a rule's documentation: what it does, why it is bad, what to use instead.

    \b
    Example:
      migrator explain require-concurrent-index
    """
    from lint_rules import all_rules
    from migrator.output import print_markdown

    rule = all_rules().get(rule_id)
    if rule is None:
        raise click.BadParameter(f"unknown rule {rule_id!r} (see `migrator rules`)", param_hint="RULE_ID")
    print_markdown(rule.explain())


@main.group()
def sandbox():
    """Throwaway PostgreSQL: a primary plus streaming replicas on this machine.

    \b
    Examples:
      migrator sandbox up --replicas 2
      migrator sandbox up --detach && migrator sandbox status
      migrator sandbox down
      migrator sandbox up --detach --name ci-42 && migrator sandbox down --name ci-42

    Each sandbox has a name: --name, or by default one per working directory, so `down` and
    `status` act on this directory's sandbox and leave those of other jobs and users alone.

    Exit status (as pg_ctl's): 0 done or running, 1 an error, or a sandbox whose servers are not all
    running (status) or that runs in the foreground elsewhere (down), 3 no such sandbox running.
    """


NAME_OPTION = click.option("--name", help="The sandbox's name [default: one per working directory].")
NOT_RUNNING = 3  # the exit status of `pg_ctl status` (and of an LSB init script's status) for a server that is not running


@sandbox.command("up")
@click.option("--replicas", type=click.IntRange(0, 8), default=1, show_default=True, help="Streaming replicas to start.")
@click.option("--port", type=click.IntRange(1, 65535), help="Primary's loopback port [default: a free one].")
@click.option("--detach", is_flag=True, help="Return once the cluster is ready; stop it with `migrator sandbox down`.")
@NAME_OPTION
@_one_line_errors
def sandbox_up(replicas, port, detach, name):
    """Start a sandbox and print one postgresql:// DSN per line, the primary's first.

    Without --detach it runs until interrupted (Ctrl-C), then removes everything.

    \b
    Example:
      DATABASE_URL=$(migrator sandbox up --detach | head -1)
    """
    import signal
    import threading

    from migrator.sandbox import Cluster, default_name

    cluster = Cluster(replicas=replicas, port=port, detached=detach, name=name or default_name()).start()
    for dsn in cluster.dsns():
        click.echo(dsn)
    if detach:
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo("sandbox running; press Ctrl-C to stop it", err=True)
    stop.wait()
    cluster.stop()
    click.echo("sandbox stopped and removed", err=True)


@sandbox.command("down")
@NAME_OPTION
@click.option("--all", "every", is_flag=True, help="Every detached sandbox of yours, whatever its name.")
@_one_line_errors
def sandbox_down(name, every):
    """Stop and remove this directory's detached sandbox (or the one named), and any of yours
    left behind by a killed process. With --all, once none of yours is left, the cached initdb
    (TMPDIR/migrator-initdb-*) goes too.

    \b
    Examples:
      migrator sandbox down
      migrator sandbox down --name ci-42
      migrator sandbox down --all
    """
    from migrator.sandbox import default_name, find_sandboxes, read_state, remove_initdb_caches, stop_root, sweep_stale

    if name and every:
        raise click.UsageError("give --name or --all, not both")
    wanted = None if every else name or default_name()
    stopped = sweep_stale()
    found = any((read_state(root) or {}).get("name") == wanted for root in stopped)
    still_running = False
    for root, state in find_sandboxes(wanted):
        found = True
        if state.get("detached"):
            stop_root(root)
            stopped.append(root)
        else:
            still_running = not every
            click.echo(f"sandbox {state.get('name')} is run by pid {state.get('owner_pid')}: stop it with Ctrl-C there", err=True)
    if wanted is not None and not found:
        click.echo(f"no sandbox named {wanted} is running: nothing to stop (`migrator sandbox status --all` lists yours)", err=True)
        sys.exit(NOT_RUNNING)
    click.echo(f"stopped {len(stopped)} sandbox{'es' if len(stopped) != 1 else ''}")
    if every:
        caches = remove_initdb_caches()
        click.echo("kept the initdb cache: a sandbox of yours is still there" if caches is None
                   else f"removed the initdb cache ({len(caches)} folder{'s' if len(caches) != 1 else ''})")
    if still_running:
        sys.exit(1)


@sandbox.command("status")
@NAME_OPTION
@click.option("--all", "every", is_flag=True, help="Every sandbox of yours, whatever its name.")
@_one_line_errors
def sandbox_status(name, every):
    """Show this directory's sandbox (or the one named, or --all of yours): servers and replica lag.

    Exit status: 0 when every server shown is running, 1 when a server of a sandbox shown is not
    (stopped or killed), 3 when there is no such sandbox (none at all with --all), as `pg_ctl status`.

    \b
    Examples:
      migrator sandbox status
      migrator sandbox status --all
      migrator sandbox status >/dev/null || migrator sandbox up --detach
    """
    import psycopg

    from migrator.sandbox import SUPERUSER, default_name, find_sandboxes, stopped_servers

    if name and every:
        raise click.UsageError("give --name or --all, not both")
    roots = find_sandboxes(None if every else name or default_name())
    if not roots:
        click.echo("no sandbox running" + ("" if every else f" named {name or default_name()} (--all lists every one of yours)"))
        sys.exit(NOT_RUNNING)
    stopped = {root: stopped_servers(state) for root, state in roots}
    for root, state in roots:
        mode = "detached" if state.get("detached") else f"owned by pid {state.get('owner_pid')}"
        click.echo(f"{state.get('name', root.name)}: {root} ({mode})")
        lag = {}
        primary = next((n for n in state["nodes"] if n["role"] == "primary"), None)
        if primary:
            try:
                with psycopg.connect(f"postgresql://{SUPERUSER}@127.0.0.1:{primary['port']}/postgres", connect_timeout=3) as connection:
                    for name, bytes_behind, seconds in connection.execute(
                        "SELECT application_name, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), "
                        "EXTRACT(epoch FROM replay_lag) FROM pg_stat_replication"
                    ):
                        lag[name] = f"lag {float(seconds or 0):.2f} s, {int(bytes_behind or 0)} bytes"
            except psycopg.Error:
                pass
        for node in state["nodes"]:
            running = node["name"] not in stopped[root]
            detail = lag.get(node["name"], "not streaming" if node["role"] == "replica" else "")
            click.echo(f"  {node['name']:<10} {node['role']:<8} port {node['port']:<6} {'running' if running else 'stopped':<8} {detail}")
    if any(stopped.values()) or not all(state["nodes"] for _, state in roots):
        sys.exit(1)


# --- backfill --------------------------------------------------------------------------------
DSN_OPTION = click.option("--dsn", envvar="DATABASE_URL", help="Target database [default: $DATABASE_URL].")


def _require_dsn(dsn):
    if not dsn:
        raise click.UsageError("no database: pass --dsn or set DATABASE_URL")
    return dsn


@main.group()
def backfill():
    """Fill a column over a big table in small, throttled, resumable batches.

    \b
    Examples:
      migrator backfill run fill-handle --table users --set "handle = lower(email)" --max-lag 1s
      migrator backfill status fill-handle
      migrator backfill set fill-handle batch_size=5000
      migrator backfill pause fill-handle && migrator backfill resume fill-handle
    """


def _load_function(reference: str):
    import importlib

    from backfill.spec import BackfillError

    module_name, _, attribute = reference.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise BackfillError(f"--function {reference}: cannot load it ({error})") from None
    if not callable(function):
        raise BackfillError(f"--function {reference}: not callable")
    return function


@backfill.command("run")
@click.argument("name")
@DSN_OPTION
@click.option("--fleet", "fleet_file", is_flag=False, flag_value="", default=None, metavar="FILE",
              help="Run the backfill on each target of the [fleet] table of FILE (alone: the migrator.toml found upward).")
@click.option("--targets-query", metavar="SQL", help="Fleet targets from this query on --catalog-dsn (as apply --fleet).")
@click.option("--catalog-dsn", help="The database --targets-query runs on.")
@click.option("--max-targets", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Fleet: targets backfilled at once, each with its own throttle.")
@click.option("--table", required=True, help="Table to fill (optionally schema-qualified).")
@click.option("--set", "sets", multiple=True, metavar='"COL = EXPR"', help="Assignment; repeatable.")
@click.option("--where", help="Only rows matching this SQL condition.")
@click.option("--key", help="Key column(s), comma-separated [default: the primary key].")
@click.option("--function", "function_ref", metavar="MODULE:FUNC",
              help="Python backfill: FUNC(connection, low_key, high_key) -> rows changed, run in each batch's transaction.")
@click.option("--batch-size", type=int, help="Fixed rows per batch (turns adaptive sizing off).")
@click.option("--target-batch-time", type=DURATION, help="Adaptive sizing target [default: 200ms].")
@click.option("--max-lag", type=DURATION,
              help="Stop new batches above this replica lag [default: 1s], sampled every 100 ms; resume below half.")
@click.option("--replica", "replicas", multiple=True, help="Read lag from this replica directly (repeatable).")
@click.option("--max-wal-rate", type=float, help="Cap on WAL generation, MB/s (a limit, like --max-rows-per-sec).")
@click.option("--max-rows-per-sec", type=float,
              help="Cap on rows per second: a limit, no one-second window exceeds it by more than one batch.")
@click.option("--throttle-query", help="SQL returning a boolean, true pauses; run once a second, read-only, 500ms timeout.")
@click.option("--expected-replicas", metavar="N|NAME,...",
              help="Replicas that must stay connected (a count, or application names); pauses when one is gone "
                   "[default: those connected at start].")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker threads on this machine.")
@click.option("--join", is_flag=True, help="Join a backfill already running elsewhere as extra workers.")
@click.option("--dry-run", is_flag=True, help="Print the key, range, batch estimate and first batch's SQL; write nothing.")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="json: one event per line [default: json when not a terminal].")
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="Serve Prometheus metrics on this port (/metrics).")
@click.option("--metrics-addr", default="0.0.0.0", show_default=True, help="Address the metrics endpoint listens on.")
@click.option("--metrics-linger", type=DURATION, default="30s", show_default=True,
              help="When the backfill ends (done, failed, cancelled), serve until one more scrape, at most this long.")
@_one_line_errors
def backfill_run(name, dsn, fleet_file, targets_query, catalog_dsn, max_targets, table, sets, where, key, function_ref,
                 batch_size, target_batch_time, max_lag, replicas, max_wal_rate, max_rows_per_sec, throttle_query,
                 expected_replicas, workers, join, dry_run, log_format, metrics_port, metrics_addr, metrics_linger):
    """Run (or resume) the backfill NAME. Re-running the same command resumes where it stopped.

    SIGINT or SIGTERM finishes the current batch, checkpoints and exits 0. A failing batch is
    retried at a quarter of its size; the run stops with an error when a batch of min_batch_size
    rows hits the statement timeout, or once batches have failed for 60 s in a row (within 65 s
    plus one last attempt).

    \b
    Examples:
      migrator backfill run fill-handle --table users --set "handle = lower(email)" --where "handle IS NULL"
      migrator backfill run fill-handle --table users --set "handle = lower(email)" --workers 4 --replica "$REPLICA_URL"
      migrator backfill run fill-handle --table users --set "handle = lower(email)" --dry-run
    """
    import signal

    from backfill import state
    from backfill.progress import JsonLog, ProgressBar
    from backfill.runner import Runner
    from backfill.spec import BackfillError, BackfillSpec, parse_assignment
    from migrator.dsn import mask_password

    assignments = dict(parse_assignment(item) for item in sets)
    spec = BackfillSpec(name, table, assignments, where, [k.strip() for k in key.split(",")] if key else None,
                        _load_function(function_ref) if function_ref else None)
    settings = {"batch_size": batch_size, "target_batch_time": target_batch_time, "max_lag": max_lag,
                "max_wal_rate": max_wal_rate, "max_rows_per_sec": max_rows_per_sec, "throttle_query": throttle_query,
                "expected_replicas": state.parse_expected_replicas(expected_replicas, "--expected-replicas")
                if expected_replicas else None}
    json_log = log_format == "json" or (log_format is None and not sys.stdout.isatty())
    fleet = _load_fleet(fleet_file, targets_query, catalog_dsn, None, Path.cwd())
    if fleet is not None:
        from migrator import fleet as fleets

        if replicas or dry_run or metrics_port is not None:
            raise click.UsageError("--replica, --dry-run and --metrics-port name one database: not with a fleet")
        with fleets.FleetView(json_log) as view:
            fleets.run_backfills(fleet, lambda target: Runner(spec, target.connection_dsn, settings=settings, workers=workers,
                                                              join=join), max_targets, view.show)
        return
    dsn = _require_dsn(dsn)
    runner = Runner(spec, dsn, settings=settings, replica_dsns=list(replicas), workers=workers, join=join, dry_run=dry_run)
    if dry_run:
        click.echo(runner.run().message)
        return
    reporter = JsonLog() if json_log else ProgressBar(dsn, name)
    runner.emit = reporter
    metrics = None
    if metrics_port is not None:
        from backfill.metrics import BackfillMetrics

        metrics = BackfillMetrics(runner, dsn)
        try:
            metrics.serve(metrics_port, metrics_addr)
        except OSError as error:
            raise click.BadParameter(f"cannot listen on {metrics_addr}:{metrics_port}: {error.strerror}",
                                     param_hint="--metrics-port") from None

        def emit(event: dict) -> None:
            metrics.observe(event)
            reporter(event)

        runner.emit = emit
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: runner.stop())
    try:
        result = runner.run(progress=reporter.tick)
    except BackfillError:
        if metrics is not None:
            metrics.linger(metrics_linger / 1000)
        raise
    finally:
        reporter.close()
    if metrics is not None and result.status != "stopped":
        metrics.linger(metrics_linger / 1000)
    summary = {"event": "summary", "backfill": name, "status": result.status, "rows_processed": result.rows_processed,
               "rows_changed": result.rows_changed, "batches": result.batches, "seconds": round(result.elapsed, 2),
               "throttled_seconds": round(result.throttled_seconds, 1), "retries": result.retries}
    if json_log:
        reporter(summary)
    else:
        click.echo(f"{name}: {result.status}: {result.rows_processed:,} rows processed, {result.rows_changed:,} changed "
                   f"in {result.batches:,} batches, {result.elapsed:.1f} s ({result.throttled_seconds:.1f} s throttled, "
                   f"{result.retries} retries)")
    if result.message:
        click.echo(result.message, err=True)
    if result.status == "stopped":
        click.echo(f"stopped after checkpointing; resume with the same command: "
                   f"migrator backfill run {name} --dsn '{mask_password(dsn)}' ...", err=True)
    if result.status == "paused":
        click.echo(f"{name} is paused: migrator backfill resume {name}", err=True)
    if result.status == "cancelled":
        raise click.ClickException(f"backfill {name} was cancelled")


@backfill.command("list")
@DSN_OPTION
@_one_line_errors
def backfill_list(dsn):
    """List the backfills recorded in the database.

    \b
    Example:
      migrator backfill list --dsn "$DATABASE_URL"
    """
    from backfill import state
    from backfill.runner import connect

    with connect(_require_dsn(dsn)) as connection:
        if not state.exists_schema(connection):
            click.echo("no backfills in this database")
            return
        rows = connection.execute(
            "SELECT b.name, b.table_name, b.status, coalesce(sum(c.rows_processed), 0), b.estimated_rows, b.updated_at, "
            "b.error FROM migrator.backfills b LEFT JOIN migrator.backfill_chunks c ON c.backfill = b.name "
            "GROUP BY b.name ORDER BY b.created_at").fetchall()
    if not rows:
        click.echo("no backfills in this database")
    for name, table, status, done, estimate, updated, error in rows:
        click.echo(f"{name:<24} {table:<28} {status:<10} {int(done):>12,} / ~{estimate:,} rows   updated {updated:%Y-%m-%d %H:%M:%S}"
                   + (f"   {error}" if error else ""))


@backfill.command("status")
@click.argument("name")
@DSN_OPTION
@_one_line_errors
def backfill_status(name, dsn):
    """Show one backfill: definition, status, settings in force, progress and workers.

    \b
    Example:
      migrator backfill status fill-handle
    """
    from backfill import state
    from backfill.progress import format_lags
    from backfill.runner import connect
    from backfill.spec import BackfillError

    with connect(_require_dsn(dsn)) as connection:
        record = state.load(connection, name) if state.exists_schema(connection) else None
        if record is None:
            raise BackfillError(f"no backfill named {name!r} in this database (see `migrator backfill list`)")
        totals = state.progress(connection, name)
        alive = state.runner_alive(connection, name)
    settings = {**state.DEFAULTS, **record["settings"]}
    definition = record["definition"]
    headline = f"backfill {name}: {record['status']}"
    if record["status"] == "failed":
        headline += f": {record['error']}"
    elif record["status"] in ("running", "paused") and not alive and not any(w["connected"] for w in totals["workers"]):
        headline += " (no runner alive: run the same `migrator backfill run` command to resume)"
    click.echo(headline)
    click.echo(f"  table {record['table']}, key {', '.join(k for k, _ in record['key_columns'])}, "
               f"range up to {state.format_key(record['range_high'], record['key_columns']) if record['range_high'] else '(empty table)'}")
    if definition["sets"]:
        click.echo("  set " + ", ".join(f"{column} = {expression}" for column, expression in definition["sets"].items())
                   + (f" where {definition['where']}" if definition["where"] else ""))
    elif definition.get("function"):
        click.echo(f"  function {definition['function']}" + (f" where {definition['where']}" if definition["where"] else ""))
    click.echo(f"  progress {totals['rows_processed']:,} of ~{record['estimated_rows']:,} rows processed, "
               f"{totals['rows_changed']:,} changed, {totals['batches']:,} batches, chunks {totals['chunks'] - totals['open_chunks']}/{totals['chunks']} done")
    click.echo("  settings in force: " + ", ".join(f"{k}={state.format_setting(k, v)}" for k, v in settings.items() if k in state.SETTINGS))
    if record["status"] == "failed":
        click.echo(f"  to resume: fix the cause, then run the same `migrator backfill run {name} ...` command again")
    for worker in totals["workers"]:
        detail = worker["state"] or {}
        batch = f"batch {detail['batch_size']:,}" if detail.get("batch_size") else "no batch yet"
        click.echo(f"  worker {worker['worker']} (seen {worker['seen_s_ago']:.1f}s ago): {batch}, "
                   f"lag {format_lags(detail.get('lag'))}, {state.worker_condition(worker, record['status'], settings)}")


def _change_status(name, dsn, status, allowed):
    from backfill import state
    from backfill.runner import connect

    with connect(_require_dsn(dsn)) as connection:
        with connection.transaction():
            previous = state.set_status(connection, name, status, allowed)
    click.echo(f"{name}: {previous} -> {status}")


@backfill.command("pause")
@click.argument("name")
@DSN_OPTION
@_one_line_errors
def backfill_pause(name, dsn):
    """Pause: running workers stop starting batches within a second.

    \b
    Example:
      migrator backfill pause fill-handle
    """
    _change_status(name, dsn, "paused", ("running",))


@backfill.command("resume")
@click.argument("name")
@DSN_OPTION
@_one_line_errors
def backfill_resume(name, dsn):
    """Resume a paused backfill.

    \b
    Example:
      migrator backfill resume fill-handle
    """
    _change_status(name, dsn, "running", ("paused",))


@backfill.command("cancel")
@click.argument("name")
@DSN_OPTION
@_one_line_errors
def backfill_cancel(name, dsn):
    """Cancel: workers stop after their current batch; the backfill is not resumed.

    \b
    Example:
      migrator backfill cancel fill-handle
    """
    _change_status(name, dsn, "cancelled", ("running", "paused"))


@backfill.command("set")
@click.argument("name")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@DSN_OPTION
@_one_line_errors
def backfill_set(name, assignments, dsn):
    """Change settings of a backfill while it runs (batch_size, max_lag, max_rows_per_sec, ...).

    \b
    Examples:
      migrator backfill set fill-handle batch_size=2000 max_lag=500ms
      migrator backfill set fill-handle batch_size=adaptive   # back to adaptive sizing

    Values are checked with the same rules as at `run`; a throttle_query is run once, read-only,
    before it is saved.
    """
    from backfill import state
    from backfill.runner import connect
    from backfill.spec import BackfillError
    from backfill.throttle import run_throttle_query

    changes = {}
    for item in assignments:
        key, separator, value = item.partition("=")
        if not separator:
            raise BackfillError(f"{item!r}: expected KEY=VALUE (known keys: {', '.join(state.SETTINGS)})")
        changes[key.strip()] = state.parse_setting(key.strip(), value.strip())
    with connect(_require_dsn(dsn)) as connection:
        if changes.get("throttle_query"):
            run_throttle_query(connection, changes["throttle_query"])
        settings = state.update_settings(connection, name, changes)
    click.echo(f"{name}: " + ", ".join(f"{k}={state.format_setting(k, settings[k])}" for k in changes))


# --- apply / plan -----------------------------------------------------------------------------
def _apply_options(function):
    options = [
        click.argument("path", type=click.Path(path_type=Path)),
        DSN_OPTION,
        click.option("--pg-version", type=click.IntRange(10, 19), default=15, show_default=True),
        click.option("--lock-timeout", type=DURATION, default="5s", show_default=True,
                     help="For statements that block traffic: the longest lock wait of one try (apply starts shorter)."),
        click.option("--statement-timeout", type=DURATION, default="5s", show_default=True, help="For statements that block traffic."),
        click.option("--max-timeout", type=DURATION, default="5s", show_default=True, help="Neither timeout may exceed this."),
        click.option("--online-statement-timeout", type=DURATION, default="0ms", show_default=True,
                     help="For CONCURRENTLY and VALIDATE (0: none)."),
        click.option("--no-rewrite", is_flag=True, help="Run statements as written: no automatic online forms."),
        click.option("--small-table", type=SIZE, default="8MB", show_default=True,
                     help="Tables up to this size (indexes included, read from the catalog) get rewrites, scans and "
                          "index builds as written, under the statement timeout; bigger ones get the online form or a refusal."),
        click.option("--to", "target", default="head", show_default=True,
                     help="Alembic: the revision to upgrade or downgrade to (heads: every branch; -1, +2, base as in "
                          "Alembic). SQL folders: the last file to apply (its name without .sql)."),
        click.option("--ignore", metavar="RULE,...",
                     help="Accept, for this run, what these rules (comma-separated ids) refuse, on top of the "
                          "configuration's ignore list: a deliberate breaking change, such as drop-column when going "
                          "back to head after a downgrade re-added the column."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _load_migrations(path: Path, pg_version: int, rewrite: bool, target: str = "head", driver: str | None = None,
                     ignore: str | None = None):
    """An Alembic project (an .ini, the folder holding alembic.ini or env.py) or a folder of .sql files,
    with the configuration lint reads for it (migrator.toml / [tool.migrator], found upward) and
    --ignore's rules added to its ignore list."""
    from migrator.config import ConfigError, load_config
    from migrator.executor import ApplyError, load_sql_folder

    accepted = _rule_list(ignore) or frozenset()
    unknown = sorted(accepted - _known_rules())
    if unknown:
        raise click.BadParameter(f"unknown rule {unknown[0]!r} (see `migrator rules`)", param_hint="--ignore")
    try:
        lint_config = load_config(start=path if path.is_dir() else path.parent)
    except ConfigError as error:
        raise ApplyError(str(error)) from None
    lint_config = lint_config.with_options(pg_version=pg_version, ignore=lint_config.ignore | accepted)
    if path.suffix == ".ini" or (path / "alembic.ini").is_file() or (path / "env.py").is_file():
        from migrator.alembic_source import AlembicProject

        return AlembicProject(path, target, pg_version, rewrite, lint_config, driver=driver)
    return load_sql_folder(path, pg_version, rewrite, lint_config, None if target == "head" else target)


def _fleet_options(function):
    """Options naming a fleet of targets (apply and plan)."""
    options = [
        click.option("--fleet", "fleet_file", is_flag=False, flag_value="", default=None, metavar="FILE",
                     help="Apply to each target of the [fleet] table of FILE (alone: the migrator.toml found upward)."),
        click.option("--targets-query", metavar="SQL", help="Targets from this query on --catalog-dsn: rows of (dsn) or "
                     "(name, dsn), or schema names of the catalog database (schema-per-tenant)."),
        click.option("--catalog-dsn", help="The database --targets-query runs on."),
        click.option("--canary", metavar="N|NAME,...", help="Targets to run first: the first N, or these names."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _load_fleet(fleet_file, targets_query, catalog_dsn, canary, path: Path):
    """The fleet the options name, or None when they name none."""
    from migrator import fleet
    from migrator.config import find_config_file

    count = int(canary) if canary and canary.isdigit() else None
    names = None if count is not None else canary
    if targets_query:
        if not catalog_dsn:
            raise click.UsageError("--targets-query runs on a catalog database: pass --catalog-dsn")
        return fleet.query_targets(catalog_dsn, targets_query, names, count)
    if fleet_file is None:
        return None
    found = Path(fleet_file) if fleet_file else find_config_file((path if path.is_dir() else path.parent).resolve())
    if found is None:
        raise click.UsageError("--fleet: no migrator.toml found upward from PATH: name the fleet file")
    return fleet.load_fleet_file(found, names, count)


@main.command()
@_apply_options
@_fleet_options
@click.option("--parallel", type=click.IntRange(1, 64), default=4, show_default=True, help="Fleet: targets in flight on this runner.")
@click.option("--max-failures", type=click.IntRange(1), default=1, show_default=True,
              help="Fleet: start no new target once this many failed.")
@click.option("--control-dsn", help="Fleet: the database holding the rollout's state, shared by every runner "
              "[default: the catalog database, else the first target].")
@click.option("--claim-ttl", type=DURATION, default="30s", show_default=True,
              help="Fleet: a claim whose runner stopped beating for this long is taken over.")
@click.option("--rollout", "rollout_name", help="Fleet: the rollout's name in the state [default: PATH's name@goal].")
@click.option("--attempts", type=click.IntRange(1, 1000), default=10, show_default=True, help="Tries per transaction on lock timeout or deadlock.")
@click.option("--deadline", type=DURATION, default="5m", show_default=True, help="Give up retrying a transaction after this long.")
@click.option("--lock-wait", type=DURATION, default="60s", show_default=True, help="How long to wait for another apply to finish.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="Serve Prometheus metrics on this port while applying.")
@click.option("--metrics-addr", default="0.0.0.0", show_default=True, help="Address the metrics endpoint listens on.")
@click.option("--pushgateway", metavar="URL", help="Push metrics to this Prometheus Pushgateway at each step (job migrator_apply).")
@_one_line_errors
def apply(path, dsn, pg_version, lock_timeout, statement_timeout, max_timeout, online_statement_timeout, no_rewrite,
          small_table, target, ignore, fleet_file, targets_query, catalog_dsn, canary, parallel, max_failures, control_dsn,
          claim_ttl, rollout_name, attempts, deadline, lock_wait, log_format, metrics_port, metrics_addr, pushgateway):
    """Apply pending migrations of an Alembic project or a folder of .sql files (name order), safely.

    PATH (required) is an Alembic project (alembic.ini, the folder holding it, or the folder holding
    env.py) or a folder of .sql migrations. An Alembic project runs its own env.py, as alembic
    upgrade does (--to an older revision, base or -N runs its downgrades); every statement is judged
    as it is sent: as written on tables up to --small-table, in its online form or refused above.

    Statements that block traffic run under short lock and statement timeouts and are retried
    (whole transaction) on lock timeouts and deadlocks; CONCURRENTLY statements run outside
    transactions; one apply at a time per database.

    Lock-wait schedule: while a try waits for its lock, every later query on the table queues
    behind it. So the first try waits at most 100ms for its locks, each retry twice as long as the
    one before, up to --lock-timeout (5s: 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5 ... s), and before
    each retry apply pauses 5x that retry's wait (1, 2, 4, 8, 16, 25 ... s). Short tries get past
    a busy table's short queries; longer ones still catch a slower holder's end; the pauses let
    the queue behind each try drain and keep the table free at least 5/6 of the time, and no
    reader stalls longer than --lock-timeout. Up to --attempts tries within --deadline.

    A CREATE INDEX CONCURRENTLY left running on the server by a killed apply is waited for (up to
    --online-statement-timeout, if set), never dropped under its build: that would deadlock.

    With --fleet or --targets-query, each target of the fleet gets the same apply: canaries
    first (--canary), then the rest, --parallel at a time, stopping after --max-failures. Runners
    on several machines share a rollout through --control-dsn (README: Fleets).

    \b
    Examples:
      migrator apply db/migrations --dsn "$DATABASE_URL"
      migrator apply alembic.ini --to 0042 --lock-timeout 2s --deadline 10m --log-format json
      migrator apply alembic.ini --fleet fleet.toml --canary 2 --parallel 8 --control-dsn "$CONTROL_URL"
    """
    import json as json_module
    import time

    from migrator.dsn import mask_password
    from migrator.executor import Executor, Policy
    from migrator.gates import GatedSource

    from migrator.dsn import split_driver

    policy = Policy(lock_timeout, statement_timeout, max_timeout, online_statement_timeout, attempts, deadline, lock_wait,
                    small_table)
    fleet = _load_fleet(fleet_file, targets_query, catalog_dsn, canary, path)
    if fleet is not None:
        from migrator import fleet as fleets

        load = functools.partial(_load_migrations, path, pg_version, not no_rewrite, target, ignore=ignore)
        source = load()
        rollout = fleets.Rollout(rollout_name or fleets.rollout_name(path, source), parallel, max_failures, claim_ttl)
        with fleets.FleetView(log_format == "json" or not sys.stdout.isatty()) as view:
            fleets.run(fleet, rollout, source, load, policy, control_dsn, view.show)
        return
    dsn, driver = split_driver(_require_dsn(dsn))  # postgresql+psycopg2://...: env.py's connections use that driver
    source = GatedSource(_load_migrations(path, pg_version, not no_rewrite, target, driver, ignore))

    terminal = log_format == "text" and sys.stderr.isatty()
    if terminal:  # live progress: the running statement with its elapsed time, retries as they happen
        from rich.console import Console

        console = Console(stderr=True, highlight=False)
        status = console.status("connecting")
        status.start()

    from migrator.output import steps_name

    def where(event: dict) -> str:
        return f"{event['migration']} {steps_name(event)}"

    def resumed(event: dict) -> str | None:
        """What apply says of a step an earlier run did, or left to finish (None: any other event)."""
        if event["event"] == "skip":
            return f"{where(event)}: skipped ({event.get('reason') or 'done by an earlier run'})"
        if event["event"] == "invalid_index":
            return f"{where(event)}: dropping the INVALID index {event['index']} an interrupted build left, to build it again"
        return None

    def statement(event: dict) -> str:
        return next((line.strip() for line in event["sql"].splitlines() if line.strip()), "")

    def emit(event: dict) -> None:
        if log_format == "json":
            click.echo(json_module.dumps({"time": round(time.time(), 3), **event}))
        elif terminal:
            if event["event"] == "step":
                status.update(f"{where(event)}: {statement(event)[:70]}")
            elif event["event"] == "step_done":
                behind = (f", {event['older_transactions_wait_s']:.1f} s of it waiting for older transactions"
                          if event.get("older_transactions_wait_s") else "")
                console.print(f"  [green]done[/] {where(event)} ({event['seconds']:.2f} s{behind})")
            elif event["event"] == "retry":
                console.print(f"  [yellow]retry {event['attempt']}[/] {where(event)}: "
                              f"{event['error']}, next try in {event['wait_s']} s")
            elif event["event"] == "wait_for_build":
                status.update(f"{where(event)}: {_build_wait(event)}")
            elif event["event"] == "done":
                console.print(f"[bold]{event['migration']}[/]: applied")
            elif said := resumed(event):
                console.print(f"  {said}", markup=False)
        elif event["event"] == "step":
            click.echo(f"{where(event)}: {statement(event)[:100]}", err=True)
        elif event["event"] == "retry":
            click.echo(f"{where(event)}: {event['error']}, retry {event['attempt']} in {event['wait_s']} s", err=True)
        elif event["event"] == "wait_for_build":
            click.echo(f"{where(event)}: {_build_wait(event)}", err=True)
        elif event["event"] == "done":
            click.echo(f"{event['migration']}: applied", err=True)
        elif said := resumed(event):
            click.echo(said, err=True)

    metrics = _apply_metrics(metrics_port, metrics_addr, pushgateway)
    def observed(event: dict) -> None:
        metrics.observe(event)
        emit(event)

    executor = Executor(dsn, policy, emit if metrics is None else observed)
    try:
        applied = executor.apply(source)
    except BaseException:
        if metrics is not None:
            metrics.end(success=False)
        raise
    finally:
        if terminal:
            status.stop()
    if metrics is not None:
        metrics.end(success=source.refusal is None)
        if metrics.push_error:
            click.echo(f"warning: pushing metrics to {pushgateway} failed: {metrics.push_error}", err=True)
    verb = "reverted" if source.direction == "downgrade" else "applied"
    summary = (f"{verb} {len(applied)} migration{'s' if len(applied) != 1 else ''} to {mask_password(dsn)}; "
               f"{executor.retries} retries, longest lock wait {executor.longest_wait:.1f} s"
               + (f", waited {executor.older_transactions_wait:.1f} s for older transactions (CONCURRENTLY)"
                  if executor.older_transactions_wait else ""))
    if log_format == "json":
        emit({"event": "summary", "applied": applied, "retries": executor.retries, "longest_lock_wait_s": round(executor.longest_wait, 2),
              "older_transactions_wait_s": round(executor.older_transactions_wait, 2)})
    else:
        click.echo(summary)
    if source.refusal is not None:
        raise source.refusal


def _apply_metrics(port, address, pushgateway):
    """The metrics apply serves or pushes, or None; a port in use or an unreachable Pushgateway is
    an error before anything runs."""
    if port is None and not pushgateway:
        return None
    from migrator.apply_metrics import ApplyMetrics

    metrics = ApplyMetrics(pushgateway)
    if port is not None:
        try:
            metrics.serve(port, address)
        except OSError as error:
            raise click.BadParameter(f"cannot listen on {address}:{port}: {error.strerror}", param_hint="--metrics-port") from None
    try:
        metrics.push(check=True)
    except OSError as error:
        raise click.BadParameter(f"cannot push to {pushgateway}: {error}", param_hint="--pushgateway") from None
    return metrics


def _build_wait(event: dict) -> str:
    return (f"index {event['index']} is still being built by pid {event['pid']} ({event['application'] or 'no name'}, "
            f"{event['phase']}): waiting for it")


@main.command()
@_apply_options
@_fleet_options
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_one_line_errors
def plan(path, dsn, pg_version, lock_timeout, statement_timeout, max_timeout, online_statement_timeout, no_rewrite,
         small_table, target, ignore, fleet_file, targets_query, catalog_dsn, canary, output_format):
    """Show what apply would run for each pending migration; changes nothing.

    PATH (required) is an Alembic project (alembic.ini, the folder holding it, or the folder holding
    env.py) or a folder of .sql migrations.

    Without --dsn (or $DATABASE_URL) every migration in the folder is shown.

    \b
    Example:
      migrator plan db/migrations --dsn "$DATABASE_URL"
    """
    import json as json_module

    from migrator.durations import format_duration
    from migrator import gates
    from migrator.executor import Executor, Policy, describe_plan
    from migrator.output import plan_step_heading

    from migrator.dsn import split_driver

    policy = Policy(lock_timeout, statement_timeout, max_timeout, online_statement_timeout, small_table_bytes=small_table)
    dsn, driver = split_driver(dsn) if dsn else (dsn, None)  # env.py reads the version table through that driver
    source = _load_migrations(path, pg_version, not no_rewrite, target, driver, ignore)
    fleet = _load_fleet(fleet_file, targets_query, catalog_dsn, canary, path)
    if fleet is not None:
        _plan_fleet(fleet, source, output_format)
        return
    source.preview = True  # the whole plan, each refused step marked; the exit status says whether apply would refuse
    waits = {}  # version -> [(gate, finished or None when unknown, the backfill's state in words)]
    if dsn:
        with Executor(dsn, policy).connect("migrator plan") as connection:
            migrations = source.pending(connection, policy)
            for migration in migrations if source.direction == "upgrade" else ():  # a downgrade waits for no backfill
                waits[migration.version] = [(gate, *gates.describe(connection, gate.backfill)) for gate in gates.gates_of(migration.path)]
    else:
        migrations = source.all()
        for migration in migrations:
            waits[migration.version] = [(gate, None, "its state is read with --dsn") for gate in gates.gates_of(migration.path)]
    steps = describe_plan(migrations, policy, pg_version)
    if output_format == "json":
        click.echo(json_module.dumps(steps, indent=2))
        _refuse_if_refused(steps)
        return
    if not steps:
        click.echo("nothing to apply")
    shown = set()
    for step in steps:
        if step["migration"] not in shown:
            shown.add(step["migration"])
            for gate, finished, words in waits.get(step["migration"], []):
                verdict = {True: "passes", False: "waits"}.get(finished, "is gated")
                click.echo(f"{step['migration']} {verdict}: requires backfill {gate.backfill} ({gate.where}): {words}")
        locks = ", ".join(f"{lock['lock']} on {lock['relation']}" for lock in step["locks"]) or "no table locks"
        effects = ", ".join(e for e, on in (("rewrites", step["rewrites"]), ("scans", step["scans"])) if on) or "no rewrite or scan"
        scheduled = "up to " if step["lock_timeout_ms"] else ""  # the lock-wait schedule's last tries (apply --help)
        timeouts = ", ".join(f"{name} {scheduled}{format_duration(ms)}" if ms else f"{name} none"
                             for name, ms in (("lock_timeout", step["lock_timeout_ms"]), ("statement_timeout", step["statement_timeout_ms"])))
        click.echo(plan_step_heading(step))
        if step["online_only"]:  # why: the lines after the first of what plan shows for it (AlembicProject._plan)
            why = "; ".join(line.removeprefix("-- ") for line in step["sql"].splitlines()[1:])
            click.echo(f"    online only{f' ({why})' if why else ''}: each statement is planned, refused or given its "
                       "timeouts as it is sent")
        else:
            click.echo(f"    {locks}; {effects}; {timeouts}")
        for reason in step["refusals"]:
            click.echo(f"    REFUSED: {reason}")
    _refuse_if_refused(steps)


def _refuse_if_refused(steps: list[dict]) -> None:
    """Exit status 1 when apply would refuse a step of the plan: CI can gate on `migrator plan`."""
    from migrator.executor import ApplyError
    from migrator.output import step_name

    refused = [step for step in steps if step["refusals"]]
    if refused:
        first = refused[0]
        raise ApplyError(f"apply would refuse {len(refused)} step{'s' if len(refused) != 1 else ''} of this plan (each "
                         f"one's reason is in it), the first {first['migration']} {step_name(first)}")


def _plan_fleet(fleet, source, output_format: str) -> None:
    """Which targets are behind, by which revisions; drift: targets unlike the majority. Exit status
    1 when a target could not be read: nobody knows whether it is behind."""
    from rich.console import Console
    from rich.table import Table

    from migrator import fleet as fleets

    rows = fleets.plan(fleet, source)
    unread = sum(1 for r in rows if "error" in r)
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        title = f"{sum(1 for r in rows if r.get('behind'))} of {len(rows)} targets behind"
        table = Table(title=title + (f", {unread} could not be read" if unread else ""))
        for column in ("target", "behind by", "drift"):
            table.add_column(column)
        for row in rows:
            behind = row["error"] if "error" in row else ", ".join(row["behind"]) or "at the goal"
            table.add_row(row["target"], behind, "[red]drift" if row["drift"] else "")
        Console(highlight=False).print(table)
    if unread:
        raise SystemExit(1)


@main.group()
def fleet():
    """Fleet rollouts: their state, from any machine."""


@fleet.command("status")
@click.option("--control-dsn", required=True, help="The database holding the rollouts' state (apply --control-dsn).")
@click.option("--rollout", "rollout_name", help="The rollout [default: the latest].")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_one_line_errors
def fleet_status(control_dsn, rollout_name, output_format):
    """Counts by state, the slowest targets, the failures with their one-line errors."""
    from migrator import fleet as fleets

    report = fleets.status(control_dsn, rollout_name)
    if output_format == "json":
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"rollout {report['rollout']}: " + ", ".join(f"{n} {state}" for state, n in report["counts"].items()))
    for row in report["slowest"]:
        click.echo(f"  slow   {row['target']}: {row['seconds']:.2f} s ({row['state']})")
    for row in report["failures"]:
        click.echo(f"  failed {row['target']} (attempt {row['attempts']}): {row['error']}")


@main.command()
@click.option("--rows", type=click.IntRange(1000, 100_000_000), default=1_000_000, show_default=True, help="Messages to seed.")
@click.option("--keep", is_flag=True, help="Leave the sandbox running and print its DSNs.")
def demo(rows, keep):
    """See migrator work on a throwaway cluster: lint, plan, apply under a lock, a throttled backfill.

    Needs no database: it starts a sandbox (PostgreSQL primary plus a streaming replica).

    \b
    Examples:
      migrator demo
      migrator demo --rows 200000 --keep
    """
    import psycopg

    from migrator.demo import Demo
    from migrator.errors import UserError, first_line

    try:
        Demo(rows, keep, click.echo).run()
    except (UserError, psycopg.Error) as error:
        raise click.ClickException(f"the demo failed: {first_line(error)}") from None


# --- trace ----------------------------------------------------------------------------------
@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--dsn", help="A scratch database to apply the migrations to: they stay applied there "
                            "[default: a throwaway sandbox, removed afterwards].")
@click.option("--no-rows", is_flag=True, help="Leave the tables empty (for data migrations that need real rows, "
                                                "not made-up ones).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_one_line_errors
def trace(path, dsn, no_rows, output_format):
    """Apply migrations to a scratch database and show, per statement, what PostgreSQL did beside lint.

    PATH is an Alembic project (alembic.ini, the folder holding it, or the folder holding env.py),
    or a .sql file or a folder of them (name order, down migrations left out). SQL files run as
    their runner runs them, an Alembic project as `alembic upgrade head` runs it (its env.py
    unchanged, each statement named by the revision line that sent it). Before each file or
    revision every empty table gets a few rows (--no-rows: none). For every statement it prints
    the locks PostgreSQL took, whether it rewrote or scanned a table, its time, and the lint
    verdict; a fact lint states differently from the server is marked. Exit status: 0 all agree,
    1 a disagreement (or a migration that failed), 2 usage error.

    \b
    Examples:
      migrator trace db/migrations
      migrator trace path/to/alembic.ini
      migrator trace db/migrations --dsn postgresql://localhost/scratch --format json
    """
    import json as json_module

    from migrator.alembic_source import AlembicProject
    from migrator.config import ConfigError, load_config
    from migrator.dsn import connect, split_driver
    from migrator.errors import UserError
    from migrator.lint import Linter
    from migrator.revisions import project_layout
    from migrator.runners import POSTGRES_ONLY, sql_migrations
    from migrator.trace import AlembicTrace, describe, trace_file

    try:
        alembic = project_layout(path) is not None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="PATH") from None
    files = []
    if not alembic and path.is_dir():
        files = sql_migrations(path, recursive=True)
    elif not alembic and path.is_file() and path.name.endswith((".sql", POSTGRES_ONLY)):
        files = [path]
    if not alembic and not files:
        raise click.BadParameter(f"{path}: neither an Alembic project (alembic.ini, or a folder holding env.py) "
                                 "nor .sql migrations", param_hint="PATH")
    try:
        config = load_config(start=(path if path.is_dir() else path.parent).resolve())
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    dsn, driver = split_driver(dsn) if dsn else (None, None)
    project = AlembicProject(path, driver=driver) if alembic else None  # a project that cannot load fails before a sandbox starts

    sandbox = None
    if dsn is None:
        from migrator.sandbox import start_sandbox

        sandbox = start_sandbox(replicas=0)
        node = getattr(sandbox, "primary", sandbox)
        with connect(node.dsn(), UserError) as admin:
            admin.execute("CREATE DATABASE migrator_trace")
        dsn = node.dsn("migrator_trace")
    stopped = None
    try:
        with connect(dsn, UserError) as connection:
            pg_version = connection.info.server_version // 10000
            linter = Linter(config.with_options(pg_version=pg_version))
            if project is not None:
                run = AlembicTrace(project, linter, dsn, rows=not no_rows)
                traces, stopped = run.run(), run.stopped
            else:
                with connect(dsn, UserError) as watcher:  # reads the locks of statements run outside a transaction
                    traces = [t for file in files
                              for t in trace_file(connection, watcher, linter, file, str(file), rows=not no_rows)]
    finally:
        if sandbox is not None:
            sandbox.stop()
    disagreeing = [t for t in traces if t.disagreements]
    if output_format == "json":
        click.echo(json_module.dumps({"pg_version": pg_version, "statements": [t.as_dict() for t in traces],
                                      "disagreements": len(disagreeing), "stopped": stopped}, indent=2))
    else:
        current = None
        for t in traces:
            if t.path != current:
                current = t.path
                click.echo(click.style(t.path, bold=True))
            mark = click.style("✗", fg="red") if t.disagreements else " "
            click.echo(f"{mark} {t.line:>4}  {t.sql.splitlines()[0][:90] if t.sql else ''}")
            click.echo(f"        server  {describe(t.observed)}")
            verdict = "; ".join(f"{f.severity} {f.rule}" for f in t.findings) or "ok"
            click.echo(f"        lint    {verdict}")
            for problem in t.disagreements:
                click.echo(click.style(f"        differs {problem}", fg="red"))
            if t.note:
                click.echo(f"        note    {t.note}")
        if stopped:
            click.echo(click.style(f"stopped  {stopped}: the upgrade failed there, nothing after it ran", fg="red"))
        summary = f"{len(traces)} statements traced on PostgreSQL {pg_version}: "
        click.echo(summary + (f"{len(disagreeing)} disagree with lint" if disagreeing else "every fact agrees with lint"))
    sys.exit(1 if disagreeing or stopped else 0)


if __name__ == "__main__":
    main()
