"""Benchmark: `migrator lint` against the squawk CLI, side by side in one run.

Generates a corpus shaped like real migrations (>= 2,000 files, >= 10,000 statements), then
times both linters over the whole corpus (migrator with --no-cache), over the unchanged corpus
again (migrator reading its result cache), and on one small file (cold start), alternating runs
so machine noise hits both alike. Prints the figures and appends them to bench/RESULTS.md.
With --baseline REF the whole-corpus runs also time migrator as it was at a git ref (before a
change, or the code a recorded ratio was measured with), interleaved with the other two.

    python bench/lint_bench.py [--files 2000] [--runs 5] [--baseline REF]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from migrator.lint import lint_workers
from results import report


BIN = Path(sys.executable).parent

TEMPLATES = [
    "CREATE TABLE {t} (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    {c} text NOT NULL,\n"
    "    created_at timestamptz NOT NULL DEFAULT now(),\n    owner_id bigint REFERENCES users (id)\n);",
    "CREATE INDEX {t}_{c}_idx ON {t} ({c});",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {t}_{c}_key ON {t} USING btree ({c}) WHERE deleted_at IS NULL;",
    "ALTER TABLE {t} ADD COLUMN {c} varchar(255);",
    "ALTER TABLE {t} ADD COLUMN {c} integer NOT NULL DEFAULT 0;",
    "ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_fkey FOREIGN KEY ({c}) REFERENCES accounts (id) ON DELETE CASCADE;",
    "ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_check CHECK ({c} > 0) NOT VALID;",
    "ALTER TABLE {t} VALIDATE CONSTRAINT {t}_{c}_check;",
    "ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;",
    "ALTER TABLE {t} ALTER COLUMN {c} TYPE text;",
    "ALTER TABLE {t} DROP COLUMN IF EXISTS {c};",
    "ALTER TABLE {t} RENAME COLUMN {c} TO {c}_old;",
    "DROP INDEX IF EXISTS {t}_{c}_idx;",
    "UPDATE {t} SET {c} = lower({c}) WHERE {c} IS NOT NULL;",
    "INSERT INTO {t} ({c}) VALUES ('a'), ('b');",
    "CREATE TYPE {t}_status AS ENUM ('active', 'inactive');",
    "ALTER TYPE {t}_status ADD VALUE IF NOT EXISTS 'archived';",
    "COMMENT ON COLUMN {t}.{c} IS 'generated';",
    "CREATE OR REPLACE FUNCTION {t}_touch() RETURNS trigger AS $$\nBEGIN\n  NEW.updated_at = now();\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;",
    "DO $$\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = '{t}_kind') THEN\n"
    "    CREATE TYPE {t}_kind AS ENUM ('a', 'b');\n  END IF;\nEND$$;",
]


def make_corpus(folder: Path, files: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    statements = 0
    for index in range(files):
        count = rng.randint(2, 8)
        parts = ["-- generated migration", "SET lock_timeout = '5s';"] if rng.random() < 0.5 else []
        for _ in range(count):
            template = rng.choice(TEMPLATES)
            parts.append(template.format(t=f"table_{rng.randint(1, 300)}", c=f"col_{rng.randint(1, 40)}"))
        statements += count + (1 if len(parts) > count else 0)
        (folder / f"{index:05d}_migration.sql").write_text("\n\n".join(parts) + "\n")
    return statements


CPU_SECONDS: dict[str, list[float]] = {}  # user + system time of each command's runs (its child processes too)


def timed(command: list[str], name: str = "") -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.setdefault(name, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return elapsed


def side_by_side(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median wall time of each command, runs interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    CPU_SECONDS.clear()
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(timed(command, name))
    return {name: statistics.median(values) for name, values in samples.items()}


def checkout(root: Path, ref: str, folder: Path) -> Path:
    """migrator's packages as they were at a git ref, byte-compiled, in folder (for PYTHONPATH)."""
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(root), "archive", ref, "migrator", "lint_rules", "backfill"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)], check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    parser.add_argument("--baseline", metavar="REF", help="also time migrator's code at this git ref, side by side")
    args = parser.parse_args()
    migrator = str(BIN / "migrator")
    squawk = shutil.which("squawk", path=str(BIN)) or shutil.which("squawk")
    if squawk is None:
        sys.exit("squawk not found: pip install -e '.[dev]' installs squawk-cli")
    # Byte-compile as an installed package is: this environment sets PYTHONDONTWRITEBYTECODE, which
    # would otherwise make every "cold" run compile migrator's sources again.
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(root / p) for p in ("migrator", "lint_rules", "backfill"))],
                   check=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        statements = make_corpus(corpus, args.files)
        files = sorted(str(p) for p in corpus.glob("*.sql"))
        small = Path(tmp) / "one.sql"
        small.write_text("SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN nickname text;\n")
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # the runs' own result cache, never the user's
        # warm the OS file cache and Python's bytecode cache once for both (and fill migrator's result cache)
        side_by_side({"migrator": [migrator, "lint", str(corpus)], "squawk": [squawk, *files]}, 1)
        commands = {"migrator": [migrator, "lint", "--no-cache", str(corpus)], "squawk": [squawk, *files]}
        if args.baseline:
            baseline = checkout(root, args.baseline, Path(tmp) / "baseline")
            at_baseline = ["env", f"PYTHONPATH={baseline}", migrator, "lint"]
            # code from before the result cache (2026-12-06) has no --no-cache, and nothing to skip
            has_cache = "--no-cache" in subprocess.run([*at_baseline, "--help"], capture_output=True, text=True).stdout
            commands["baseline"] = [*at_baseline, *(["--no-cache"] if has_cache else []), str(corpus)]
        whole = side_by_side(commands, args.runs)
        whole_cpu = {name: statistics.median(values) for name, values in CPU_SECONDS.items()}
        rerun = side_by_side({"migrator": [migrator, "lint", str(corpus)], "squawk": [squawk, *files]}, args.runs)
        cold = side_by_side({"migrator": [migrator, "lint", "--no-cache", str(small)], "squawk": [squawk, str(small)]},
                            args.runs * 4)
    ratio = whole["migrator"] / whole["squawk"]
    lines = [
        f"corpus: {len(files)} files, {statements} statements",
        f"whole corpus: migrator {whole['migrator']:.3f} s, squawk {whole['squawk']:.3f} s, ratio {ratio:.2f}x (target <= 3x)",
        f"unchanged re-run of the whole corpus (result cache): migrator {rerun['migrator']:.3f} s, "
        f"squawk {rerun['squawk']:.3f} s, ratio {rerun['migrator'] / rerun['squawk']:.2f}x (target <= 1x)",
        f"one small file, cold (new process, bytecode compiled): migrator {cold['migrator'] * 1000:.0f} ms, "
        f"squawk {cold['squawk'] * 1000:.0f} ms (target <= 250 ms)",
        f"migrator throughput: {statements / whole['migrator']:,.0f} statements/s",
    ]
    lines.insert(2, f"what each side uses over the whole corpus: migrator {whole_cpu['migrator']:.2f} s of CPU in "
                    f"1 + {lint_workers()} worker processes, squawk {whole_cpu['squawk']:.2f} s of CPU (its own threads), on "
                    f"{os.cpu_count()} cores; median wall time is what the ratio compares")
    if args.baseline:
        lines.insert(3, f"whole corpus at {args.baseline} (before): migrator {whole['baseline']:.3f} s, "
                        f"ratio {whole['baseline'] / whole['squawk']:.2f}x ({whole_cpu['baseline']:.2f} s of CPU), "
                        "interleaved with the runs above")
    report("lint_bench", lines, record=not args.no_record)


if __name__ == "__main__":
    main()
