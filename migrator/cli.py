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


if __name__ == "__main__":
    main()
