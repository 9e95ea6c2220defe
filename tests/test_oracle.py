"""PostgreSQL is the judge: every analyzer and rule fixture runs on a live server, on tables with rows.

Each test module may list ORACLE fixtures (lint_rules/*_test.py, tests/test_analyzer.py). For each
PostgreSQL major the machine has (the system's, the pgserver wheel's), every fixture's migration runs in
one transaction on a fresh copy of lint_rules._testing.ORACLE_SCHEMA filled with rows, and
migrator.oracle compares each statement's locks, rewrite, scan and transaction-block refusal with the
analyzer's facts. Any difference fails the test.
"""

from __future__ import annotations

import importlib
import itertools
from pathlib import Path

import psycopg
import pytest

from lint_rules._testing import ORACLE_SCHEMA, oracle_fixtures
from migrator.analysis.reading import STABLE_FUNCTIONS, VOLATILE_FUNCTIONS
from migrator.config import Config
from migrator.context import MigrationContext
from migrator.lint import Linter
from migrator.oracle import Observer, populate
from migrator.sandbox import Cluster, pg_major_version, pgserver_bin_dir
from migrator.testing import SETTINGS

TEMPLATE = "oracle_template"
_numbers = itertools.count(1)


def _bin_dirs() -> dict[int, Path]:
    """One bin directory per PostgreSQL major on this machine."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin")) + [pgserver_bin_dir()]
    found = {}
    for folder in candidates:
        if folder is not None and (folder / "postgres").is_file():
            found.setdefault(pg_major_version(folder), folder)
    return found


VERSIONS = _bin_dirs()
FIXTURES = oracle_fixtures()


@pytest.fixture(scope="module", params=sorted(VERSIONS), ids=lambda v: f"pg{v}")
def server(request):
    """A primary of one PostgreSQL major, with the oracle schema filled with rows as a template database."""
    cluster = Cluster(replicas=0, pg_bin=VERSIONS[request.param], settings=SETTINGS).start()
    with psycopg.connect(cluster.primary.dsn(), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {TEMPLATE}")
    with psycopg.connect(cluster.primary.dsn(TEMPLATE), autocommit=True) as connection:
        connection.execute(ORACLE_SCHEMA)
        assert populate(connection) == []
        connection.execute("REFRESH MATERIALIZED VIEW mv")
    yield request.param, cluster
    cluster.stop()


def judge(cluster, pg_version: int, setup: str, sql: str, tamper=None) -> list[str]:
    """Every disagreement between the analyzer and the server for one migration, statement by statement.

    The migration runs in one transaction that is rolled back, on the template database (or, when the
    fixture has a setup of its own, on a fresh copy of it)."""
    database = TEMPLATE
    if setup:
        database = f"oracle_{next(_numbers)}"
        with psycopg.connect(cluster.primary.dsn(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {database} TEMPLATE {TEMPLATE}")
    try:
        with psycopg.connect(cluster.primary.dsn(database), autocommit=True) as connection:
            if setup:
                connection.execute(setup)
                populate(connection)
            linter = Linter(Config(pg_version=pg_version))
            statements = linter.analyzer.analyze(sql)
            linter.run_rules(statements, MigrationContext(pg_version, wrapped=True))  # facts the migration so far decides
            observer = Observer(connection)
            problems = []
            connection.execute("BEGIN")
            try:
                for statement in statements:
                    assert statement.unanalyzable is None, f"{statement.sql}: {statement.unanalyzable}"
                    if tamper is not None:
                        tamper(statement)
                    observed, expected = observer.run(statement.sql, statement)
                    problems += [f"line {statement.line}: {p}" for p in observer.disagreements(observed, expected)]
            finally:
                connection.execute("ROLLBACK")
            return problems
    finally:
        if setup:
            with psycopg.connect(cluster.primary.dsn(), autocommit=True) as admin:
                admin.execute(f"DROP DATABASE {database} WITH (FORCE)")


def test_the_machine_has_two_majors_to_judge_with():
    assert len(VERSIONS) >= 2, f"PostgreSQL majors found: {sorted(VERSIONS)} (the system's and pgserver's expected)"


@pytest.mark.parametrize("module, setup, sql", FIXTURES, ids=[f"{m}:{sql[:60]}" for m, _, sql in FIXTURES])
def test_postgres_agrees_with_the_analyzer(server, module, setup, sql):
    pg_version, cluster = server
    assert judge(cluster, pg_version, setup, sql) == []


def _weaker_lock(statement):
    for target in statement.locks:
        target.lock = type(target.lock)(target.lock - 1)


def _no_rewrite(statement):
    statement.rewrites = False
    for action in statement.actions:
        action.rewrites = False


def _no_scan(statement):
    statement.scans = False


def _no_refusal(statement):
    statement.no_transaction = None


def _no_partner_lock(statement):
    for action in statement.actions:
        action.partner_lock = None


def _rewrite(statement):
    statement.rewrites = True
    for action in statement.actions:
        action.rewrites = True


@pytest.mark.parametrize("sql, tamper, complaint", [
    ("ALTER TABLE t ADD COLUMN x int", _weaker_lock, "analyzer says EXCLUSIVE, server took ACCESS EXCLUSIVE"),
    ("ALTER TABLE users ALTER COLUMN age TYPE bigint", _no_rewrite, "analyzer says no rewrite; server rewrote users"),
    ("ALTER TABLE users ALTER COLUMN handle TYPE text", _rewrite, "analyzer says a rewrite; server kept every table's file"),
    ("ALTER TABLE t ADD CHECK (a > 0)", _no_scan, "analyzer says no scan; server scanned t"),
    ("VACUUM t", _no_refusal, "server refused it in a transaction block"),
    ("ALTER TABLE users ALTER COLUMN id TYPE bigint", _no_partner_lock,
     "orders: server took ACCESS EXCLUSIVE; the analyzer names no lock on it"),
])
def test_the_oracle_fails_when_a_fact_is_changed_on_purpose(server, sql, tamper, complaint):
    pg_version, cluster = server
    assert judge(cluster, pg_version, "", sql) == []
    problems = judge(cluster, pg_version, "", sql, tamper)
    assert any(complaint in problem for problem in problems), problems


# --- work-while-holding-lock judged by the server ----------------------------------------------
_TOUCHED = "SELECT relid, seq_tup_read + coalesce(idx_tup_fetch, 0) + n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables"
_OWN_LOCKS = """SELECT l.relation, c.relkind, l.mode, i.indrelid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    LEFT JOIN pg_index i ON i.indexrelid = l.relation WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted"""


def _holding_lock_findings_by_the_server(connection, sql: str) -> list[int]:
    """The lines where the server shows what work-while-holding-lock is about: while this transaction holds a
    lock that blocks writes (SHARE or stronger) on a relation that existed before it, a statement read or wrote
    rows, or took a lock (ROW EXCLUSIVE or stronger) on an existing table, sequence or view that the locks it
    held there before do not cover (a lock of ours on a table covers its indexes: queries lock the table first).
    A relation dropped since, gone from pg_class, is not counted: a query that waits for it finds no relation."""
    from migrator.analyzer import Analyzer, Lock
    from migrator.oracle import _lock_mode

    def locks() -> dict[int, tuple[str, set, int | None]]:
        held: dict[int, tuple[str, set, int | None]] = {}
        for oid, relkind, mode, table in connection.execute(_OWN_LOCKS).fetchall():
            held.setdefault(oid, (relkind, set(), table))[1].add(_lock_mode(mode))
        return held

    existing = {row[0] for row in connection.execute("SELECT oid FROM pg_class WHERE oid >= 16384").fetchall()}
    lines = []
    for statement in Analyzer().analyze(sql):
        before, touched = locks(), dict(connection.execute(_TOUCHED).fetchall())
        connection.execute(statement.sql)
        after = locks()
        blocking = any(oid in existing and max(modes) >= Lock.SHARE for oid, (_, modes, _) in before.items())
        rows = any(count > touched.get(oid, 0) for oid, count in connection.execute(_TOUCHED).fetchall())
        waits = [oid for oid, (relkind, modes, _) in after.items() if oid in existing and relkind != "i"
                 and any(mode >= Lock.ROW_EXCLUSIVE and not mode.covered_by(before.get(oid, ("", set(), None))[1])
                         for mode in modes)]
        if blocking and (rows or waits):
            lines.append(statement.line)
    return lines


@pytest.mark.parametrize("sql", importlib.import_module("lint_rules.work_while_holding_lock_test").LIVE)
def test_work_while_holding_lock_flags_what_the_server_shows(server, sql):
    pg_version, cluster = server
    with psycopg.connect(cluster.primary.dsn(TEMPLATE), autocommit=True) as connection:
        connection.execute("BEGIN")
        try:
            by_server = _holding_lock_findings_by_the_server(connection, sql)
        finally:
            connection.execute("ROLLBACK")
    by_lint = [f.line for f in Linter(Config(pg_version=pg_version, select=frozenset({"work-while-holding-lock"})))
               .lint_text(sql, "test.sql").findings]
    assert by_lint == by_server


def test_the_functions_read_as_not_volatile_are_so_on_the_server(server):
    """STABLE_FUNCTIONS against pg_proc: none volatile, with the argument counts the server has (SQL's own
    call forms, not in pg_proc, are called with as many arguments as the table allows and one more); every
    VOLATILE_FUNCTIONS name the server has is volatile."""
    _, cluster = server
    with psycopg.connect(cluster.primary.dsn(TEMPLATE), autocommit=True) as connection:
        def signatures(name):
            return connection.execute(
                "SELECT provolatile, pronargs - pronargdefaults, CASE WHEN provariadic = 0 THEN pronargs END "
                "FROM pg_proc WHERE proname = %s AND pronamespace = 'pg_catalog'::regnamespace", (name,)).fetchall()

        def accepts(name, arguments):
            try:
                connection.execute(f"SELECT {name}({', '.join(['1'] * arguments)})")
            except psycopg.Error:
                return False
            return True

        for name, (fewest, most) in STABLE_FUNCTIONS.items():
            rows = signatures(name)
            if rows:
                assert "v" not in {volatility for volatility, _, _ in rows}, name
                assert fewest == min(low for _, low, _ in rows), name
                assert most == (None if any(high is None for _, _, high in rows) else max(high for _, _, high in rows)), name
            else:
                assert accepts(name, fewest) and (most is None or accepts(name, most)), name
                assert not accepts(name, fewest - 1) and (most is None or not accepts(name, most + 1)), name
        volatile = {name: signatures(name) for name in VOLATILE_FUNCTIONS}
        assert {name for name, rows in volatile.items() if rows} >= {"random", "clock_timestamp", "nextval"}
        assert all(volatility == "v" for rows in volatile.values() for volatility, _, _ in rows), volatile
