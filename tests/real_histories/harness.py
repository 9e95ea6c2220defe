"""Real Alembic histories from published packages, applied by `migrator apply` and by plain `alembic upgrade`.

Each history is run, unedited, on two fresh databases of the sandbox: one by the migrator CLI,
one by the Alembic CLI, both as subprocesses of this interpreter. PostgreSQL judges the result:
`pg_dump --schema-only` of both (migrator's own schema left out), the catalog's validity flags
and the version table. Used by tests/test_real_histories.py and bench/real_histories.py.
"""

from __future__ import annotations

import configparser
import difflib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from migrator.sandbox import Cluster, find_pg_bin

HERE = Path(__file__).resolve().parent
# pg_dump 15.14+ writes a random \restrict key unless one is given: the same key on both sides.
RESTRICT_KEY = "realhistories"


def _installed(package: str, *parts: str) -> Path:
    """A path inside an installed package; a path naming the missing package where it is not
    installed (an interpreter for the apps alone), which fails only if that history is run."""
    spec = importlib.util.find_spec(package)
    return Path(spec.submodule_search_locations[0] if spec else f"({package} is not installed)", *parts)


@dataclass(frozen=True)
class History:
    """One project's migrations: where its scripts and its alembic.ini are, and how its env.py is told the URL."""

    name: str
    release: str  # the published release the migrations come from
    script_location: Path
    ini: Path  # the project's own alembic.ini (or the one its documentation gives)
    # The lowest revision plain `alembic downgrade` reaches from head ("base" when every
    # downgrade works), for the round trip; None when the project has no downgrades.
    downgrade_to: str | None = None
    version_table: str = "alembic_version"
    options: dict[str, str] = field(default_factory=dict)  # more [alembic] options, as the project's own code sets them
    # Environment both CLIs get, for projects whose env.py reads its URL from there; {url} and
    # {folder} (a folder of the run's own) are filled in.
    env: dict[str, str] = field(default_factory=dict)
    driver: str = "psycopg"  # the SQLAlchemy driver of the URL env.py gets
    # Breaking-change rules that refuse the way back to head: upgrades dropping or renaming what
    # exists at the bottom of the round trip (a downgrade re-added it). migrator must refuse them
    # there, and the round trip goes on with `--ignore` these rules, as a user accepting them would.
    round_trip_ignores: tuple[str, ...] = ()
    # Patterns of what revisions write from the clock as they run (a default of "now" taken in
    # Python): masked in both dumps, since two runs never agree on them.
    clock_literals: tuple[str, ...] = ()

    def dump(self, dsn: str) -> str:
        """The database's schema_dump, the history's clock_literals masked."""
        dump = schema_dump(dsn)
        for pattern in self.clock_literals:
            dump = re.sub(pattern, "<the time the revision ran>", dump)
        return dump

    def prepare(self, folder: Path, dsn: str) -> "Side":
        """The project's ini with its script location made absolute and the database URL filled in."""
        url = dsn.replace("postgresql://", f"postgresql+{self.driver}://", 1)
        parser = configparser.RawConfigParser()
        parser.read(self.ini)
        parser.set("alembic", "script_location", str(self.script_location))
        parser.set("alembic", "sqlalchemy.url", url)
        for name, value in self.options.items():
            parser.set("alembic", name, value)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.ini"
        with path.open("w") as handle:
            parser.write(handle)
        return Side(path, dsn, {name: value.format(url=url, folder=folder) for name, value in self.env.items()}, url)


@dataclass(frozen=True)
class Side:
    """One database and the ini (and environment) that point a project at it."""

    ini: Path
    dsn: str
    env: dict[str, str]
    url: str  # the DSN with the project's driver: what migrator apply is given, so env.py gets that driver


