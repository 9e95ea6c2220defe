"""Printing a benchmark's figures and appending them, dated, to bench/RESULTS.md."""

from __future__ import annotations

import datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def report(benchmark: str, lines: list[str], record: bool = True) -> None:
    print("\n".join(lines))
    if record:
        with RESULTS.open("a") as out:
            out.write(f"\n## {benchmark}, {datetime.date.today().isoformat()}\n\n" + "".join(f"- {line}\n" for line in lines))
