"""Report: real Alembic histories from published packages, `migrator apply` against `alembic upgrade head`.

For each history of tests/real_histories/harness.py, on two fresh databases of a sandbox: the
revisions, the statements migrator ran and how many of them in an online form (CONCURRENTLY,
NOT VALID, VALIDATE, USING INDEX), its refusals, the wall time of each tool side by side, and
what PostgreSQL says of the result (pg_dump --schema-only identical, every constraint validated
and index valid, the version table equal, a second apply a no-op). Where the project's downgrades
work under plain Alembic, both go down as far as they work (`migrator apply --to REV`, REV
often base) and back to head (`--to head`), and are compared at each end.

--probe lists every failure of a history, not only the first: it runs `migrator apply --to REV`
for each revision in turn and lets plain `alembic upgrade REV` finish a revision that failed.

--stepwise also applies each history revision by revision with `--small-table 0` on a third
database, accepting each refusal by a rule with `--ignore` it, and compares it with alembic's at
head: there every statement on a table of an earlier revision takes its online form, which one
apply to head (whose run created every table) never does.

--apps runs the applications too large for the dev extras instead (harness.app_histories():
Airflow, Aodh, CKAN, Placement, Masakari, Heat), from an interpreter that has them: `pip install --no-deps -e . -r bench/apps-requirements.txt`.
--check exits 1 on any divergence (a failure or refusal, a schema diff, NOT VALID, the version
tables, a second apply that is not a no-op, a broken round trip); CI runs `--apps --check`.

    python bench/real_histories.py [--probe] [--stepwise] [--only NAME[,NAME]] [--apps] [--check] [--no-record]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migrator.sandbox import Cluster  # noqa: E402
from results import report  # noqa: E402
from tests.real_histories import harness  # noqa: E402


def _short(text: str) -> str:
    """Paths in messages shown from the repository root or the venv's site-packages."""
    import sysconfig

    return text.replace(sysconfig.get_paths()["purelib"] + "/", "site-packages/").replace(f"{ROOT}/", "")


def _status(run: harness.Run) -> str:
    return "ok" if run.returncode == 0 else f"FAILED ({_short(run.failure)})"


def _excerpt(diff: str) -> str:
    """The first changed SQL lines of a unified diff (pg_dump's comments and blank lines left out), on one line."""
    return " | ".join(line for line in diff.splitlines()[2:]
                      if line[:1] in "+-" and line[1:].strip() and not line[1:].startswith("--"))[:400]


def _one_line(divergence: str) -> str:
    """A divergence on one line: its first line, then the changed lines of the diff below it, if any."""
    first, _, diff = divergence.partition("\n")
    return _short(first) + (f" {_excerpt(diff)}" if diff else "")


def _verdict(divergences: list[str], agreed: str) -> str:
    return agreed if not divergences else "DIVERGES: " + "; ".join(_one_line(d) for d in divergences)


def upgrade_lines(comparison: harness.Comparison, divergences: list[str]) -> list[str]:
    history, alembic_run, migrator_run = comparison.history, comparison.alembic, comparison.migrator
    head = (f"{history.name} ({history.release}, {harness.revision_count(history)} revisions): "
            f"alembic upgrade head {alembic_run.seconds:.2f} s {_status(alembic_run)}; ")
    if migrator_run.returncode != 0:
        refused = "refused" if comparison.refusals else "failed"
        return [head + f"migrator apply {refused} after {migrator_run.seconds:.2f} s, {comparison.statements} "
                f"statements run: {_short(migrator_run.failure)}"]
    agreed = (f"schema identical; every constraint validated and index valid; {history.version_table} equal; "
              "second apply a no-op")
    return [head + f"migrator apply {migrator_run.seconds:.2f} s ({migrator_run.seconds / alembic_run.seconds:.2f}x), "
            f"{comparison.statements} statements, {comparison.online_forms} rewritten to an online form, "
            f"{len(comparison.refusals)} refusals; " + _verdict(divergences, agreed)]


def round_trip_lines(history: harness.History, trip: harness.RoundTrip, divergences: list[str]) -> list[str]:
    alembic_seconds = sum(run.seconds for run in trip.alembic_runs)
    migrator_seconds = sum(run.seconds for run in trip.migrator_runs)
    runs = [f"{run.title} {run.seconds:.2f} s {_status(run)}" for run in trip.alembic_runs]
    runs.append(f"{trip.migrator_runs[0].title} {trip.migrator_runs[0].seconds:.2f} s {_status(trip.migrator_runs[0])}")
    if trip.refused is not None:
        where = re.search(r"(\S+:\d+): refused by", trip.refused.failure)
        runs.append(f"{trip.refused.title} refused by {harness.refused_by(trip.refused) or 'NOTHING'}"
                    f"{f' ({_short(where[1])})' if where else ''}")
    runs.append(f"{trip.migrator_runs[1].title} {trip.migrator_runs[1].seconds:.2f} s {_status(trip.migrator_runs[1])}")
    agreed = "identical at the bottom and back at head; all valid; versions equal"
    return [f"{history.name} round trip to {history.downgrade_to} and back: " + "; ".join(runs)
            + f"; migrator {migrator_seconds:.2f} s against alembic's {alembic_seconds:.2f} s "
            f"({migrator_seconds / alembic_seconds:.2f}x); " + _verdict(divergences, agreed)]


