"""The `migrator` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from migrator import __version__


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


def _rule_list(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(item.strip() for item in value.split(",") if item.strip())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
@click.option("--pg-version", type=click.IntRange(10, 18), help="Target PostgreSQL major version [default: 15].")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--select", help="Only these rules (comma-separated ids); can enable off-by-default rules.")
@click.option("--ignore", help="Skip these rules (comma-separated ids).")
@click.option("--max-timeout", type=DURATION, help="Largest lock/statement timeout allowed [default: 5s].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Config file (default: migrator.toml or [tool.migrator] in pyproject.toml, searched upward).")
def lint(paths, pg_version, output_format, select, ignore, max_timeout, config_path):
    """Lint SQL migration files for locking and rewriting hazards.

    PATHS are files, directories (searched for *.sql) or - for standard input.
    Exit status: 0 no errors, 1 error findings, 2 usage error or unreadable input.

    \b
    Examples:
      migrator lint migrations/
      migrator lint --pg-version 12 --format json db/0042_add_index.sql
      git diff --name-only | grep '\\.sql$' | xargs migrator lint
    """
    from lint_rules import all_rules
    from migrator.config import ConfigError, load_config
    from migrator.lint import Linter, lint_files
    from migrator.output import print_json, print_text

    try:
        config = load_config(config_path)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    config = config.with_options(
        pg_version=pg_version, max_timeout_ms=max_timeout, select=_rule_list(select),
        ignore=_rule_list(ignore) if ignore is not None else None,
    )
    known = all_rules()
    for option, rule_ids in (("--select", config.select), ("--ignore", config.ignore)):
        unknown = sorted(set(rule_ids or ()) - set(known))
        if unknown:
            raise click.BadParameter(f"unknown rule {unknown[0]!r} (see `migrator rules`)", param_hint=option)

    linter = Linter(config)
    results, input_errors = [], []
    inputs = list(_expand_paths(paths, input_errors))
    if any(path is None for _, path in inputs):
        from migrator.lint import FileResult, InputError, decode_sql

        try:
            results.append(linter.lint_text(decode_sql(sys.stdin.buffer.read()), "<stdin>"))
        except InputError as error:
            results.append(FileResult("<stdin>", error=str(error)))
    results += lint_files(linter, [(display, path) for display, path in inputs if path is not None])
    input_errors += [f"{r.path}: error: {r.error}" for r in results if r.error]
    for message in input_errors:
        click.echo(message, err=True)
    for result in results:
        if result.note:
            click.echo(f"{result.path}: {result.note}", err=True)
    findings = [finding for result in results for finding in result.findings]
    if output_format == "json":
        print_json(findings)
    else:
        print_text(results)
    if input_errors:
        sys.exit(2)
    sys.exit(1 if any(f.severity == "error" for f in findings) else 0)


def _expand_paths(paths, errors: list[str]):
    """(display name, Path or None for stdin) for each input; problems go to errors."""
    for raw in paths:
        if raw == "-":
            yield "<stdin>", None
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.sql") if p.is_file())
            if not files:
                errors.append(f"{raw}: error: no .sql files in this directory")
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
    """


def _sandbox_errors(function):
    """Turn SandboxError into a one-line error and exit status 1."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from migrator.sandbox import SandboxError

        try:
            return function(*args, **kwargs)
        except SandboxError as error:
            raise click.ClickException(str(error)) from None

    return wrapper


@sandbox.command("up")
@click.option("--replicas", type=click.IntRange(0, 8), default=1, show_default=True, help="Streaming replicas to start.")
@click.option("--port", type=click.IntRange(1, 65535), help="Primary's loopback port [default: a free one].")
@click.option("--detach", is_flag=True, help="Return once the cluster is ready; stop it with `migrator sandbox down`.")
@_sandbox_errors
def sandbox_up(replicas, port, detach):
    """Start a sandbox and print one postgresql:// DSN per line, the primary's first.

    Without --detach it runs until interrupted (Ctrl-C), then removes everything.

    \b
    Example:
      DATABASE_URL=$(migrator sandbox up --detach | head -1)
    """
    import signal
    import threading

    from migrator.sandbox import Cluster

    cluster = Cluster(replicas=replicas, port=port, detached=detach).start()
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
@_sandbox_errors
def sandbox_down():
    """Stop and remove every detached sandbox (and any left behind by a killed process).

    \b
    Example:
      migrator sandbox down
    """
    from migrator.sandbox import read_state, sandbox_roots, stop_root, sweep_stale

    stopped = [root for root in sweep_stale()]
    for root in sandbox_roots():
        state = read_state(root)
        if state and state.get("detached"):
            stop_root(root)
            stopped.append(root)
    click.echo(f"stopped {len(stopped)} sandbox{'es' if len(stopped) != 1 else ''}")


@sandbox.command("status")
@_sandbox_errors
def sandbox_status():
    """Show the sandboxes on this machine, their servers and the replicas' lag.

    \b
    Example:
      migrator sandbox status
    """
    import psycopg

    from migrator.sandbox import SUPERUSER, read_state, sandbox_roots

    roots = [(root, read_state(root)) for root in sandbox_roots()]
    if not roots:
        click.echo("no sandbox running")
        return
    for root, state in roots:
        if state is None:
            continue
        mode = "detached" if state.get("detached") else f"owned by pid {state.get('owner_pid')}"
        click.echo(f"{root} ({mode})")
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
            running = (Path(node["datadir"]) / "postmaster.pid").exists()
            detail = lag.get(node["name"], "not streaming" if node["role"] == "replica" else "")
            click.echo(f"  {node['name']:<10} {node['role']:<8} port {node['port']:<6} {'running' if running else 'stopped':<8} {detail}")


if __name__ == "__main__":
    main()
