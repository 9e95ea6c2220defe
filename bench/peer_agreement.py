"""Benchmark: how often `migrator lint` agrees with squawk's own rule tests.

squawk (the peer linter) keeps its rule tests as SQL snippets in
crates/squawk_linter/src/rules/*.rs, each asserting that the rule flags the snippet or not,
under default settings, `assume_in_transaction` or a PostgreSQL version. Their text is not ours
to commit, so this script reads a folder of cases extracted from a checkout, laid out as

    CASES/<squawk-rule>/<test-name>.sql

each file starting with one header line, then the test's SQL:

    -- peer-case rule=<squawk-rule> expect=flag|ok|? [assume-in-transaction] [pg=N]

`expect` is what the test asserts (`lint_errors`/`assert_ne!(errors.len(), 0)`: flag;
`lint_ok`/`errors.is_empty()`: ok; a bare snapshot: `?`, then the squawk CLI's verdict on
the snippet decides). To make the folder: for each `#[test]` of a rule module, copy the raw
string given to the lint helper into a file and write the header from the helper and settings
it is called with (`lint_ok_with(.., LinterSettings { assume_in_transaction: true, ..})` is
`assume-in-transaction`, `pg_version: "12"` is `pg=12`). Tests of fixes and of lock tables
are not verdicts and are left out.

Each case is linted by migrator with only the migrator rules that mean the same as the
squawk rule (MAPPING) selected; squawk's defaults (no transaction assumed) become
`runner = "psql"` (statement by statement), `assume-in-transaction` the default wrapped file.

Every disagreement is then run on a live sandbox (bench/peer_judge.py: the world the case assumes
built from the server's complaints, tables filled with rows) and judged by the server's facts: the
locks taken and whether they conflict with reads or writes of a pre-existing table, rewrite, scans,
refusal in a transaction block, whether the case can run again after any prefix of it ran, what a
failed CONCURRENTLY build leaves for its rerun, and what a statement PostgreSQL refuses outright is
refused for. A disagreement whose facts support migrator is "judged for migrator (the rules mean
different things there)", printed with its fact; every other counts against migrator. Prints raw
agreement, agreement where the rules mean the same (the cases judged for migrator left out of the
denominator, never one without a server fact), per rule, and each disagreement with its facts;
appends them to bench/RESULTS.md.

    python bench/peer_agreement.py CASES [--squawk] [--show-agreeing] [--no-record]

--squawk also runs the squawk CLI (squawk-cli, a dev dependency) on every case and lists the
cases where its verdict differs from the header (an extraction mistake, or a CLI older or
newer than the tests).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from peer_judge import Judge
from peer_judge import judge as judge_case
from results import report

from migrator.config import Config
from migrator.lint import Linter

# squawk rule -> the migrator rules that flag the same thing
MAPPING = {
    "adding-field-with-default": {"add-column-volatile-default", "add-column-stored-generated", "add-column-identity"},
    "adding-foreign-key-constraint": {"add-foreign-key"},
    "adding-not-nullable-field": {"set-not-null"},
    "adding-required-field": {"add-column-required"},
    "adding-serial-primary-key-field": {"add-primary-key"},
    "ban-alter-domain-with-add-constraint": {"alter-domain-constraint"},
    "ban-concurrent-index-creation-in-transaction": {"concurrently-in-transaction"},
    "ban-create-domain-with-constraint": {"create-domain-with-constraint"},
    "ban-drop-column": {"drop-column"},
    "ban-drop-database": {"drop-database"},
    "ban-drop-not-null": {"drop-not-null"},
    "ban-drop-table": {"drop-table"},
    "ban-duplicate-column-assignments": {"duplicate-column-assignment"},
    "ban-uncommitted-transaction": {"unbalanced-transaction"},
    "changing-column-type": {"changing-column-type"},
    # squawk's rule covers every constraint added without NOT VALID, and VALIDATE in the same transaction
    "constraint-missing-not-valid": {"constraint-missing-not-valid", "add-foreign-key", "add-unique-constraint",
                                     "add-primary-key", "add-exclusion-constraint", "validate-in-same-transaction"},
    "disallowed-unique-constraint": {"add-unique-constraint"},
    "identifier-too-long": {"identifier-too-long"},
    "prefer-big-int": {"prefer-bigint"},
    "prefer-identity": {"prefer-identity"},
    "prefer-robust-stmts": {"prefer-robust-stmts"},
    "prefer-text-field": {"prefer-text"},
    "prefer-timestamptz": {"prefer-timestamptz"},
    "renaming-column": {"rename-column"},
    "renaming-table": {"rename-table"},
    "require-concurrent-index-creation": {"require-concurrent-index"},
    "require-concurrent-index-deletion": {"require-concurrent-drop-index"},
    "require-concurrent-partition-detach": {"require-concurrent-detach"},
    "require-concurrent-reindex": {"require-concurrent-reindex"},
    "require-enum-value-ordering": {"require-enum-value-ordering"},
    "require-table-schema": {"require-table-schema"},
    "require-timeout-settings": {"require-lock-timeout", "require-statement-timeout"},
}
# the names the squawk CLI reports for a rule whose tests use an umbrella name
SQUAWK_REPORTS = {"require-timeout-settings": {"require-lock-timeout", "require-statement-timeout"}}
HEADER = re.compile(r"^--\s*peer-case\s+(.*)$")


def read_case(path: Path) -> tuple[dict, str]:
    """The header's settings and the SQL of one case file."""
    first, _, sql = path.read_text(encoding="utf-8").partition("\n")
    match = HEADER.match(first)
    if not match:
        sys.exit(f"{path}:1: not a case file (the first line must be `-- peer-case rule=... expect=...`)")
    settings: dict = {}
    for word in match.group(1).split():
        key, _, value = word.partition("=")
        settings[key] = value or True
    if settings.get("rule") != path.parent.name or settings.get("expect") not in ("flag", "ok", "?"):
        sys.exit(f"{path}:1: header needs rule={path.parent.name} and expect=flag|ok|?")
    return settings, sql


