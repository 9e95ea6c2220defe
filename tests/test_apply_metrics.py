"""`migrator apply --metrics-port` and `--pushgateway`, against a real Pushgateway (Debian's
package, unpacked by tests/debian.py) and the sandbox."""

import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import psycopg
from prometheus_client.parser import text_string_to_metric_families

from migrator.sandbox import free_port
from tests.debian import unpacked
from tests.test_metrics import scrape
from tests.test_sandbox import poll

CLI = [sys.executable, "-m", "migrator", "apply"]


@contextmanager
def pushgateway():
    binary, environment = unpacked("prometheus-pushgateway", "usr/bin/prometheus-pushgateway")
    port = free_port()
    process = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}"], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll(lambda: scrape(port), timeout=30, interval=0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def pushed(port: int) -> dict:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {sample.name: sample.value for family in text_string_to_metric_families(text) for sample in family.samples
            if sample.name.startswith("migrator_apply") and sample.labels.get("job") == "migrator_apply"}


def test_apply_pushes_its_steps_and_result_to_a_pushgateway(pg_db, tmp_path):
    (tmp_path / "001_a.sql").write_text("CREATE TABLE a (id int);\n")
    (tmp_path / "002_b.sql").write_text("ALTER TABLE a ADD COLUMN b int;\nCREATE INDEX CONCURRENTLY a_b ON a (b);\n")
    with pushgateway() as port:
        before = time.time()
        result = subprocess.run(CLI + [str(tmp_path), "--dsn", pg_db.dsn, "--pushgateway", f"http://127.0.0.1:{port}"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        metrics = pushed(port)
    assert metrics["migrator_apply_migrations_applied_total"] == 2
    assert metrics["migrator_apply_steps_total"] == metrics["migrator_apply_step_duration_seconds_count"] == 3
    assert metrics["migrator_apply_success"] == 1 and metrics["migrator_apply_finished_timestamp_seconds"] >= before


def test_an_unreachable_pushgateway_is_a_one_line_error_before_anything_runs(pg_db, tmp_path):
    (tmp_path / "001_a.sql").write_text("CREATE TABLE a (id int);\n")
    result = subprocess.run(CLI + [str(tmp_path), "--dsn", pg_db.dsn, "--pushgateway", f"http://127.0.0.1:{free_port()}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--pushgateway" in result.stderr and "cannot push" in result.stderr
    assert pg_db.execute("SELECT to_regclass('a')") == [(None,)]


def test_apply_serves_the_running_step_named_as_in_its_events_and_its_start_time_during_a_long_step(pg_db, tmp_path):
    """The long step is the CONCURRENTLY build that follows CREATE INDEX on a big table, held in
    its wait for older transactions by an open snapshot until the metrics were read."""
    pg_db.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text)")
    pg_db.execute("INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 1000) g")
    (tmp_path / "001_slow.sql").write_text("CREATE TABLE slow (id int);\nCREATE INDEX users_email ON users (email);\n")
    (tmp_path / "002_after.sql").write_text("CREATE TABLE after (id int);\n")
    blocker = psycopg.connect(pg_db.dsn)
    blocker.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    blocker.execute("SELECT 1").fetchone()
    port = free_port()
    process = subprocess.Popen(CLI + [str(tmp_path), "--dsn", pg_db.dsn, "--small-table", "32kB", "--metrics-port", str(port),
                                      "--metrics-addr", "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        running = poll(lambda: (s := scrape(port)) and next(
            ((dict(labels), v) for (name, *labels), v in s.items() if name == "migrator_apply_step_started_timestamp_seconds"
             and ("followup", "1") in labels), None), timeout=30, interval=0.1)
        labels, started = running
        assert labels == {"migration": "001_slow", "step": "1", "followup": "1", "file": ""}, labels  # plan: step 1 follow-up 1
        assert time.time() - 30 < started <= time.time()
        blocker.close()
        assert process.wait(timeout=60) == 0, process.stderr.read()
    finally:
        blocker.close()
        if process.poll() is None:
            process.kill()
