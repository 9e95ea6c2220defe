"""The lint rule catalogue: one module per rule, each with its id, docs, check and tests beside it.

A rule module defines ``RULE = Rule(...)``. Its ``check(statement, ctx)`` looks at one
analyzed statement and at the migration so far (``ctx.migration``) and reports through
``ctx.report(message, help)``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

from migrator.analyzer import Statement
from migrator.context import MigrationContext

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Rule:
    """A lint rule: its public id, default severity and the doc `migrator explain` renders."""

    id: str
    severity: str
    summary: str
    what: str
    why: str
    instead: str
    check: Callable[[Statement, "RuleContext"], None] | None = None
    default_enabled: bool = True
    finish: Callable[["RuleContext"], None] | None = None  # called once after the file's last statement
    kinds: frozenset[str] | None = None  # statement kinds check() looks at; None: every statement
    # action kinds check() looks at: it is called only for statements with such an action; None: with any
    action_kinds: frozenset[str] | None = None
    instead_alembic: str | None = None  # the `instead` recipe as an Alembic revision's upgrade() writes it


    def explain(self) -> str:
        """The rule's documentation as Markdown."""
        state = "" if self.default_enabled else "\n\n*Off by default: enable it with `--select`.*"
        return (
            f"# {self.id} ({self.severity})\n\n{self.summary}{state}\n\n"
            f"## What it does\n{self.what}\n\n## Why is this bad?\n{self.why}\n\n"
            f"## Use instead\n```sql\n{self.instead.strip()}\n```\n"
            + (f"\nIn an Alembic revision:\n```python\n{self.instead_alembic.strip()}\n```\n" if self.instead_alembic else "")
        )


@dataclass
class Report:
    rule: Rule
    statement: Statement | None
    message: str
    help: str | None
    severity: str


@dataclass
class RuleContext:
    """What a rule sees besides the statement, and where it reports."""

    migration: MigrationContext
    max_timeout_ms: int
    backfills: tuple = ()  # unfinished backfills known from the target database (migrator.gates.KnownBackfill)
    rule: Rule | None = None
    statement: Statement | None = None
    reports: list[Report] = field(default_factory=list)
    scratch: dict = field(default_factory=dict)  # per-file notes a rule keeps for its finish()
    facts: dict = field(default_factory=dict)  # what rules derived from the current statement (see shared())

    @property
    def pg_version(self) -> int:
        return self.migration.pg_version

    def report(self, message: str, help: str | None = None, severity: str | None = None,
               statement: Statement | None = None) -> None:
        """Report a finding on the current statement, or the one given (at the rule's severity unless given)."""
        self.reports.append(Report(self.rule, statement or self.statement, message, help, severity or self.rule.severity))

    def help(self, sql: str, alembic: str | Callable[[], str] | None = None) -> str:
        """The help to report: the Alembic form when the migration is an Alembic revision and the rule has one
        (alembic may be a function that writes it, for a rule that reports often: called for a revision only)."""
        if alembic is None or not self.migration.alembic:
            return sql
        return alembic() if callable(alembic) else alembic

    def shared(self, statement: Statement, name: str, derive: Callable[[], object]):
        """derive()'s value, computed once for all the rules that ask about the current statement: the migration
        does not change while the rules look at one statement (the linter clears `facts` between statements)."""
        if statement is not self.statement:
            return derive()
        facts = self.facts
        if name in facts:
            return facts[name]
        value = facts[name] = derive()
        return value

    def notes(self) -> dict:
        """This rule's own notes for the current file."""
        return self.scratch.setdefault(self.rule.id, {})


_REGISTRY: dict[str, Rule] | None = None


def all_rules() -> dict[str, Rule]:
    """Every rule, by id, in id order."""
    global _REGISTRY
    if _REGISTRY is None:
        rules = {}
        for module_info in pkgutil.iter_modules(__path__):
            name = module_info.name
            if name.startswith("_") or name.endswith("_test"):
                continue
            rule = importlib.import_module(f"{__name__}.{name}").RULE
            rules[rule.id] = rule
        _REGISTRY = dict(sorted(rules.items()))
    return _REGISTRY


def get_rule(rule_id: str) -> Rule:
    return all_rules()[rule_id]