def stepwise_lines(history: harness.History, steps: harness.Stepwise, divergences: list[str]) -> list[str]:
    accepted = f"refusals accepted with --ignore {','.join(steps.accepted)}" if steps.accepted else "no refusals"
    agreed = "schema identical to alembic's at head; every constraint validated and index valid; versions equal"
    return [f"{history.name} revision by revision (--small-table 0): {len(steps.runs)} applies, "
            f"{sum(run.seconds for run in steps.runs):.2f} s, {steps.online_forms} statements in an online form, {accepted}; "
            + _verdict(divergences, agreed)]


def probe_lines(cluster: Cluster, history: harness.History, folder: Path) -> list[str]:
    """`migrator apply --to REV` for each revision in turn; one that fails is finished by plain
    `alembic upgrade REV`, so every failure of the history is listed, not only the first."""
    side = history.prepare(folder / "probe", harness.create_database(cluster, f"{history.name}_probe"))
    failures = []
    try:
        for revision in harness.upgrade_order(history):
            run = harness.migrator_apply(side, "--to", revision)
            if run.returncode == 0:
                continue
            failures.append(f"{revision}: {_short(run.failure)}")
            if "/versions/" not in run.failure:  # not this revision's own failure: every one would repeat it
                failures.append("(names no revision: the probe stops here)")
                break
            finish = harness.alembic(side, "upgrade", revision)
            if finish.returncode != 0:
                failures.append(f"{revision}: plain `alembic upgrade {revision}` then failed too (left half-applied?): "
                                f"{_short(finish.failure)}")
                break
    finally:
        harness.drop_database(cluster, f"{history.name}_probe")
    return [f"{history.name} probe, revision by revision: {len(failures)} failures"
            + "".join(f"\n  - {failure}" for failure in failures)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", action="store_true", help="list every failure, finishing each failing revision with alembic")
    parser.add_argument("--stepwise", action="store_true", help="also revision by revision with --small-table 0 (online forms)")
    parser.add_argument("--only", help="comma-separated history names")
    parser.add_argument("--apps", action="store_true", help="the histories of harness.app_histories() instead (installed by hand)")
    parser.add_argument("--check", action="store_true", help="exit 1 on any divergence from alembic (CI)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    histories = harness.app_histories() if args.apps else harness.HISTORIES
    chosen = [h for h in histories if not args.only or h.name in args.only.split(",")]
    lines, diverged = [], []
    with Cluster(replicas=0) as cluster, tempfile.TemporaryDirectory() as folder:
        for history in chosen:
            comparison = harness.compare_upgrade(cluster, history, Path(folder) / history.name)
            try:
                divergences = harness.upgrade_divergences(comparison)
                lines += upgrade_lines(comparison, divergences)
                if args.stepwise:  # before the round trip moves alembic's database
                    steps = harness.stepwise(cluster, comparison, Path(folder) / history.name)
                    steps_divergences = harness.stepwise_divergences(comparison, steps)
                    lines += stepwise_lines(history, steps, steps_divergences)
                    divergences += steps_divergences
                if history.downgrade_to and comparison.migrator.returncode == 0:
                    trip = harness.round_trip(comparison)
                    trip_divergences = harness.round_trip_divergences(history, trip)
                    lines += round_trip_lines(history, trip, trip_divergences)
                    divergences += trip_divergences
                elif history.downgrade_to:
                    lines.append(f"{history.name} round trip to {history.downgrade_to} and back: not run (apply to head failed)")
            finally:
                harness.drop_databases(cluster, comparison)
            if divergences:
                diverged.append(history.name)
            if args.probe:
                lines += probe_lines(cluster, history, Path(folder) / history.name)
    report("real_histories", lines, record=not args.no_record)
    if args.check:  # one history passes when nothing of it diverged from alembic
        print(f"real_histories: {len(chosen) - len(diverged)} passed, {len(diverged)} failed"
              + (f" ({', '.join(diverged)}: above)" if diverged else ""))
        sys.exit(1 if diverged else 0)


if __name__ == "__main__":
    main()