HISTORIES = [
    # Zuul CI's build database (Apache-2.0), 38 revisions: tables, indexes, column type changes,
    # data moved with INSERT ... SELECT; env.py passes table_prefix to the revisions and names
    # the version table. Its downgrades raise.
    History("zuul", "zuul 14.3.0", HERE / "zuul" / "alembic", HERE / "zuul" / "alembic.ini"),
    # Optuna's RDB storage (MIT), 10 revisions: enums, batch mode, data migrations through the ORM
    # on op.get_bind(). Its env.py imports optuna, which the dev extras install, so the installed
    # package's own folder is used. Its downgrades work down to v3.0.0.c, whose own fails upstream.
    History("optuna", "optuna 5.1.0", _installed("optuna", "storages", "_rdb", "alembic"),
            _installed("optuna", "storages", "_rdb", "alembic.ini"), downgrade_to="v3.0.0.c"),
    # DBOS Transact's system database (MIT), 15 revisions: a schema of its own, tables, PL/pgSQL
    # triggers and functions, partial indexes, a table rename, column defaults.
    History("dbos", "dbos 1.14.0", HERE / "dbos" / "migrations", HERE / "dbos" / "alembic.ini", downgrade_to="base"),
    # TruLens' database (MIT), 13 revisions: prefixed tables, data migrations, NOT NULL added after
    # a backfill. Its env.py prefers an engine from config.attributes, names its own version table
    # and passes config= to every upgrade(); the prefix is the main option its own code sets.
    # Installed by the dev extras. Its downgrades work down to 4, whose own fails upstream.
    History("trulens", "trulens-core 2.16.0", _installed("trulens", "core", "database", "migrations"),
            _installed("trulens", "core", "database", "migrations", "alembic.ini"),
            version_table="trulens_alembic_version", options={"trulens.table_prefix": "trulens_"}, downgrade_to="4"),
]


def app_histories() -> list[History]:
    """Histories of applications too large for the dev extras: bench/real_histories.py --apps runs
    them with an interpreter that has them: a venv made with `pip install --no-deps -e . -r bench/apps-requirements.txt`."""
    airflow = _installed("airflow")
    aodh = _installed("aodh", "storage", "sqlalchemy", "alembic")
    ckan = _installed("ckan", "migration")
    placement = _installed("placement", "db", "sqlalchemy")
    masakari = _installed("masakari", "db", "sqlalchemy")
    heat = _installed("heat", "db")
    return [
        # Apache Airflow's metadata database (Apache-2.0), 124 revisions from a squashed 2.6.2
        # base. Its env.py takes the connection from config.attributes["connection"], else its own
        # settings' engine, whose URL comes from the environment (its settings derive an asyncpg
        # URL from it, so asyncpg is installed). Its revisions need psycopg2's untyped parameters
        # and SQLAlchemy 2.0 (2.1 casts string parameters to VARCHAR). Its downgrades work down to
        # the squashed base, whose own fails upstream; the 3.0 upgrades back from there drop and
        # rename tables and columns that base has (Airflow upgrades with its components stopped).
        History("airflow", "apache-airflow-core 3.3.2", airflow / "migrations", airflow / "alembic.ini", driver="psycopg2",
                env={"AIRFLOW_HOME": "{folder}/airflow-home", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "{url}"},
                downgrade_to="4bc4d934e2bc",
                round_trip_ignores=("drop-column", "rename-column", "rename-table", "drop-table")),
        # OpenStack Aodh's alarm database (Apache-2.0), 10 revisions: tables, indexes, a column type
        # change, a foreign key re-created with ON DELETE CASCADE after reading the live constraints
        # (sa.inspect on op.get_bind()). Its env.py imports its models (oslo.utils, oslo.config,
        # oslo.db; installed with --no-deps beside them). Revision 006 makes the time it ran the
        # default of alarm.evaluate_timestamp. It has no downgrades.
        History("aodh", "aodh 23.0.0", aodh, aodh / "alembic.ini",
                clock_literals=(r"(?<=evaluate_timestamp timestamp without time zone DEFAULT )'[0-9: .-]+'",)),
        # CKAN's catalogue database (AGPL-3.0), 109 revisions, PostgreSQL only: tables, foreign
        # keys, indexes, data migrations in SQL and through op.get_bind(). Its env.py imports its
        # model (init_model on env.py's engine) and plugin registry. Its downgrades work down to
        # 038, whose own fails upstream (DuplicateColumnError on harvested_document); on the way
        # 105's drops an unnamed foreign key by EXECUTE format() in a DO block. Back up, the
        # upgrades drop and rename tables and columns 038 has.
        History("ckan", "ckan 2.12.0", ckan, ckan / "alembic.ini", driver="psycopg2", downgrade_to="fd6622e3d964",
                round_trip_ignores=("drop-table", "rename-table", "rename-column", "drop-column")),
        # OpenStack Placement's database (Apache-2.0), 5 revisions: tables with unique constraints,
        # indexes dropped as redundant, data checks that raise on NULLs. Its env.py makes its own
        # engine from oslo.config (the URL from OS_PLACEMENT_DATABASE__CONNECTION). No downgrades.
        History("placement", "openstack-placement 16.0.0", placement / "alembic", placement / "alembic.ini",
                env={"OS_PLACEMENT_DATABASE__CONNECTION": "{url}"}),
        # OpenStack Masakari's database (Apache-2.0), 3 revisions: tables with enums, foreign keys and
        # indexes, columns added; its env.py names its own version table and imports its models
        # (oslo.db, oslo.service, eventlet, keystoneauth1). No downgrades.
        History("masakari", "masakari 22.0.0", masakari / "migrations", masakari / "alembic.ini",
                version_table="masakari_alembic_version"),
        # OpenStack Heat's orchestration database (Apache-2.0), 4 revisions: a squashed initial
        # schema (30 tables, foreign keys, indexes), a table added on existing ones, a column added
        # and filled through op.get_bind() with a reflected table. Its env.py connects with
        # sqlalchemy.url (Alembic's cookbook) and imports its models, which need nothing beyond
        # the oslo libraries above. Its downgrades work down to the initial revision, which has none.
        History("heat", "openstack-heat 27.0.1", heat / "migrations", heat / "alembic.ini", downgrade_to="c6214ca60943"),
    ]


