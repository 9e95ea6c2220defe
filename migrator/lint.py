"""The lint engine: analyze a migration in order, run the rules, honour ignore directives."""

from __future__ import annotations

import gc
import os
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from lint_rules import Report, RuleContext, all_rules
from migrator.analyzer import Analyzer, Statement
from migrator.config import Config
from migrator.context import MigrationContext
from migrator.findings import FileResult, Finding
from migrator.runners import ONE_STRING, extension_search_path, file_transaction
from migrator.sqltext import Source, SqlSyntaxError, gaps

DIRECTIVE = re.compile(r"^\s*(?:--|/\*)\s*migrator:\s*([a-z-]*)(.*?)(?:\*/)?\s*$", re.IGNORECASE | re.DOTALL)
COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
RULE_ID = re.compile(r"^[a-z][a-z0-9-]*$")
META_RULES = ("invalid-directive", "unused-ignore")
# What could not be read is never passed: these run under any --select (as a syntax error under ruff's),
# only --ignore silences them
UNREAD_RULES = ("syntax-error", "unanalyzable-statement")
PARALLEL_THRESHOLD = 64  # files; below this, starting workers costs more than it saves


@dataclass
class Directive:
    verb: str  # ignore | ignore-file | no-transaction | requires-backfill
    rules: list[str]
    line: int
    backfill: str = ""  # the backfill a requires-backfill directive names
    used: set[str] = field(default_factory=set)


class InputError(Exception):
    """An input that cannot be linted at all (unreadable, binary, too large)."""


def read_sql_file(path: Path, max_size: int) -> str:
    """A migration file's text, or InputError saying plainly why not."""
    try:
        with open(path, "rb") as file:  # one open and fstat: a directory of 2,000 files pays it 2,000 times
            size = os.fstat(file.fileno()).st_size
            if size > max_size:
                raise InputError(f"file is {size / 1048576:.1f} MB, above the {max_size / 1048576:.1f} MB limit (max-file-size)")
            data = file.read()
    except FileNotFoundError:
        raise InputError("no such file") from None
    except IsADirectoryError:
        raise InputError("is a directory") from None
    except PermissionError:
        raise InputError("permission denied") from None
    except OSError as error:
        raise InputError(error.strerror or str(error)) from None
    return decode_sql(data)


