"""Benchmark: what `migrator lint` finds on real migration files, per rule and per project.

Lints a corpus folder (one subfolder per project, gathered as bench/unanalyzable_rate.py says) with
`migrator lint --format json` itself, so each project's own `migrator.toml` applies: put the
migration tool that applies its files there (`runner = "psql"` for files run by `psql -f`), as a
user would. Prints the findings per rule and per project and appends them to bench/RESULTS.md, so
the count of wrong findings found by reading them can be measured again after a fix.

    python bench/corpus_findings.py CORPUS [--select RULES] [--no-record]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from results import report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--pg-version", type=int, default=15)
    parser.add_argument("--select", help="rules to run, comma-separated (default: the rules on by default)")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to bench/RESULTS.md")
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    files = sorted(corpus.rglob("*.sql"))
    if not files:
        sys.exit(f"{args.corpus}: no .sql files")
    command = [sys.executable, "-m", "migrator", "lint", "--no-cache", "--format", "json",
               "--pg-version", str(args.pg_version), str(corpus)] + (["--select", args.select] if args.select else [])
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode not in (0, 1):
        sys.exit(f"migrator lint failed ({run.returncode}): {run.stderr.strip()[-500:]}")
    findings = json.loads(run.stdout)
    per_rule = Counter(f["rule"] for f in findings)
    per_project: dict[str, Counter] = {}
    for finding in findings:
        project = Path(finding["path"]).relative_to(corpus).parts[0]
        per_project.setdefault(project, Counter())[finding["rule"]] += 1
    projects = Counter(path.relative_to(corpus).parts[0] for path in files)
    lines = [f"{len(files)} files from {len(projects)} projects: {len(findings)} findings"]
    lines += [f"{rule}: {count}" for rule, count in per_rule.most_common()]
    lines += [f"{project} ({projects[project]} files): {sum(per_project.get(project, Counter()).values())} findings; "
              + ", ".join(f"{rule} {count}" for rule, count in per_project.get(project, Counter()).most_common())
              for project in sorted(projects)]
    report("corpus_findings", lines, record=not args.no_record)


if __name__ == "__main__":
    main()