def migrator_flags(sql: str, rule: str, settings: dict) -> set[int]:
    """The lines where migrator's same-meaning rules flag the case (empty: it passes)."""
    config = Config(pg_version=int(settings.get("pg", 15)), select=frozenset(MAPPING[rule]),
                    **({} if settings.get("assume-in-transaction") else {"runner": "psql"}))
    result = Linter(config).lint_text(sql, f"{rule}.sql")
    return {finding.line for finding in result.findings if finding.rule in MAPPING[rule]}


def squawk_flags(squawk: str, path: Path, rule: str, settings: dict) -> bool | None:
    """The squawk CLI's verdict on a case (None: the CLI does not know the rule or cannot parse it)."""
    body = path.read_text(encoding="utf-8").partition("\n")[2]
    command = [squawk, "--reporter", "json", "--stdin-filepath", path.name, "-i", rule]
    if settings.get("assume-in-transaction"):
        command.append("--assume-in-transaction")
    if "pg" in settings:
        command.append(f"--pg-version={settings['pg']}")
    run = subprocess.run(command, input=body, capture_output=True, text=True)
    try:
        violations = json.loads(run.stdout or "null")
    except json.JSONDecodeError:
        return None
    if violations is None:
        return None
    names = SQUAWK_REPORTS.get(rule, {rule})
    if any(v.get("rule_name") == "syntax-error" for v in violations):
        return None
    return any(v.get("rule_name") in names for v in violations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", type=Path)
    parser.add_argument("--squawk", action="store_true", help="cross-check every header against the squawk CLI")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to bench/RESULTS.md")
    args = parser.parse_args()
    squawk = None
    if args.squawk:
        squawk = shutil.which("squawk", path=str(Path(sys.executable).parent)) or shutil.which("squawk")
        if squawk is None:
            sys.exit("squawk not found: pip install -e '.[dev]' installs squawk-cli")
    per_rule: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    disagreements, cli_differs, unmapped = [], [], set()
    for path in sorted(args.cases.glob("*/*.sql")):
        settings, sql = read_case(path)
        rule = settings["rule"]
        if rule not in MAPPING:
            unmapped.add(rule)
            continue
        cli = squawk_flags(squawk, path, rule, settings) if squawk else None
        if settings["expect"] == "?":
            if cli is None:
                continue  # a snapshot-only test whose verdict nothing here can tell
            expected = cli
        else:
            expected = settings["expect"] == "flag"
            if cli is not None and cli != expected:
                cli_differs.append(f"{rule}/{path.stem}: test says {settings['expect']}, squawk CLI {'flags' if cli else 'passes'}")
        flagged = migrator_flags(sql, rule, settings)
        per_rule[rule][1] += 1
        if bool(flagged) == expected:
            per_rule[rule][0] += 1
        else:
            disagreements.append((f"{rule}/{path.stem}", rule, sql, settings, flagged))
    agree = sum(a for a, _ in per_rule.values())
    total = sum(n for _, n in per_rule.values())
    if not total:
        sys.exit(f"{args.cases}: no case of a mapped rule")
    for_migrator, against = judge_on_server(disagreements)
    same = total - len(for_migrator)
    lines = [f"raw agreement with squawk's rule tests: {agree}/{total} cases ({100 * agree / total:.1f}%) over "
             f"{len(per_rule)} rules mapped to a migrator rule",
             f"agreement where the rules mean the same: {agree}/{same} ({100 * agree / same:.1f}%): the {len(for_migrator)} "
             "disagreements PostgreSQL judged for migrator (the rules mean different things there) left out"]
    lines += [f"{rule}: {a}/{n}" for rule, (a, n) in sorted(per_rule.items()) if a != n]
    lines.append(f"rules in full agreement: {sum(1 for a, n in per_rule.values() if a == n)} of {len(per_rule)}")
    lines += [f"judged for migrator: {line}" for line in for_migrator]
    lines += [f"against migrator: {line}" for line in against]
    if unmapped:
        lines.append(f"cases of rules without a same-meaning migrator rule, not counted: {', '.join(sorted(unmapped))}")
    if cli_differs:
        print("\n".join(f"squawk CLI differs from the test: {line}" for line in cli_differs) + "\n")
    report("peer_agreement", lines, record=not args.no_record)


def judge_on_server(disagreements) -> tuple[list[str], list[str]]:
    """Each disagreement run on a live sandbox (bench/peer_judge.py): the ones whose server facts support
    migrator, and the others, each with its deciding facts."""
    if not disagreements:
        return [], []
    judge = Judge()
    for_migrator, against = [], []
    try:
        for name, rule, sql, settings, flagged in disagreements:
            facts = judge.facts(sql, int(settings.get("pg", 15)))
            wrapped = bool(settings.get("assume-in-transaction")) or sql.lstrip().upper().startswith("BEGIN")
            supported, fact = judge_case(rule, bool(flagged), facts, flagged, wrapped)
            verdict = f"{name} (squawk {'passes' if flagged else 'flags'}, migrator {'flags' if flagged else 'passes'}): {fact}"
            (for_migrator if supported else against).append(verdict)
    finally:
        judge.close()
    return for_migrator, against


if __name__ == "__main__":
    main()
