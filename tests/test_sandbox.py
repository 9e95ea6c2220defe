"""The sandbox: real primary + streaming replica clusters, their controls, cleanup and bad input."""

import functools
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from migrator.loadgen import LoadGenerator
from migrator.sandbox import INITDB_PREFIX, Cluster, SandboxError, find_pg_bin, pg_major_version, pgserver_bin_dir, sweep_stale


def processes_under(root: Path) -> list[int]:
    """PIDs whose command line mentions the sandbox root (its postgres servers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(root).encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def poll(condition, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def check_replication(cluster: Cluster) -> None:
    primary, replica = cluster.primary, cluster.replica_nodes[0]
    cluster.query(primary, "CREATE TABLE IF NOT EXISTS probe (id int)")
    cluster.query(primary, "INSERT INTO probe VALUES (42)")
    cluster.wait_for_replay(replica)
    assert cluster.query(replica, "SELECT id FROM probe") == [(42,)]

    cluster.pause_replay(replica)
    cluster.query(primary, "INSERT INTO probe SELECT generate_series(1, 2000)")
    first = poll(lambda: [s for s in cluster.replication_status() if s["replay_bytes"] > 0])[0]
    cluster.query(primary, "INSERT INTO probe SELECT generate_series(1, 2000)")
    grown = poll(lambda: [s for s in cluster.replication_status() if s["replay_bytes"] > first["replay_bytes"]])[0]
    assert grown["name"] == replica.name and grown["state"] == "streaming"

    cluster.resume_replay(replica)
    poll(lambda: all(s["replay_bytes"] == 0 for s in cluster.replication_status()))
    assert cluster.query(replica, "SELECT count(*) FROM probe") == [(4001,)]


def test_session_cluster_replicates_and_shows_lag_while_replay_is_paused(pg_cluster):
    assert len(pg_cluster.nodes) == 2
    check_replication(pg_cluster)


def test_same_checks_with_the_pgserver_wheel_binaries(monkeypatch):
    wheel = pgserver_bin_dir()
    assert wheel is not None, "pgserver is in the dev extras"
    monkeypatch.setenv("MIGRATOR_PG_BIN", str(wheel))
    assert find_pg_bin() == wheel
    with Cluster(replicas=1) as cluster:
        assert pg_major_version(wheel) == 16
        assert cluster.query(cluster.primary, "SHOW server_version_num")[0][0].startswith("16")
        check_replication(cluster)
    assert not processes_under(cluster.root)


def test_servers_do_not_run_as_root(pg_cluster):
    [(user,)] = pg_cluster.query(pg_cluster.primary, "SELECT current_setting('data_directory')")
    owner = Path(user).stat().st_uid
    assert owner != 0 or os.geteuid() != 0


def test_stop_and_restart_a_replica_and_apply_delay(pg_cluster):
    replica = pg_cluster.replica_nodes[0]
    pg_cluster.stop_node(replica)
    assert not replica.running
    poll(lambda: all(s["name"] != replica.name for s in pg_cluster.replication_status()))
    with pytest.raises(psycopg.OperationalError):
        pg_cluster.query(replica, "SELECT 1")
    pg_cluster.start_node(replica)
    poll(lambda: any(s["name"] == replica.name and s["state"] == "streaming" for s in pg_cluster.replication_status()))

    pg_cluster.set_apply_delay(replica, 60_000)
    poll(lambda: pg_cluster.query(replica, "SHOW recovery_min_apply_delay")[0][0] == "1min")
    pg_cluster.query(pg_cluster.primary, "CREATE TABLE IF NOT EXISTS delayed (id int)")
    target = pg_cluster.current_lsn()
    with pytest.raises(SandboxError, match="did not replay"):
        pg_cluster.wait_for_replay(replica, target, timeout=1.0)
    pg_cluster.set_apply_delay(replica, 0)
    pg_cluster.wait_for_replay(replica, target)
    assert pg_cluster.replay_lsn(replica)


def test_plain_pg_ctl_restart_keeps_each_servers_port():
    with Cluster(replicas=1) as cluster:
        for node in cluster.nodes:  # plain pg_ctl, as an operator would: no -o "-p PORT"
            cluster._pg_ctl("stop", node, "-m", "fast", "-w")
            cluster._pg_ctl("start", node, "-w", "-l", str(cluster.root / f"{node.name}.log"))
        assert [cluster.query(node, "SHOW port")[0][0] for node in cluster.nodes] == [str(n.port) for n in cluster.nodes]
        poll(lambda: [s["state"] for s in cluster.replication_status()] == ["streaming"])


def test_each_primary_is_a_copy_of_one_initdb_kept_for_its_binaries(pg_cluster):
    """initdb runs once per PostgreSQL build: later primaries copy its data directory (same system identifier)."""
    identifier = "SELECT system_identifier FROM pg_control_system()"
    with Cluster(replicas=0) as cluster:
        assert cluster.query(cluster.primary, identifier) == pg_cluster.query(pg_cluster.primary, identifier)
        pristine = cluster._pristine_datadir()
        assert pristine.parent == cluster.root.parent and pristine.name.startswith(INITDB_PREFIX)
        assert not (pristine / "postmaster.pid").exists(), "no server runs on the pristine copy itself"


def test_fresh_database_per_test_reaches_the_replica(pg_db):
    pg_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    pg_db.execute("INSERT INTO t VALUES (1)")
    pg_db.cluster.wait_for_replay(pg_db.cluster.replica_nodes[0])
    with psycopg.connect(pg_db.replica_dsn) as connection:
        assert connection.execute("SELECT id FROM t").fetchall() == [(1,)]


def test_databases_are_isolated(pg_db):
    assert pg_db.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'") == [(0,)]


def test_load_generator_records_latencies(pg_db):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, v int)")
    pg_db.execute("INSERT INTO items SELECT g, 0 FROM generate_series(1, 1000) g")
    load = LoadGenerator(pg_db.dsn, "items", clients=3, rate=300, mix={"read": 0.7, "update": 0.2, "insert": 0.1},
                         insert_sql="INSERT INTO items SELECT max(id) + 1, 0 FROM items ON CONFLICT DO NOTHING", max_duration=10)
    with load:
        poll(lambda: len(load.latencies("read")) >= 60 and load.latencies("update"))
    stats = load.stats()
    assert not load.errors()
    assert stats["read"]["count"] >= 60 and stats["update"]["count"] >= 1
    assert 0 < stats["read"]["p50"] <= stats["read"]["p99"] <= stats["read"]["max"] == load.max_latency("read")


def test_nothing_remains_after_a_test_session(tmp_path):
    test_file = tmp_path / "test_inner.py"
    record = tmp_path / "root.txt"
    test_file.write_text(textwrap.dedent(f"""
        pytest_plugins = ["migrator.testing"]

        def test_uses_cluster(pg_db):
            pg_db.execute("SELECT 1")
            open({str(record)!r}, "w").write(str(pg_db.cluster.root))
    """))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    root = Path(record.read_text())
    assert not root.exists()
    assert processes_under(root) == []


def test_killed_owner_leaves_nothing_after_the_next_start(tmp_path):
    script = "from migrator.sandbox import Cluster\nimport sys, time\nc = Cluster(replicas=1).start()\nprint(c.root, flush=True)\ntime.sleep(600)\n"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    root = Path(child.stdout.readline().strip())
    assert processes_under(root)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert processes_under(root), "postgres outlives its killed owner until swept"
    assert root in sweep_stale()
    poll(lambda: not processes_under(root))
    assert not root.exists()


def test_unknown_pg_bin_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MIGRATOR_PG_BIN", "/nonexistent/bin")
    with pytest.raises(SandboxError, match=r"MIGRATOR_PG_BIN=/nonexistent/bin: no initdb"):
        Cluster(replicas=0).start()


def test_port_in_use_is_a_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SandboxError, match=f"port {port} on 127.0.0.1 is in use"):
            Cluster(replicas=0, port=port).start()


def test_full_temp_dir_is_a_clear_error():
    mount = Path(tempfile.mkdtemp(prefix="migrator-test-tiny-"))
    os.chmod(mount, 0o755)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        with pytest.raises(SandboxError, match="no space left on the device"):
            Cluster(replicas=0, temp_dir=mount).start()
        assert list(mount.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)
        mount.rmdir()


def test_unreachable_temp_dir_is_a_clear_error(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    if os.geteuid() == 0:
        with pytest.raises(SandboxError, match="cannot reach this folder"):
            Cluster(replicas=0, temp_dir=private).start()
    else:
        with Cluster(replicas=0, temp_dir=private) as cluster:
            assert cluster.query(cluster.primary, "SELECT 1") == [(1,)]


def test_cli_up_detach_status_down(tmp_path):
    command = [sys.executable, "-m", "migrator", "sandbox"]
    run = functools.partial(subprocess.run, capture_output=True, text=True, cwd=tmp_path)  # a sandbox name of its own
    up = run(command + ["up", "--detach", "--replicas", "1"], timeout=120)
    assert up.returncode == 0, up.stderr
    dsns = up.stdout.split()
    assert len(dsns) == 2 and all(d.startswith("postgresql://") for d in dsns)
    with psycopg.connect(dsns[0]) as connection:
        assert connection.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    with psycopg.connect(dsns[1]) as connection:
        assert connection.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    status = run(command + ["status"])
    assert "(detached)" in status.stdout and "replica1" in status.stdout and "lag" in status.stdout
    down = run(command + ["down"])
    assert down.returncode == 0 and "stopped" in down.stdout
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsns[0], connect_timeout=3)


def sandbox_cli(*arguments, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "migrator", "sandbox", *arguments], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, cwd=cwd)


def stop_server(datadir: Path) -> None:
    """A fast shutdown of one server, as `pg_ctl stop -m fast` does, behind migrator's back."""
    os.kill(int((datadir / "postmaster.pid").read_text().split()[0]), signal.SIGINT)
    poll(lambda: not (datadir / "postmaster.pid").exists())