def decode_sql(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise InputError("binary file (contains NUL bytes), not SQL")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(f"line {line}: not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})") from None
    return text.removeprefix("\ufeff")


class Linter:
    """Lints SQL migrations with the rules the configuration enables."""

    def __init__(self, config: Config):
        self.config = config
        rules = all_rules()
        if config.select is not None:
            selected = config.select | set(UNREAD_RULES)
            enabled = [rule for rule in rules.values() if rule.id in selected]
        else:
            enabled = [rule for rule in rules.values() if rule.default_enabled]
        self.rules = [rule for rule in enabled if rule.id not in config.ignore and rule.check is not None]
        self.unanalyzable_rules = [rule for rule in self.rules if rule.id in UNREAD_RULES]
        self._by_kind: dict[tuple[str, frozenset[str]], list] = {}
        self.meta_enabled = {rule_id for rule_id in META_RULES if rule_id not in config.ignore and (config.select is None or rule_id in config.select)}
        self.analyzer = Analyzer(config.pg_version)

    def lint_file(self, path: Path, display: str | None = None) -> FileResult:
        display = display or str(path)
        try:
            text = read_sql_file(path, self.config.max_file_size)
        except InputError as error:
            return FileResult(display, error=str(error))
        if path.suffix == ".py":
            return self.lint_revision(path, display)
        return self.lint_text(text, display, file=path)

    def lint_revision(self, path: Path, display: str) -> FileResult:
        """An Alembic revision: its upgrade() rendered offline, findings at the op call's line."""
        from migrator.gates import GateError, gates_of
        from migrator.revisions import origin_line, render_revision, to_sql

        rendered = render_revision(path)
        sql, origin, blocks = to_sql(rendered)
        # Alembic runs the revision, unless the project is applied with `migrator apply`
        runner = "migrator" if self.config.runner == "migrator" else "alembic"
        try:  # its `# migrator:requires-backfill NAME` comments are Python's, not in the rendered SQL
            gates = frozenset(gate.backfill for gate in gates_of(path))
        except GateError:  # a malformed one gates nothing: its findings stay
            gates = frozenset()
        result = self.lint_text(sql, display, runner=runner, gates=gates, alembic=True,
                                autocommit_blocks=blocks) if sql.strip() else FileResult(display)
        source_lines = path.read_text(encoding="utf-8").splitlines()
        def revision_line(line: int) -> int:
            return origin_line(origin, line) if origin else 1

        for finding in result.findings:
            finding.line = revision_line(finding.line)
            finding.message = re.sub(r"\bline (\d+)", lambda m: f"line {revision_line(int(m.group(1)))}", finding.message)
            text = source_lines[finding.line - 1] if finding.line <= len(source_lines) else ""
            finding.column = text.find("op.") + 1 if "op." in text else len(text) - len(text.lstrip()) + 1
        if rendered.error is not None and "unrenderable-revision" not in self.config.ignore:
            line, message = rendered.error
            result.findings.append(Finding(display, line, 1, "unrenderable-revision", "error", message))
        result.note = None if rendered.statements or rendered.error else "revision renders no SQL"
        result.findings.sort(key=lambda f: (f.line, f.column, f.rule))
        return result

    def lint_text(self, text: str, path: str, file: Path | None = None, runner: str | None = None,
                  gates: frozenset[str] = frozenset(), alembic: bool = False,
                  autocommit_blocks: dict[int, str] | None = None) -> FileResult:
        """Lint SQL text shown as path; file is where it was read from (its project tells the runner);
        gates: the backfills it requires besides those its own comments name; alembic: the text is an
        Alembic revision rendered to SQL (help is given as op.* calls), autocommit_blocks the lines of the
        statements its autocommit_block() sent (migrator.revisions.to_sql)."""
        if not text.strip():
            result = FileResult(path)
            result.note = "empty file, nothing to lint"
            return result
        source = Source(text)
        try:
            tokens = source.tokenize()
        except SqlSyntaxError as error:
            return FileResult(path, findings=[Finding(path, error.line or 1, 1, "syntax-error", "error", str(error))])
        statements = self.analyzer.analyze_source(source, tokens, tool_statement_breaks(source, tokens))
        if autocommit_blocks:
            from migrator.revisions import mark_autocommit_blocks

            mark_autocommit_blocks(statements, autocommit_blocks)
        return self.lint_statements(source, tokens, statements, path, file=file, runner=runner, gates=gates,
                                    alembic=alembic)

    def lint_statements(self, source: Source, tokens, statements: list[Statement], path: str,
                        migration: MigrationContext | None = None, file: Path | None = None,
                        runner: str | None = None, gates: frozenset[str] = frozenset(),
                        alembic: bool = False) -> FileResult:
        """Lint a migration whose statements are already analyzed (the executor's plan shares them).

        migration: what the migration did before these statements, when they come one at a time
        (a revision run live); a fresh migration otherwise. file and runner tell which migration
        tool runs it (see migrator.runners); the configured runner otherwise. alembic: the statements are an
        Alembic revision's, rendered to SQL."""
        result = FileResult(path)
        down_line, _ = _migration_tool_markers(source, tokens)
        if down_line is not None:  # goose, dbmate, sql-migrate ... files: only the up section runs on deploy
            statements = [s for s in statements if s.line < down_line]
        directives, directive_findings = self._directives(source, tokens, path)
        result.statements = len(statements)
        if migration is None:
            transaction = file_transaction(source.text, file, runner or self.config.runner, self.config.transaction)
            # `-- migrator:no-transaction` is the user's word on how the file runs, whatever the tool
            wrapped = transaction.wraps(statements) and not any(d.verb == "no-transaction" for d in directives)
            migration = MigrationContext(self.config.pg_version, wrapped, implicit=wrapped and transaction.mode == ONE_STRING,
                                         origin=transaction.origin, escape=transaction.escape, runner_sets_timeouts=transaction.sets_timeouts,
                                         alembic=alembic)
            migration.search_path = extension_search_path(file, source.text) or migration.search_path
        result.wrapped = migration.wrapped
        migration.gates = gates | {d.backfill for d in directives if d.verb == "requires-backfill"}
        reports = self.run_rules(statements, migration)
        result.findings = directive_findings + self._suppress(reports, statements, directives, path)
        result.findings.sort(key=lambda f: (f.line, f.column, f.rule))
        return result

    def run_rules(self, statements: list[Statement], migration: MigrationContext) -> list[Report]:
        """Every enabled rule on every statement (DO bodies included), in order."""
        context = RuleContext(migration, self.config.max_timeout_ms, self.config.backfills)
        for top in statements:
            for statement in top.walk():
                migration.enter(statement)
                context.statement = statement
                context.facts.clear()
                # Facts of an unanalyzable statement cannot be trusted: it gets that one finding.
                for rule in self.unanalyzable_rules if statement.unanalyzable else self._rules_for(statement):
                    context.rule = rule
                    rule.check(statement, context)
                if not statement.unanalyzable:
                    migration.apply(statement)
        for rule in self.rules:
            if rule.finish is not None:
                context.rule = rule
                rule.finish(context)
        return context.reports

    def _rules_for(self, statement: Statement) -> list:
        """The enabled rules that look at a statement the analyzer read, of this kind with these kinds of
        actions, in id order (the rules for unread statements have nothing to say about it)."""
        kind, action_kinds = statement.kind, frozenset(action.kind for action in statement.actions)
        rules = self._by_kind.get((kind, action_kinds))
        if rules is None:
            rules = self._by_kind[kind, action_kinds] = [
                rule for rule in self.rules if rule.id not in UNREAD_RULES and (rule.kinds is None or kind in rule.kinds)
                and (rule.action_kinds is None or not rule.action_kinds.isdisjoint(action_kinds))]
        return rules

    def _directives(self, source: Source, tokens, path: str) -> tuple[list[Directive], list[Finding]]:
        known = all_rules()
        directives, findings = [], []
        for line, verb, rest in directive_comments(source, tokens):
            problem = None
            rules: list[str] = []
            if verb in ("ignore", "ignore-file"):
                listed = rest.split(" -- ", 1)[0].split("--", 1)[0]
                rules = [item.strip() for item in listed.split(",") if item.strip()]
                if not rules:
                    problem = f"migrator:{verb} names no rule (write the rule ids it silences)"
                for rule_id in rules:
                    if not RULE_ID.match(rule_id) or rule_id not in known:
                        problem = f"migrator:{verb} names unknown rule {rule_id!r} (see `migrator rules`)"
            elif verb == "requires-backfill" and not re.fullmatch(r"\s*[A-Za-z0-9_.-]+\s*", rest):
                problem = "migrator:requires-backfill needs one backfill name"
            elif verb not in ("no-transaction", "requires-backfill"):
                problem = f"unknown directive migrator:{verb or '?'} (known: ignore, ignore-file, no-transaction, requires-backfill)"
            if problem:
                if "invalid-directive" in self.meta_enabled:
                    findings.append(Finding(path, line, 1, "invalid-directive", known["invalid-directive"].severity, problem))
                continue
            directives.append(Directive(verb, rules, line, rest.strip() if verb == "requires-backfill" else ""))
        return directives, findings

    def _suppress(self, reports: list[Report], statements: list[Statement], directives: list[Directive], path: str) -> list[Finding]:
        known = all_rules()
        targets = self._directive_targets(statements, directives)
        findings = []
        for report in reports:
            statement = report.statement
            suppressed = False
            for directive in directives:
                if report.rule.id not in directive.rules:
                    continue
                applies = directive.verb == "ignore-file" or any(
                    targets.get(id(directive)) is candidate for candidate in _self_and_parents(statement)
                )
                if applies:
                    directive.used.add(report.rule.id)
                    suppressed = True
            if suppressed:
                continue
            line = statement.line if statement else 1
            column = statement.column if statement else 1
            findings.append(
                Finding(path, line, column, report.rule.id, report.severity, report.message, report.help,
                        statement.sql if statement else None)
            )
        if "unused-ignore" in self.meta_enabled:
            for directive in directives:
                for rule_id in directive.rules:
                    if rule_id not in directive.used and rule_id in {r.id for r in self.rules}:
                        findings.append(
                            Finding(path, directive.line, 1, "unused-ignore", known["unused-ignore"].severity,
                                    f"migrator:{directive.verb} {rule_id} suppressed nothing: remove it")
                        )
        return findings

    @staticmethod
    def _directive_targets(statements: list[Statement], directives: list[Directive]) -> dict[int, Statement]:
        """The statement each `ignore` directive belongs to.

        A directive on a line a statement spans (a trailing comment included) belongs to it;
        otherwise to the next statement below it.
        """
        targets = {}
        if not any(directive.verb == "ignore" for directive in directives):  # most files have none
            return targets
        flat = [s for top in statements for s in top.walk()]
        for directive in directives:
            if directive.verb != "ignore":
                continue
            spanning = [s for s in flat if directive.line in s.lines]
            if spanning:
                targets[id(directive)] = spanning[-1]
                continue
            below = [s for s in flat if s.line > directive.line]
            if below:
                targets[id(directive)] = min(below, key=lambda s: s.line)
        return targets


# Where a migration tool's file turns from its up section to its down section, which runs only to roll back:
# goose's `-- +goose Down`, dbmate's `-- migrate:down`, sql-migrate's `-- +migrate Down`, node-pg-migrate's
# `-- Down Migration` (words may follow, as its own regex allows), tern's `---- create above / drop below ----`,
# shmig's `-- ==== DOWN ====`.
TOOL_DOWN = re.compile(r"^--\s*(\+goose\s+down|migrate:down|\+migrate\s+down)\b|^--[\s-]*down\s+migration\b"
                       r"|^----\s*create\s+above\s*/\s*drop\s+below\s*----|^--\s*=+\s*down\s*=+\s*$", re.IGNORECASE)
TOOL_NO_TRANSACTION = re.compile(r"^--\s*(\+goose\s+no\s+transaction|migrate:up\b.*\btransaction:false"
                                 r"|\+migrate\s+up\s+notransaction\b)", re.IGNORECASE)
# a line comment that may be one of those markers (or goose's, sql-migrate's StatementEnd), found in one pass
TOOL_MARKER = re.compile(r"^[ \t]*(--[ \t]*(?:\+goose|\+migrate|migrate:|[ \t-]*(?:up|down)[ \t]+migration|=+[ \t]*(?:up|down)\b|--[ \t]*create)"
                         r"[^\n]*)", re.IGNORECASE | re.MULTILINE)
# text that each marker holds (in the case tools write it): a file with none of them holds no marker
TOOL_MARKER_WORDS = ("goose", "migrate:", "+migrate", "own Migration", "own migration", "create above", "DOWN =", "down =")


def _tool_marker_comments(source: Source, tokens) -> list[tuple[int, str]]:
    """(offset, text) of the line comments that may be a migration tool's markers, outside strings and bodies."""
    found = source.__dict__.get("_tool_markers")  # read once per file: analysis and lint both ask
    if found is not None:
        return found
    found = []
    text = source.text
    if any(word in text for word in TOOL_MARKER_WORDS):  # most files hold none: no regex search at all
        starts = None
        for match in TOOL_MARKER.finditer(text):
            starts = starts or [token.start for token in tokens]
            offset = match.start(1)
            inside = bisect_right(starts, offset) - 1
            if inside < 0 or tokens[inside].end < offset:  # not in a token: a comment PostgreSQL skips
                found.append((offset, match.group(1)))
    source._tool_markers = found
    return found


def directive_comments(source: Source, tokens):
    """(line, verb, rest) of each `-- migrator:verb rest` comment (not inside strings or bodies)."""
    if "migrator:" not in source.text:
        return
    for offset, text in gaps(source, tokens):
        if "migrator:" not in text:
            continue
        for match in COMMENT.finditer(text):
            parsed = DIRECTIVE.match(match.group(0))
            if parsed:
                yield source.line_of(offset + match.start()), parsed.group(1).lower(), parsed.group(2)


def migration_markers(source: Source, tokens) -> tuple[int | None, bool]:
    """Where the down section starts (goose, dbmate files), and whether the migration runs outside
    a transaction (`-- migrator:no-transaction`, or goose's and dbmate's own markers)."""
    down_line, no_transaction = _migration_tool_markers(source, tokens)
    return down_line, no_transaction or any(verb == "no-transaction" for _, verb, _ in directive_comments(source, tokens))


def _migration_tool_markers(source: Source, tokens) -> tuple[int | None, bool]:
    """Markers of goose, dbmate, sql-migrate ... files: the line where the down section starts, and 'no transaction'."""
    down_line, no_transaction = None, False
    for offset, comment in _tool_marker_comments(source, tokens):
        if down_line is None and TOOL_DOWN.match(comment):
            down_line = source.line_of(offset)
        elif TOOL_NO_TRANSACTION.match(comment):
            no_transaction = True
    return down_line, no_transaction


TOOL_STATEMENT_END = re.compile(r"^--\s*(\+goose\s+(statementend|up|down)|migrate:(up|down)|\+migrate\s+(statementend|up|down))\b",
                                re.IGNORECASE)


def tool_statement_breaks(source: Source, tokens) -> list[int]:
    """Offsets of the migration tools' markers that end a statement, semicolon or not: goose's, dbmate's and
    sql-migrate's section and StatementEnd markers, and every tool's start of the down section."""
    return [offset for offset, comment in _tool_marker_comments(source, tokens)
            if TOOL_STATEMENT_END.match(comment) or TOOL_DOWN.match(comment)]


def _self_and_parents(statement: Statement | None):
    while statement is not None:
        yield statement
        statement = statement.parent


_WORKER_LINTER: Linter | None = None


def _lint_in_worker(item: tuple[str, Path]) -> FileResult:
    return _WORKER_LINTER.lint_file(item[1], item[0])


def lint_workers() -> int:
    """How many worker processes lint_files uses for many files: one per core, at most 8."""
    return min(os.cpu_count() or 1, 8)


def lint_files(linter: Linter, files: list[tuple[str, Path]], jobs: int | None = None) -> list[FileResult]:
    """Lint many files, in parallel worker processes when there are enough to pay for them."""
    import multiprocessing

    global _WORKER_LINTER
    jobs = jobs or lint_workers()
    if jobs < 2 or len(files) < PARALLEL_THRESHOLD or "fork" not in multiprocessing.get_all_start_methods():
        return [linter.lint_file(path, display) for display, path in files]
    _WORKER_LINTER = linter  # inherited by the forked workers: nothing to re-import or pickle
    # and frozen: the workers' collections skip the libraries loaded (sqlglot's objects alone are
    # tens of thousands), whose pages then stay shared with this process instead of being copied
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            return pool.map(_lint_in_worker, files, chunksize=max(1, len(files) // (jobs * 32)))
    finally:
        gc.unfreeze()
        _WORKER_LINTER = None
