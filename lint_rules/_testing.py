"""Helpers for the rule tests that sit beside each rule."""

from __future__ import annotations

from migrator.config import Config
from migrator.lint import Linter

TIMEOUTS = "SET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '5s';\n"


def lint(sql: str, rule: str | None = None, pg_version: int = 15, transaction: str | None = None, file=None, **options):
    """Findings for a SQL text (read from `file`, a Path, when given), with only `rule` selected when given."""
    config = Config(
        pg_version=pg_version, transaction=transaction,
        select=frozenset({rule}) if rule else None, **options,
    )
    return Linter(config).lint_text(sql, str(file or "test.sql"), file=file).findings


def rules_hit(sql: str, rule: str | None = None, **options) -> list[str]:
    return [finding.rule for finding in lint(sql, rule, **options)]


def hits(sql: str, rule: str, **options) -> int:
    """How many times `rule` fires on the SQL."""
    return rules_hit(sql, rule, **options).count(rule)
