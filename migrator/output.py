"""Terminal and machine-readable output (rich for people, JSON for tools)."""

from __future__ import annotations

import json
import os
import sys

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def console():
    """A rich console on stdout (rich is imported only when output may be styled)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _may_style() -> bool:
    """Whether stdout is a terminal or colour is forced; if not, rich would write plain text anyway."""
    return sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR"))


def print_text(results) -> None:
    """Findings grouped by file: `path:line:col  rule-id  message`, the statement, the safe alternative.

    Styled by rich on a terminal; written as plain lines (fast, greppable) to pipes and log files.
    """
    out = console() if _may_style() else None
    summary, summary_style = _summary(results)
    if out is None or not out.is_terminal:
        lines = []  # a 70,000-line report: built as strings, written at once
        for result in results:
            if result.findings:
                lines.append(result.path)
                for finding in result.findings:
                    location, statement, help = _finding_parts(finding)
                    lines.append(f"{location}{finding.rule}  {finding.message}")
                    lines += statement
                    lines += help
                lines.append("")
        lines.append(summary)
        sys.stdout.write("\n".join(lines) + "\n")
        return
    from rich.text import Text

    for result in results:
        if result.findings:
            out.print(Text(result.path, style="bold"))
            for finding in result.findings:
                location, statement, help = _finding_parts(finding)
                out.print(Text.assemble(location, (finding.rule, SEVERITY_STYLE[finding.severity]), f"  {finding.message}"))
                for line in statement:
                    out.print(Text(line, style="dim"))
                for line in help:
                    out.print(Text(line, style="green"))
            out.print()
    out.print(Text(summary, style=summary_style))


def _finding_parts(finding) -> tuple[str, list[str], list[str]]:
    """What a finding's lines show besides its rule and message: where it is, its statement (four lines at
    most), the safe alternative."""
    statement = finding.statement.splitlines() if finding.statement else []
    shown = [f"    | {text}" for text in statement[:4]] + (["    | ..."] if len(statement) > 4 else [])
    help = [("    help: " if index == 0 else "          ") + text
            for index, text in enumerate(finding.help.splitlines())] if finding.help else []
    return f"{finding.path}:{finding.line}:{finding.column}  ", shown, help


def _summary(results) -> tuple[str, str]:
    """The report's last line (findings per severity, files linted), and its style."""
    counts = {"error": 0, "warning": 0, "info": 0}
    for result in results:
        for finding in result.findings:
            counts[finding.severity] += 1
    summary = ", ".join(_plural(counts[severity], severity) for severity in ("error", "warning", "info"))
    return f"{summary} in {_plural(len(results), 'file')}", "bold" if counts["error"] else ""


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def print_json(findings) -> None:
    """A JSON array of findings, one finding per line."""
    body = ",\n".join(json.dumps(finding.as_dict()) for finding in findings)
    sys.stdout.write(f"[\n{body}\n]\n" if findings else "[]\n")


GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _github_escape(text: str, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def print_github(findings) -> None:
    """GitHub Actions workflow commands: one annotation per finding."""
    for f in findings:
        message = f.message + (f"\n{f.help}" if f.help else "")
        sys.stdout.write(
            f"::{GITHUB_LEVEL[f.severity]} file={_github_escape(f.path, True)},line={f.line},col={f.column},"
            f"title={_github_escape(f.rule, True)}::{_github_escape(message)}\n"
        )


SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def sarif_log(findings, rules) -> dict:
    """A SARIF 2.1.0 log for code scanning."""
    from migrator import __version__

    rule_list = list(rules)
    index = {rule.id: position for position, rule in enumerate(rule_list)}
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "migrator",
                "version": __version__,
                "rules": [{
                    "id": rule.id,
                    "name": "".join(part.title() for part in rule.id.split("-")),
                    "shortDescription": {"text": rule.summary},
                    "fullDescription": {"text": rule.what},
                    "help": {"text": f"{rule.why}\n\nUse instead:\n{rule.instead}", "markdown": rule.explain()},
                    "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity], "enabled": rule.default_enabled},
                } for rule in rule_list],
            }},
            "results": [{
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": SARIF_LEVEL[f.severity],
                "message": {"text": f.message + (f"\nUse instead: {f.help}" if f.help else "")},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": f.path.replace("\\", "/")},
                    "region": {"startLine": f.line, "startColumn": f.column},
                }}],
            } for f in findings],
        }],
    }


def print_sarif(findings, rules) -> None:
    sys.stdout.write(json.dumps(sarif_log(findings, rules), indent=2) + "\n")


def print_rules(rules, output_format: str) -> None:
    if output_format == "markdown":
        sys.stdout.write(rules_markdown(rules))
        return
    if not _may_style():  # for pipes and grep: one line per rule, never wrapped
        width = max(len(rule.id) for rule in rules)
        sys.stdout.write(f"{'rule':<{width}}  severity  default  summary\n")
        for rule in rules:
            sys.stdout.write(f"{rule.id:<{width}}  {rule.severity:<8}  {'on' if rule.default_enabled else 'off':<7}  {rule.summary}\n")
        return
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in ("rule", "severity", "default", "summary"):
        table.add_column(column, overflow="fold")
    for rule in rules:
        table.add_row(rule.id, rule.severity, "on" if rule.default_enabled else "off", rule.summary)
    console().print(table)


def rules_markdown(rules) -> str:
    """The rules reference (docs/rules.md), generated from the rules' own docs."""
    parts = ["# migrator lint rules\n\nGenerated by `migrator rules --format markdown`; do not edit by hand.\n\n"]
    parts.append("| rule | severity | default | summary |\n|---|---|---|---|\n")
    for rule in rules:
        parts.append(f"| [`{rule.id}`](#{rule.id}) | {rule.severity} | {'on' if rule.default_enabled else 'off'} | {rule.summary} |\n")
    for rule in rules:
        parts.append("\n" + rule.explain().replace(f"# {rule.id} ", f"## {rule.id} ", 1).replace("\n## ", "\n### "))
    return "".join(parts)


def print_markdown(text: str) -> None:
    out = console()
    if out.is_terminal:
        from rich.markdown import Markdown

        out.print(Markdown(text))
    else:
        sys.stdout.write(text)


def plan_step_heading(step: dict, width: int = 90) -> str:
    """A plan step's first line, as `migrator plan` and the demo print it: the migration, its
    transaction numbered (each commits on its own, so NOT VALID and VALIDATE show apart), the step."""
    return f"{step['migration']} [{step['transaction']} {step['group']}] {step_name(step)}: {step['sql'].splitlines()[0][:width]}"


def step_name(step: dict) -> str:
    """A step as plan and apply name it for people (Step.number): `step 2`, `step 2 follow-up 1`; an
    Alembic revision's by the file and line of its op, `r1.py:12`, `r1.py:12 follow-up 1`."""
    named = f"{step['file']}:{step['line']}" if "file" in step else f"step {step['step']}"
    return named + (f" follow-up {step['followup']}" if step.get("followup") else "")


def steps_name(event: dict) -> str:
    """The steps an event of several names ("steps" and "followups": a skipped group, a unit of
    follow-ups), each as step_name names it, or its one step."""
    if "steps" not in event:
        return step_name(event)
    place = {key: event[key] for key in ("file", "line") if key in event}
    return ", ".join(step_name({"step": step, "followup": followup, **place})
                     for step, followup in zip(event["steps"], event["followups"]))
