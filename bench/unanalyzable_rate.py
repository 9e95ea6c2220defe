"""Benchmark: how much of real migration SQL the analyzer cannot read.

Walks folders of real migration files (`*.sql`, one subfolder per project), analyzes every file as
`migrator lint` does, and prints the share of top-level statements with any unanalyzable part (DO
bodies included). A statement whose only unanalyzable parts are EXECUTEs of dynamic SQL in a DO block
is counted apart: that SQL exists only at run time, and the finding says so. Prints the figures per
project and the commonest reasons, and appends them to bench/RESULTS.md.

The corpus is not part of the repository (other projects' files, other licences): gather it into a
temp folder, e.g. from published packages (`pip download --no-deps procrastinate`, `npm pack
graphile-worker`: their sql/ folders) or a checkout's migrations folder, one subfolder per project.

    python bench/unanalyzable_rate.py CORPUS [--no-record]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

from results import report

from migrator.analyzer import Analyzer
from migrator.lint import tool_statement_breaks
from migrator.sqltext import Source, SqlSyntaxError

DYNAMIC = "dynamic SQL (EXECUTE)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--pg-version", type=int, default=15)
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to bench/RESULTS.md")
    args = parser.parse_args()
    analyzer = Analyzer(args.pg_version)
    statements, unreadable, dynamic_only = Counter(), Counter(), Counter()
    reasons: Counter = Counter()
    examples: dict[str, str] = {}
    files = sorted(args.corpus.rglob("*.sql"))
    if not files:
        sys.exit(f"{args.corpus}: no .sql files")
    for path in files:
        project = path.relative_to(args.corpus).parts[0]
        source = Source(path.read_text(encoding="utf-8", errors="replace"))
        try:
            tokens = source.tokenize()
        except SqlSyntaxError as error:
            print(f"{path}:{error.line}: not tokenizable: {error}")
            continue
        for top in analyzer.analyze_source(source, tokens, tool_statement_breaks(source, tokens)):
            if top.kind == "psql" and not top.unanalyzable:  # `\set`, `\echo`: psql's own, no SQL statement
                continue
            statements[project] += 1
            parts = [part for part in top.walk() if part.unanalyzable]
            if not parts:
                continue
            if all(DYNAMIC in part.unanalyzable for part in parts):
                dynamic_only[project] += 1
                continue
            unreadable[project] += 1
            for part in parts:
                if DYNAMIC not in part.unanalyzable:
                    reason = re.sub(r"'[^']*'", "'…'", part.unanalyzable)
                    reasons[reason] += 1
                    examples.setdefault(reason, f"{path.relative_to(args.corpus)}:{part.line}")
    total, bad = sum(statements.values()), sum(unreadable.values())
    lines = [f"{len(files)} files, {total} top-level statements: {bad} with an unanalyzable part "
             f"({100 * bad / total:.2f}%), {sum(dynamic_only.values())} more whose only unanalyzable part is "
             "dynamic SQL run by EXECUTE in a DO block"]
    lines += [f"{project}: {unreadable[project]}/{count} ({dynamic_only[project]} dynamic EXECUTE only)"
              for project, count in sorted(statements.items())]
    lines += [f"reason ({count}x, e.g. {examples[reason]}): {reason}" for reason, count in reasons.most_common(10)]
    report("unanalyzable_rate", lines, record=not args.no_record)


if __name__ == "__main__":
    main()