def create_database(cluster: Cluster, name: str) -> str:
    cluster.query(cluster.primary, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    cluster.query(cluster.primary, f"CREATE DATABASE {name}")
    return cluster.primary.dsn(name)


def drop_database(cluster: Cluster, name: str) -> None:
    cluster.query(cluster.primary, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class Run:
    """One CLI run: its exit status, output and wall time."""

    title: str  # the command as a person would type it (no interpreter, ini or DSN)
    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def failure(self) -> str:
        """The last lines of what a failed run said."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return " / ".join(text[-6:])

    def events(self) -> list[dict]:
        """The JSON events of `migrator apply --log-format json` (other lines on stdout are skipped)."""
        found = []
        for line in self.stdout.splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found


def run(title: str, command: list[str], side: Side, timeout: float = 900) -> Run:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=side.ini.parent, timeout=timeout,
                            env={**os.environ, **side.env})
    return Run(title, command, result.returncode, result.stdout, result.stderr, time.perf_counter() - started)


def alembic(side: Side, *arguments: str) -> Run:
    return run(" ".join(("alembic", *arguments)), [sys.executable, "-m", "alembic", "-c", str(side.ini), *arguments], side)


def migrator_apply(side: Side, *arguments: str) -> Run:
    return run(" ".join(("migrator apply", *arguments)), [sys.executable, "-m", "migrator", "apply", str(side.ini),
                                                          "--dsn", side.url, "--log-format", "json", *arguments], side)


def schema_dump(dsn: str) -> str:
    """`pg_dump --schema-only` without migrator's own schema."""
    result = subprocess.run([str(find_pg_bin() / "pg_dump"), "--schema-only", "--exclude-schema=migrator",
                             f"--restrict-key={RESTRICT_KEY}", "--dbname", dsn],
                            capture_output=True, text=True, check=True, timeout=120)
    return result.stdout


def schema_diff(expected: str, actual: str, limit: int = 80) -> str:
    """A unified diff of two dumps (alembic's first), cut to `limit` lines; empty when identical."""
    lines = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), "alembic upgrade", "migrator apply",
                                      lineterm="", n=2))
    return "\n".join(lines[:limit] + ([f"... {len(lines) - limit} more lines"] if len(lines) > limit else []))


def not_valid(dsn: str) -> list[str]:
    """Constraints left NOT VALID and indexes left INVALID, outside migrator's schema."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        rows = connection.execute("""
            SELECT 'constraint ' || conname || ' on ' || conrelid::regclass FROM pg_constraint c
            JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE NOT convalidated AND n.nspname NOT IN ('migrator', 'pg_catalog', 'information_schema')
            UNION ALL
            SELECT 'index ' || indexrelid::regclass FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT (indisvalid AND indisready) AND n.nspname NOT IN ('migrator', 'pg_catalog', 'information_schema')
            ORDER BY 1""").fetchall()
    return [row[0] for row in rows]


def versions(dsn: str, table: str) -> list[str] | None:
    """The rows of the version table, sorted; None when there is no such table."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        if connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            return None
        return sorted(row[0] for row in connection.execute(f'SELECT version_num FROM "{table}"'))


def revision_count(history: History) -> int:
    from alembic.script import ScriptDirectory

    return sum(1 for _ in ScriptDirectory(str(history.script_location)).walk_revisions())


def upgrade_order(history: History) -> list[str]:
    """The history's revisions in the order `alembic upgrade head` runs them."""
    from alembic.script import ScriptDirectory

    return [script.revision for script in ScriptDirectory(str(history.script_location)).walk_revisions()][::-1]


