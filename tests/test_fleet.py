"""Fleets on the sandbox: `migrator apply --fleet` over many databases and tenant schemas, canary
first, several runners sharing one rollout through PostgreSQL."""

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from migrator.fleet import FleetError, FleetView, Target, load_fleet_file
from migrator.testing import TEMPLATE
from tests.test_executor import Reader
from tests.test_gates import start_fill_b
from tests.real_histories.harness import schema_dump
from tests.test_executor_alembic import add_revision, project

CLI = [sys.executable, "-m", "migrator"]
MIGRATIONS = {  # a history with a rewrite: ADD CHECK on a table becomes NOT VALID + VALIDATE when big
    "0001_items.sql": "CREATE TABLE items (id bigint PRIMARY KEY, v integer NOT NULL);",
    "0002_note.sql": "ALTER TABLE items ADD COLUMN note text;",
    "0003_check.sql": "ALTER TABLE items ADD CONSTRAINT items_v_positive CHECK (v > 0);",
    "0004_index.sql": "CREATE INDEX items_v ON items (v);",
}


def query(dsn: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def fleet_size():
    return 6


@pytest.fixture
def databases(pg_cluster, request, fleet_size):
    """`fleet_size` fresh databases, by name."""
    count = fleet_size
    names = [f"fleet_{request.node.name[5:25].lower()}_{i:02d}" for i in range(count)]
    for name in names:
        pg_cluster.query(pg_cluster.primary, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    yield {name: pg_cluster.primary.dsn(name) for name in names}
    for name in names:
        pg_cluster.query(pg_cluster.primary, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def sql_folder(root: Path, migrations: dict[str, str] = MIGRATIONS) -> Path:
    folder = root / "migrations"
    folder.mkdir()
    for name, text in migrations.items():
        (folder / name).write_text(text + "\n")
    return folder


def fleet_file(root: Path, databases: dict[str, str], canary: list[str] = ()) -> Path:
    lines = ["[fleet]", f"canary = {json.dumps(list(canary))}", "[fleet.targets]"]
    lines += [f'{name} = "{dsn}"' for name, dsn in databases.items()]
    (root / "fleet.toml").write_text("\n".join(lines) + "\n")
    return root / "fleet.toml"


def run_fleet(path: Path, *options: str, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["apply", str(path), *options, "--log-format", "json"], capture_output=True, text=True,
                          timeout=timeout)


def events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def versions(dsn: str) -> list[tuple]:
    if not query(dsn, "SELECT to_regclass('migrator.schema_migrations') IS NOT NULL")[0][0]:
        return []
    return query(dsn, "SELECT version, count(*) FROM migrator.schema_migrations GROUP BY 1 ORDER BY 1")


def test_fleet_file_errors_name_the_line_and_never_print_passwords(tmp_path, monkeypatch):
    path = tmp_path / "fleet.toml"
    path.write_text('[fleet]\ncanary = ["b"]\n[fleet.targets]\na = "postgresql://app:s3cret@db1/app"\nb = "$SHARD_B_URL"\n')
    monkeypatch.setenv("SHARD_B_URL", "host=db2 dbname=app password=hunter2")
    fleet = load_fleet_file(path)
    assert [t.name for t in fleet.targets] == ["a", "b"] and fleet.canaries == ["b"]
    assert [t.shown for t in fleet.targets] == ["postgresql://app:***@db1/app", "host=db2 dbname=app password=***"]
    monkeypatch.delenv("SHARD_B_URL")
    with pytest.raises(FleetError, match=rf"^{path}:5: target b: environment variable SHARD_B_URL is not set$"):
        load_fleet_file(path)
    path.write_text('[fleet]\ncanary = ["z"]\n[fleet.targets]\na = "postgresql://db1/app"\n')
    with pytest.raises(FleetError, match=rf"^{path}:2: canary 'z' is not a target of the fleet$"):
        load_fleet_file(path)
    assert Target("t", "postgresql://db/app", "tenant 7").connection_dsn.endswith("options='-c search_path=\"tenant\\\\ 7\"'")


def test_json_events_go_to_the_stdout_of_the_start_while_sys_stdout_is_swapped(capsys):
    view = FleetView(json_events=True)
    with contextlib.redirect_stdout(sys.stderr):  # as a run of env.py does, process-wide, while the relay shows events
        view.show({"event": "target_start", "target": "t1"})
    out, err = capsys.readouterr()
    assert json.loads(out)["target"] == "t1" and err == ""


def test_canary_failure_stops_the_rollout_before_any_other_target_is_touched(tmp_path, databases):
    names = list(databases)
    for name, dsn in databases.items():
        query(dsn, "CREATE TABLE items (id bigint PRIMARY KEY, v integer NOT NULL)")
        query(dsn, "INSERT INTO items SELECT g, g FROM generate_series(1, 100) g")
    query(databases[names[2]], "UPDATE items SET v = -1 WHERE id = 42")  # the bad row, in the canary
    folder = sql_folder(tmp_path, {"0001_check.sql": MIGRATIONS["0003_check.sql"], "0002_note.sql": MIGRATIONS["0002_note.sql"]})
    result = run_fleet(folder, "--fleet", str(fleet_file(tmp_path, databases)), "--canary", names[2], "--parallel", "4")
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: rollout migrations@0002_note stopped: a canary failed (1 failed, {len(names) - 1} targets not touched); "
        "`migrator fleet status` shows the error")
    started = [e["target"] for e in events(result.stdout) if e["event"] == "target_start"]
    assert started == [names[2]]
    for name in names:  # the others: not even the executor's tables (the first target holds the rollout's state)
        if name != names[2]:
            assert query(databases[name], "SELECT array_agg(relname::text) FROM pg_class WHERE relnamespace = "
                                          "to_regnamespace('migrator') AND relkind = 'r'") == [(["fleet_targets"] if name == names[0] else None,)]
            assert query(databases[name], "SELECT count(*) FROM pg_constraint WHERE conname = 'items_v_positive'") == [(0,)]
    status = subprocess.run(CLI + ["fleet", "status", "--control-dsn", databases[names[0]], "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    report = json.loads(status.stdout)
    assert report["counts"] == {"failed": 1, "pending": len(names) - 1}
    [failure] = report["failures"]
    assert failure["target"] == names[2] and failure["error"].startswith(f"{folder}/0001_check.sql:1: ")
    assert "violated by some row" in failure["error"]
    # fixed: the re-run resumes the canary, then the rest; a third run skips every target at once
    query(databases[names[2]], "DELETE FROM items WHERE v < 0")
    again = run_fleet(folder, "--fleet", str(fleet_file(tmp_path, databases)), "--canary", names[2], "--parallel", "4")
    assert again.returncode == 0, again.stderr
    order = [e["target"] for e in events(again.stdout) if e["event"] == "target_done"]
    assert order[0] == names[2] and sorted(order) == sorted(names)
    assert all(versions(dsn) == [("0001_check", 1), ("0002_note", 1)] for dsn in databases.values())
    third = run_fleet(folder, "--fleet", str(fleet_file(tmp_path, databases)), "--canary", names[2])
    assert third.returncode == 0 and not [e for e in events(third.stdout) if e["event"] == "target_start"]
    assert events(third.stdout)[-1] == {**events(third.stdout)[-1], "event": "summary", "done": len(names), "failed": 0}


def test_max_failures_stops_new_targets_and_a_re_run_resumes_the_failed_one(tmp_path, databases):
    names = list(databases)
    for dsn in databases.values():
        query(dsn, "CREATE TABLE items (id bigint PRIMARY KEY, v integer NOT NULL)")
        query(dsn, "INSERT INTO items SELECT g, g FROM generate_series(1, 100) g")
    for bad in (names[1], names[2]):
        query(databases[bad], "UPDATE items SET v = 0 WHERE id = 7")
    folder = sql_folder(tmp_path, {"0001_check.sql": MIGRATIONS["0003_check.sql"]})
    fleet = str(fleet_file(tmp_path, databases))
    result = run_fleet(folder, "--fleet", fleet, "--parallel", "1", "--max-failures", "2")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: rollout migrations@0001_check stopped after 2 failed targets (--max-failures 2); 3 not started; "
        "`migrator fleet status` shows the errors")
    assert [e["target"] for e in events(result.stdout) if e["event"] == "target_start"] == names[:3]
    assert [bool(versions(dsn)) for dsn in databases.values()] == [True, False, False, False, False, False]
    for bad in (names[1], names[2]):
        query(databases[bad], "UPDATE items SET v = 1 WHERE id = 7")
    again = run_fleet(folder, "--fleet", fleet, "--parallel", "2")
    assert again.returncode == 0, again.stderr
    assert sorted(e["target"] for e in events(again.stdout) if e["event"] == "target_start") == names[1:]
    assert all(versions(dsn) == [("0001_check", 1)] for dsn in databases.values())


def test_a_lock_held_on_one_target_makes_it_retry_and_finish_while_the_others_proceed(tmp_path, databases):
    names = list(databases)
    folder = sql_folder(tmp_path, {"0001_users.sql": "CREATE TABLE users (id bigint PRIMARY KEY, email text);"})
    assert run_fleet(folder, "--fleet", str(fleet_file(tmp_path, databases))).returncode == 0
    (folder / "0002_note.sql").write_text("ALTER TABLE users ADD COLUMN note text;\n")
    blocked = names[3]
    holder = psycopg.connect(databases[blocked])
    holder.execute("LOCK TABLE users IN ACCESS SHARE MODE")  # a long report: ADD COLUMN cannot get its lock
    reader = Reader(databases[blocked])  # the application, reading while the migration waits
    reader.start()
    runner = subprocess.Popen(CLI + ["apply", str(folder), "--fleet", str(fleet_file(tmp_path, databases)), "--parallel", "3",
                                     "--lock-timeout", "1s", "--log-format", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, retries = [], 0
    for line in runner.stdout:
        event = json.loads(line)
        seen.append(event)
        if event.get("target") == blocked and event["event"] == "retry":
            retries += 1
        done = {e["target"] for e in seen if e["event"] == "target_done"}
        if retries >= 2 and done == set(names) - {blocked}:
            holder.rollback()  # the report ends: the blocked target's next try gets its lock
            holder.close()
            break
    rest, stderr = runner.communicate(timeout=120)
    reader.stop.set()
    reader.join()
    seen += events(rest)
    assert runner.returncode == 0, stderr
    assert retries >= 2
    assert [e["target"] for e in seen if e["event"] == "target_done"][-1] == blocked
    assert reader.longest <= 1.0 + 0.5, f"a reader of {blocked} waited {reader.longest:.2f} s (lock timeout 1 s)"
    assert all(versions(dsn) == [("0001_users", 1), ("0002_note", 1)] for dsn in databases.values())


@pytest.mark.parametrize("fleet_size", [10])
def test_kill_9_of_one_of_two_runners_half_way_the_other_finishes_the_fleet(tmp_path, databases, pg_cluster, pg_db):
    names = list(databases)
    for dsn in [*databases.values(), pg_db.dsn]:  # a table the history finds: its CHECK and index take online forms
        query(dsn, MIGRATIONS["0001_items.sql"])
        query(dsn, "INSERT INTO items SELECT g, g FROM generate_series(1, 100) g")
    slow = {**MIGRATIONS, "0002_note.sql": "SELECT pg_sleep(0.4);\n" + MIGRATIONS["0002_note.sql"]}
    del slow["0001_items.sql"]
    folder = sql_folder(tmp_path, slow)
    control = pg_cluster.primary.dsn("postgres")
    fleet = str(fleet_file(tmp_path, databases))
    options = ["--fleet", fleet, "--control-dsn", control, "--parallel", "2", "--claim-ttl", "2s", "--rollout", "kill-test",
               "--small-table", "0", "--log-format", "json"]  # every table big
    first = subprocess.Popen(CLI + ["apply", str(folder), *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    second = subprocess.Popen(CLI + ["apply", str(folder), *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finished, claimed = False, None
    for line in first.stdout:  # half-way: the first runner finished a target and holds a claim on another
        event = json.loads(line)
        finished = finished or event["event"] == "target_done"
        if finished and event["event"] == "target_start":
            claimed = event["target"]
            break
    os.killpg(first.pid, signal.SIGKILL)  # the runner and its workers: a machine gone
    first.wait(timeout=30)
    out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err
    assert events(out)[-1]["event"] == "summary" and events(out)[-1]["done"] == len(names)
    head = [(name[:-4], 1) for name in sorted(slow)]
    single = subprocess.run(CLI + ["apply", str(folder), "--dsn", pg_db.dsn, "--small-table", "0"], capture_output=True,
                            text=True, timeout=120)
    assert single.returncode == 0, single.stderr
    expected = schema_dump(pg_db.dsn)  # the schema a single-target apply leaves
    for dsn in databases.values():
        assert schema_dump(dsn) == expected
        assert versions(dsn) == head  # every version stamped once
        assert query(dsn, "SELECT count(*) FROM pg_constraint WHERE conname = 'items_v_positive' AND convalidated") == [(1,)]
        assert query(dsn, "SELECT count(*) FROM pg_index WHERE indexrelid = 'items_v'::regclass AND indisvalid") == [(1,)]
    rows = query(control, "SELECT state, count(*), count(DISTINCT runner) FROM migrator.fleet_targets "
                          "WHERE rollout = 'kill-test' GROUP BY 1")
    assert rows == [("done", len(names), 2)]  # both runners finished targets
    assert query(control, "SELECT attempts FROM migrator.fleet_targets WHERE rollout = 'kill-test' AND target = %s",
                 (claimed,)) == [(2,)]  # the dead runner's claim, taken over once it expired
    steps = [e for e in events(out) if e["event"] == "step"]
    assert any("NOT VALID" in e["sql"] for e in steps), [e["sql"] for e in steps]
    assert any("CONCURRENTLY" in e["sql"] for e in steps), [e["sql"] for e in steps]


def test_schema_per_tenant_each_schema_gets_its_own_version_table(tmp_path, pg_db):
    tenants = [f"tenant_{i:02d}" for i in range(12)]
    for tenant in tenants:
        pg_db.execute(f"CREATE SCHEMA {tenant}")
    ini = project(tmp_path, pg_db.dsn, {
        "a1": 'op.create_table("accounts", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("plan", sa.Text))',
        "a2": 'op.add_column("accounts", sa.Column("seats", sa.Integer))',
        "a3": 'op.create_index("accounts_plan", "accounts", ["plan"])',
    })
    query_sql = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant%' ORDER BY 1"
    result = run_fleet(ini, "--targets-query", query_sql, "--catalog-dsn", pg_db.dsn, "--canary", "1", "--parallel", "3")
    assert result.returncode == 0, result.stderr
    assert [e["target"] for e in events(result.stdout) if e["event"] == "target_start"][0] == tenants[0]
    assert '"event"' not in result.stderr  # every event on stdout, though env.py runs swap sys.stdout meanwhile
    again = run_fleet(ini, "--targets-query", query_sql, "--catalog-dsn", pg_db.dsn, "--parallel", "3", "--rollout", "again")
    assert again.returncode == 0, again.stderr  # a new rollout: the workers find every tenant at its goal
    assert sorted(e["target"] for e in events(again.stdout) if e["event"] == "target_skipped") == tenants
    for tenant in tenants:
        assert pg_db.execute(f"SELECT version_num FROM {tenant}.alembic_version") == [("a3",)]
        assert pg_db.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'seats'",
                             (f"{tenant}.accounts",)) == [(1,)]
    assert pg_db.execute("SELECT to_regclass('public.accounts'), to_regclass('public.alembic_version')") == [(None, None)]
    plan = subprocess.run(CLI + ["plan", str(ini), "--targets-query", query_sql, "--catalog-dsn", pg_db.dsn, "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout) == [{"target": t, "behind": [], "drift": False} for t in tenants]
    add_revision(ini, "a4", "a3", 'op.add_column("accounts", sa.Column("region", sa.Text))')
    pg_db.execute("UPDATE tenant_05.alembic_version SET version_num = 'a2'")  # a tenant someone left behind
    plan = subprocess.run(CLI + ["plan", str(ini), "--targets-query", query_sql, "--catalog-dsn", pg_db.dsn, "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(plan.stdout) == [{"target": t, "behind": ["a3", "a4"] if t == "tenant_05" else ["a4"],
                                        "drift": t == "tenant_05"} for t in tenants]


def test_two_tenants_of_one_database_apply_at_once_each_with_its_own_journal_and_lock(tmp_path, pg_db):
    for tenant in ("tenant_a", "tenant_b"):
        pg_db.execute(f"CREATE SCHEMA {tenant}")
        pg_db.execute(f"CREATE TABLE {tenant}.accounts (id bigint PRIMARY KEY, seats integer)")
        pg_db.execute(f"INSERT INTO {tenant}.accounts SELECT g, g FROM generate_series(1, 100) g")
    pg_db.execute("UPDATE tenant_a.accounts SET seats = 0 WHERE id = 7")  # trips tenant_a's VALIDATE
    ini = project(tmp_path, pg_db.dsn, {"s1": 'op.create_check_constraint("accounts_seats_positive", "accounts", "seats > 0")'})
    dsn = {tenant: Target(tenant, pg_db.dsn, tenant).connection_dsn for tenant in ("tenant_a", "tenant_b")}
    options = ["--small-table", "0", "--lock-timeout", "200ms", "--log-format", "json"]  # the CHECK in its online form
    apply = [*CLI, "apply", str(ini), *options, "--dsn"]
    failed = subprocess.run(apply + [dsn["tenant_a"]], capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1 and "violated by some row" in failed.stderr
    # tenant_b's apply neither runs nor marks done the VALIDATE that tenant_a's journal holds
    assert subprocess.run(apply + [dsn["tenant_b"]], capture_output=True, text=True, timeout=120).returncode == 0
    validated = "SELECT convalidated FROM pg_constraint WHERE conname = 'accounts_seats_positive' AND conrelid = %s::regclass"
    assert [pg_db.execute(validated, (f"{t}.accounts",)) for t in dsn] == [[(False,)], [(True,)]]
    assert pg_db.execute("SELECT scope, status FROM migrator.apply_journal WHERE status = 'pending'") == [("tenant_a", "pending")]
    pg_db.execute("UPDATE tenant_a.accounts SET seats = 1 WHERE id = 7")
    add_revision(ini, "s2", "s1", 'op.add_column("accounts", sa.Column("region", sa.Text))')
    holder = psycopg.connect(pg_db.dsn)
    holder.execute("LOCK TABLE tenant_a.accounts IN ACCESS SHARE MODE")  # tenant_a's ADD COLUMN waits and retries
    blocked = subprocess.Popen(apply + [dsn["tenant_a"], "--attempts", "1000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # tries until the holder lets go (the deadline: 5 minutes)
    try:
        for line in blocked.stdout:
            if json.loads(line)["event"] == "retry":
                break
        # meanwhile tenant_b applies in full (tenants of one database do not wait for each other) ...
        other = subprocess.run(apply + [dsn["tenant_b"]], capture_output=True, text=True, timeout=120)
        assert other.returncode == 0, other.stderr
        # ... and a second apply of tenant_a waits for the first
        same = subprocess.run(apply + [dsn["tenant_a"], "--lock-wait", "1s"], capture_output=True, text=True, timeout=120)
        assert same.returncode == 1 and "another migrator apply holds the deploy lock of schema tenant_a (pid" in same.stderr
        assert blocked.poll() is None
    finally:
        holder.rollback()
        holder.close()
    rest, stderr = blocked.communicate(timeout=120)
    assert blocked.returncode == 0, stderr
    for tenant in dsn:
        assert pg_db.execute(f"SELECT version_num FROM {tenant}.alembic_version") == [("s2",)]
        assert pg_db.execute(validated, (f"{tenant}.accounts",)) == [(True,)]
    assert pg_db.execute("SELECT scope, count(*) FILTER (WHERE status = 'pending') FROM migrator.apply_journal GROUP BY 1 "
                         "ORDER BY 1") == [("tenant_a", 0), ("tenant_b", 0)]


def test_the_readme_fleet_file_loads(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme.split("### Fleets")[1].split("```toml\n")[1].split("```")[0]
    (tmp_path / "fleet.toml").write_text(example)
    monkeypatch.setenv("EU_2_DATABASE_URL", "postgresql://deploy:pw@eu-2.db.internal/app")
    monkeypatch.setenv("US_1_DATABASE_URL", "postgresql://deploy@us-1.db.internal/app")
    fleet = load_fleet_file(tmp_path / "fleet.toml")
    assert [(t.name, t.shown) for t in fleet.targets] == [
        ("eu-1", "postgresql://deploy@eu-1.db.internal/app"), ("eu-2", "postgresql://deploy:***@eu-2.db.internal/app"),
        ("us-1", "postgresql://deploy@us-1.db.internal/app")]
    assert fleet.canaries == ["eu-1"]


@pytest.mark.parametrize("fleet_size", [3])
def test_on_a_terminal_a_live_table_shows_the_failures_with_their_one_line_errors(tmp_path, databases):
    names = list(databases)
    for dsn in databases.values():
        query(dsn, "CREATE TABLE items (id bigint PRIMARY KEY, v integer NOT NULL)")
        query(dsn, "INSERT INTO items VALUES (1, 1)")
    query(databases[names[1]], "UPDATE items SET v = 0")
    folder = sql_folder(tmp_path, {"0001_check.sql": MIGRATIONS["0003_check.sql"]})
    command = f"{sys.executable} -m migrator apply {folder} --fleet {fleet_file(tmp_path, databases)} --parallel 1"
    result = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1"})
    assert result.returncode == 1
    assert '{"time"' not in result.stdout  # the table, not the JSON events
    assert f"{names[1]} │ failed │ {folder}/0001_check.sql:1: check constraint \"items_v_positive\"" in result.stdout
    assert "done 1, skipped 0, failed 1" in result.stdout


@pytest.mark.parametrize("fleet_size", [1])
def test_an_unreachable_target_fails_in_one_line_without_its_password(tmp_path, databases):
    [good] = databases.values()
    targets = {"good": good, "gone": "postgresql://deploy:hunter2@127.0.0.1:1/app"}
    folder = sql_folder(tmp_path, {"0001_items.sql": MIGRATIONS["0001_items.sql"]})
    result = run_fleet(folder, "--fleet", str(fleet_file(tmp_path, targets)))
    status = subprocess.run(CLI + ["fleet", "status", "--control-dsn", good], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and status.returncode == 0
    assert "hunter2" not in result.stdout + result.stderr + status.stdout
    [failed] = [e for e in events(result.stdout) if e["event"] == "target_failed"]
    assert failed["target"] == "gone" and failed["error"].startswith("cannot connect to 127.0.0.1:1/app: ")
    assert f"  failed gone (attempt 1): {failed['error']}" in status.stdout.splitlines()
    plan = subprocess.run(CLI + ["plan", str(folder), "--fleet", str(fleet_file(tmp_path, targets))],
                          capture_output=True, text=True, timeout=60)  # nobody knows whether gone is behind
    assert plan.returncode == 1 and "0 of 2 targets behind, 1 could not be read" in plan.stdout, plan.stdout
    assert "hunter2" not in plan.stdout + plan.stderr


@pytest.mark.parametrize("fleet_size", [4])
def test_backfill_run_fleet_fills_every_target_with_a_cap_on_targets_in_flight(tmp_path, databases):
    for number, dsn in enumerate(databases.values()):
        query(dsn, "CREATE TABLE users (id bigint PRIMARY KEY, email text, handle text)")
        query(dsn, "INSERT INTO users SELECT g, 'U' || g || '@X' FROM generate_series(1, %s) g", (1000 * (number + 1),))
    result = subprocess.run(CLI + ["backfill", "run", "fill-handle", "--table", "users", "--set", "handle = lower(email)",
                                   "--fleet", str(fleet_file(tmp_path, databases)), "--max-targets", "2", "--log-format", "json"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    in_flight, most = set(), 0
    for event in events(result.stdout):
        assert "target" in event
        if event["event"] == "target_start":
            in_flight.add(event["target"])
            most = max(most, len(in_flight))
        elif event["event"] in ("target_done", "target_failed"):
            assert event["event"] == "target_done", event
            in_flight.discard(event["target"])
    assert most == 2 and not in_flight
    for number, dsn in enumerate(databases.values()):
        assert query(dsn, "SELECT count(*) FILTER (WHERE handle = lower(email)), count(*) FROM users") == [
            (1000 * (number + 1), 1000 * (number + 1))]


@pytest.mark.parametrize("fleet_size", [1])
def test_lint_fleet_warns_about_the_unfinished_backfills_of_each_target(tmp_path, databases, pg_db):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, a int NOT NULL, b int)")
    pg_db.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 30000) g")
    migration = tmp_path / "0002.sql"
    migration.write_text("ALTER TABLE items ALTER COLUMN b SET NOT NULL;\n")
    targets = {"quiet": next(iter(databases.values())), "busy": pg_db.dsn}
    fleet = str(fleet_file(tmp_path, targets))
    thread = start_fill_b(pg_db, 500, at_least=1)  # a minute of work: still running at the pause, however slow the CLI
    try:
        assert subprocess.run(CLI + ["backfill", "pause", "fill-b", "--dsn", pg_db.dsn], timeout=60).returncode == 0
        result = subprocess.run(CLI + ["lint", "--select", "unfinished-backfill", "--fleet", fleet, str(migration)],
                                capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(CLI + ["backfill", "cancel", "fill-b", "--dsn", pg_db.dsn], timeout=60)
        thread.join(60)
    assert "SET NOT NULL on items.b while backfill fill-b on busy (paused) still writes it" in result.stdout
