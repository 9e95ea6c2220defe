"""Benchmark: the instructions `migrator lint` spends per file, counted by callgrind.

Wall time on a shared machine is noise; instruction counts are not. In one process with each file's
configuration, migrator lints a few files to warm up, then the measured ones; the same run without the
measured files is subtracted (start-up, imports, warm-up), which leaves the work per file: reading,
tokenizing, splitting, analyzing, the rules. Corpora: the generated one of lint_bench.py, and folders of
real migrations given with --corpus (every --every'th *.sql file). With --baseline REF the same is counted
for migrator as it was at a git ref. Prints the figures and appends them to bench/RESULTS.md.

    python bench/lint_instructions.py [--files 400] [--corpus DIR [--every 8]] [--baseline REF]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WARM_UP = 20  # files linted before the measured ones, in both runs


def lint_in_process(list_file: str, measured: bool) -> None:
    """The measured process: lint the warm-up files, then (when measured) the rest of the list."""
    from migrator.config import find_config_file, load_config
    from migrator.lint import Linter

    paths = [Path(line) for line in Path(list_file).read_text().splitlines()]
    linters: dict = {}
    linter_of = {}
    for path in paths:  # configurations are read in both runs alike
        config_file = find_config_file(path.parent)
        if config_file not in linters:
            linters[config_file] = Linter(load_config(config_file) if config_file else load_config(None))
        linter_of[path] = linters[config_file]
    for path in paths[:WARM_UP] + (paths[WARM_UP:] if measured else []):
        linter_of[path].lint_file(path)


def instructions(files: list[Path], code: Path | None, folder: Path) -> int:
    """Instructions per measured file (after the warm-up files), for the code at PYTHONPATH code (None: this tree)."""
    list_file = folder / "files.txt"
    list_file.write_text("\n".join(str(path) for path in files))
    env = dict(os.environ, PYTHONHASHSEED="0", **({"PYTHONPATH": str(code)} if code else {}))
    totals = []
    for measured in (True, False):
        out = folder / f"callgrind.{measured}"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
                        "--in-process", str(list_file), *(["--measured"] if measured else [])],
                       env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        totals.append(int(re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE).group(1)))
    return (totals[0] - totals[1]) // (len(files) - WARM_UP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400, help="generated files measured (after the warm-up)")
    parser.add_argument("--corpus", type=Path, help="a folder of real migrations (projects with their migrator.toml)")
    parser.add_argument("--every", type=int, default=8, help="measure every N'th file of --corpus")
    parser.add_argument("--baseline", metavar="REF", help="also count migrator's code at this git ref")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    parser.add_argument("--in-process", metavar="LIST", help=argparse.SUPPRESS)
    parser.add_argument("--measured", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        lint_in_process(args.in_process, args.measured)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind not found: apt-get install valgrind")
    from lint_bench import checkout, make_corpus
    from results import report

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / "corpus"
        generated.mkdir()
        make_corpus(generated, WARM_UP + args.files)
        corpora = {"generated corpus": sorted(generated.glob("*.sql"))}
        if args.corpus:
            real = sorted(path for path in args.corpus.rglob("*.sql") if path.is_file())[:: args.every]
            corpora[f"{args.corpus} (every {args.every}th file)"] = real
        codes = {"now": None}
        if args.baseline:
            codes[args.baseline] = checkout(root, args.baseline, Path(tmp) / "baseline")
        lines = []
        for name, files in corpora.items():
            counted = {label: instructions(files, code, Path(tmp)) for label, code in codes.items()}
            line = f"{name}, {len(files) - WARM_UP} files: {counted['now'] / 1e6:.2f}M instructions per file"
            if args.baseline:
                before = counted[args.baseline]
                line += f", at {args.baseline} {before / 1e6:.2f}M ({(counted['now'] - before) / before:+.1%})"
            lines.append(line)
        lines.append(f"counted by callgrind: each file's configuration, {WARM_UP} files linted first to warm up, then "
                     "the measured ones, less the same run without them (start-up, imports, warm-up)")
    report("lint_instructions", lines, record=not args.no_record)


if __name__ == "__main__":
    main()