@dataclass
class Comparison:
    """`migrator apply` against `alembic upgrade head` for one history, judged by PostgreSQL."""

    history: History
    sides: tuple[Side, Side]  # alembic's database, migrator's
    alembic: Run
    migrator: Run
    again: Run | None = None  # the second `migrator apply`, when the first succeeded
    diff: str = ""  # pg_dump --schema-only, alembic's against migrator's
    not_valid: list[str] = field(default_factory=list)
    alembic_versions: list[str] | None = None
    migrator_versions: list[str] | None = None
    again_diff: str = ""  # what the second apply changed

    @property
    def statements(self) -> int:
        return sum(1 for event in self.migrator.events() if event.get("event") == "step")

    @property
    def online_forms(self) -> int:
        """Steps run in an online form (CONCURRENTLY, NOT VALID, VALIDATE, USING INDEX)."""
        return sum(1 for event in self.migrator.events() if event.get("event") == "step"
                   and any(marker in event["sql"] for marker in ONLINE_MARKERS))

    @property
    def refusals(self) -> list[str]:
        return [line for line in (self.migrator.stderr + self.migrator.stdout).splitlines() if "refused by" in line]

    @property
    def again_applied(self) -> list[str] | None:
        """What the second apply says it applied (its summary event)."""
        for event in self.again.events() if self.again else []:
            if event.get("event") == "summary":
                return event.get("applied")
        return None


ONLINE_MARKERS = ("CONCURRENTLY", "NOT VALID", "VALIDATE CONSTRAINT", "USING INDEX")


def compare_upgrade(cluster: Cluster, history: History, folder: Path) -> Comparison:
    """Both tools to head on two fresh databases; the dumps, the catalog and the version tables compared."""
    a, m = (history.prepare(folder / tool, create_database(cluster, f"{history.name}_{tool}"))
            for tool in ("alembic", "migrator"))
    comparison = Comparison(history, (a, m), alembic(a, "upgrade", "head"), migrator_apply(m))
    dump_a, dump_m = history.dump(a.dsn), history.dump(m.dsn)
    comparison.diff = schema_diff(dump_a, dump_m)
    comparison.not_valid = not_valid(m.dsn)
    comparison.alembic_versions = versions(a.dsn, history.version_table)
    comparison.migrator_versions = versions(m.dsn, history.version_table)
    if comparison.migrator.returncode == 0:
        comparison.again = migrator_apply(m)
        comparison.again_diff = schema_diff(dump_m, history.dump(m.dsn))
    return comparison


def drop_databases(cluster: Cluster, comparison: Comparison) -> None:
    for side in comparison.sides:
        drop_database(cluster, side.dsn.rsplit("/", 1)[1])


@dataclass
class RoundTrip:
    """Downgrade as far as the project goes and upgrade to head again, each tool on its own database."""

    alembic_runs: list[Run]
    migrator_runs: list[Run]  # down, then up to head (with --ignore the history's round_trip_ignores)
    bottom_diff: str  # the dumps at the bottom of the round trip
    head_diff: str  # the dumps back at head
    not_valid: list[str]
    alembic_versions: list[str] | None
    migrator_versions: list[str] | None
    refused: Run | None = None  # the way back to head without --ignore, when the history has round_trip_ignores


def round_trip(comparison: Comparison) -> RoundTrip:
    """`alembic downgrade REV` + `upgrade head` against `migrator apply --to REV` + `--to head`,
    REV being the history's downgrade_to.

    `--to` an older (or relative) revision runs Alembic's downgrades. A history whose way back
    drops or renames what the downgrade re-added goes up twice: first as is, which must be refused
    by one of its round_trip_ignores, then with `--ignore` them, as a user who read the refusal would."""
    history, (a, m) = comparison.history, comparison.sides
    alembic_runs = [alembic(a, "downgrade", history.downgrade_to)]
    migrator_runs = [migrator_apply(m, "--to", history.downgrade_to)]
    bottom_diff = schema_diff(history.dump(a.dsn), history.dump(m.dsn))
    alembic_runs.append(alembic(a, "upgrade", "head"))
    refused = migrator_apply(m, "--to", "head") if history.round_trip_ignores else None
    accepted = ("--ignore", ",".join(history.round_trip_ignores)) if history.round_trip_ignores else ()
    migrator_runs.append(migrator_apply(m, "--to", "head", *accepted))
    return RoundTrip(alembic_runs, migrator_runs, bottom_diff, schema_diff(history.dump(a.dsn), history.dump(m.dsn)),
                     not_valid(m.dsn), versions(a.dsn, history.version_table), versions(m.dsn, history.version_table),
                     refused)