def test_cli_exit_status_says_whether_the_sandbox_runs(tmp_path):
    """status exits 3 (as `pg_ctl status`) for no sandbox, 1 for one whose servers are not all running; down
    of no sandbox exits 3; up of a sandbox whose servers were all stopped says so."""
    name = f"exit-status-{os.getpid()}"
    never = sandbox_cli("status", "--name", f"{name}-never")
    assert never.returncode == 3 and never.stdout == f"no sandbox running named {name}-never (--all lists every one of yours)\n"
    assert sandbox_cli("status", "--all", env={"TMPDIR": str(tmp_path)}).returncode == 3
    nothing = sandbox_cli("down", "--name", f"{name}-never")
    assert nothing.returncode == 3 and nothing.stdout == ""
    assert nothing.stderr == f"no sandbox named {name}-never is running: nothing to stop (`migrator sandbox status --all` lists yours)\n"
    try:
        up = sandbox_cli("up", "--detach", "--replicas", "1", "--name", name)
        assert up.returncode == 0, up.stderr
        running = sandbox_cli("status", "--name", name)
        assert running.returncode == 0 and running.stdout.count(" running ") == 2
        again = sandbox_cli("up", "--detach", "--name", name)
        assert again.returncode == 1 and again.stderr.startswith(f"Error: sandbox '{name}' is already running (")
        with psycopg.connect(up.stdout.split()[0]) as connection:
            [(primary,)] = connection.execute("SHOW data_directory").fetchall()
        stop_server(Path(primary).parent / "replica1")
        degraded = sandbox_cli("status", "--name", name)
        assert degraded.returncode == 1 and re.search(r"replica1 +replica +port \d+ +stopped", degraded.stdout)
        assert re.search(r"primary +primary +port \d+ +running", degraded.stdout)
        stop_server(Path(primary))
        assert sandbox_cli("status", "--name", name).returncode == 1
        dead = sandbox_cli("up", "--detach", "--name", name)
        assert dead.returncode == 1 and "none of its servers is running: remove it with `migrator sandbox down" in dead.stderr
        down = sandbox_cli("down", "--name", name)
        assert down.returncode == 0 and down.stdout == "stopped 1 sandbox\n"
        assert sandbox_cli("status", "--name", name).returncode == 3
        assert sandbox_cli("down", "--name", name).returncode == 3
    finally:
        sandbox_cli("down", "--name", name)


def test_cli_up_runs_until_interrupted(tmp_path):
    child = subprocess.Popen([sys.executable, "-m", "migrator", "sandbox", "up", "--replicas", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)  # a name of its own
    dsn = child.stdout.readline().strip()
    with psycopg.connect(dsn) as connection:
        [(datadir,)] = connection.execute("SHOW data_directory").fetchall()
    assert sandbox_cli("status", cwd=tmp_path).returncode == 0
    elsewhere = sandbox_cli("down", cwd=tmp_path)
    assert elsewhere.returncode == 1 and f"is run by pid {child.pid}: stop it with Ctrl-C there" in elsewhere.stderr
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=60) == 0
    assert not Path(datadir).exists()
    assert "stopped and removed" in child.stderr.read()
