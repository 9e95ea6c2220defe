"""What linting a file gives: its findings, or why it could not be read. Light: the cache reads these back
without loading the linter."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Finding:
    path: str
    line: int
    column: int
    rule: str
    severity: str
    message: str
    help: str | None = None
    statement: str | None = None

    def as_dict(self) -> dict:
        return {
            "path": self.path, "line": self.line, "column": self.column, "rule": self.rule,
            "severity": self.severity, "message": self.message, "help": self.help, "statement": self.statement,
        }


@dataclass
class FileResult:
    """Findings of one input, or the reason it could not be read (then `error` is set)."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    statements: int = 0
    wrapped: bool | None = None  # linted as running in one transaction (None: not linted)