def refused_by(run: Run) -> str | None:
    """The rule that refused a failed `migrator apply`, if a rule did."""
    match = re.search(r"refused by ([a-z0-9-]+)", run.stderr + run.stdout)
    return match[1] if run.returncode != 0 and match else None


def _divergences(runs: list[Run], diffs: dict[str, str], left_not_valid: list[str],
                 versions: tuple[list[str] | None, list[str] | None]) -> list[str]:
    """What the runs, the dumps (by where they were taken), the catalog and the version tables
    (alembic's, migrator's) say went differently, in words."""
    found = [f"{run.title} exited {run.returncode}: {run.failure}" for run in runs if run.returncode != 0]
    found += [f"schemas differ {where}:\n{diff}" for where, diff in diffs.items() if diff]
    if left_not_valid:
        found.append(f"left NOT VALID / INVALID: {left_not_valid}")
    if versions[0] != versions[1]:
        found.append(f"version tables differ: {versions[0]} vs {versions[1]}")
    return found


def upgrade_divergences(comparison: Comparison) -> list[str]:
    """Where `migrator apply` to head did not do what `alembic upgrade head` did, in words (empty: none)."""
    found = _divergences([comparison.alembic, comparison.migrator], {"at head": comparison.diff}, comparison.not_valid,
                         (comparison.alembic_versions, comparison.migrator_versions))
    found += [f"refusal: {line}" for line in comparison.refusals]
    if comparison.again is not None and (comparison.again.returncode != 0 or comparison.again_applied != []
                                         or comparison.again_diff):
        found.append(f"the second apply is not a no-op: exit {comparison.again.returncode}, applied "
                     f"{comparison.again_applied}, changed:\n{comparison.again_diff}")
    return found


def round_trip_divergences(history: History, trip: RoundTrip) -> list[str]:
    """Where the round trip under migrator differs from Alembic's, or a breaking change on the way
    back was not refused (empty: none)."""
    found = _divergences(trip.alembic_runs + trip.migrator_runs,
                         {f"at {history.downgrade_to}": trip.bottom_diff, "back at head": trip.head_diff},
                         trip.not_valid, (trip.alembic_versions, trip.migrator_versions))
    if trip.refused is not None and refused_by(trip.refused) not in history.round_trip_ignores:
        found.append(f"the way back to head without --ignore was not refused by {', '.join(history.round_trip_ignores)}: "
                     f"exit {trip.refused.returncode}: {trip.refused.failure}")
    return found


@dataclass
class Stepwise:
    """`migrator apply --to REV` for one revision after another, each on the tables the ones before made."""

    runs: list[Run]
    accepted: list[str]  # the rules whose refusals were accepted with --ignore, in the order they refused
    diff: str  # alembic's database at head against this one
    not_valid: list[str]
    versions: list[str] | None

    @property
    def online_forms(self) -> int:
        return sum(1 for run in self.runs for event in run.events() if event.get("event") == "step"
                   and any(marker in event["sql"] for marker in ONLINE_MARKERS))


def stepwise(cluster: Cluster, comparison: Comparison, folder: Path) -> Stepwise:
    """The history applied revision by revision with `--small-table 0` on a third database: each
    revision's statements on tables of earlier runs take their online form (or are refused: a
    refusal by a rule is accepted with `--ignore` it, as a user who read it would), where one run
    to head creates every table itself and so rewrites nothing. Compared with alembic's database at
    head (taken before the round trip moves it)."""
    history, alembic_side = comparison.history, comparison.sides[0]
    name = f"{history.name}_stepwise"
    side = history.prepare(folder / "stepwise", create_database(cluster, name))
    runs, accepted = [], []
    try:
        for revision in upgrade_order(history):
            while True:
                run = migrator_apply(side, "--small-table", "0", "--to", revision,
                                     *(["--ignore", ",".join(accepted)] if accepted else []))
                rule = refused_by(run)
                if rule is None or rule in accepted:
                    break
                accepted.append(rule)
            runs.append(run)
            if run.returncode != 0:
                break
        return Stepwise(runs, accepted, schema_diff(history.dump(alembic_side.dsn), history.dump(side.dsn)),
                        not_valid(side.dsn), versions(side.dsn, history.version_table))
    finally:
        drop_database(cluster, name)


def stepwise_divergences(comparison: Comparison, steps: Stepwise) -> list[str]:
    """Where the revision-by-revision apply ended elsewhere than `alembic upgrade head` (empty: nowhere)."""
    return _divergences(steps.runs, {"at head, revision by revision": steps.diff}, steps.not_valid,
                        (comparison.alembic_versions, steps.versions))
