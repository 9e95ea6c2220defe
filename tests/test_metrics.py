"""Prometheus metrics of a real backfill on the sandbox, scraped while it runs, checked against
`migrator backfill status`; and the shipped alert rules and dashboard."""

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backfill.metrics import reason_label
from migrator.sandbox import free_port
from tests.test_sandbox import poll

ROOT = Path(__file__).resolve().parent.parent
BACKFILL = [sys.executable, "-m", "migrator", "backfill"]


def scrape(port: int) -> dict[tuple, float]:
    """{(sample name, (label, value), ...): value} of one scrape."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:  # not listening yet, or the runner has exited
        return {}
    return {(sample.name, *sorted(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float | None:
    wanted = {"backfill": "fill", **labels}
    return next((v for (sample, *pairs), v in samples.items() if sample == name and wanted.items() <= dict(pairs).items()), None)


def status_rows(dsn: str) -> int:
    out = subprocess.run(BACKFILL + ["status", "fill", "--dsn", dsn], capture_output=True, text=True, timeout=60).stdout
    return int(re.search(r"progress ([\d,]+) of", out).group(1).replace(",", ""))


def test_a_backfill_serves_metrics_that_move_show_lag_and_throttle_and_agree_with_status(pg_db):
    rows = 300_000
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, label text)")
    pg_db.execute("INSERT INTO items (id, v) SELECT g, g FROM generate_series(1, %s) g", (rows,))
    pg_db.execute("ANALYZE items")
    cluster, replica = pg_db.cluster, pg_db.cluster.replica_nodes[0]
    port = free_port()
    process = subprocess.Popen(BACKFILL + ["run", "fill", "--table", "items", "--set", "label = 'row-' || id",
                                           "--batch-size", "2000", "--max-rows-per-sec", "20000", "--max-lag", "300ms",
                                           "--log-format", "json", "--metrics-port", str(port), "--metrics-addr", "127.0.0.1",
                                           "--dsn", pg_db.dsn], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    history = []
    try:
        def progressed(fraction):
            samples = scrape(port)
            history.append(samples)
            done = value(samples, "migrator_backfill_rows_total")
            return done is not None and done >= rows * fraction and samples

        first = poll(lambda: progressed(0.2), timeout=60, interval=0.2)
        assert value(first, "migrator_backfill_rows_estimated") == pytest.approx(rows, rel=0.05)
        assert value(first, "migrator_backfill_workers") == 1 and value(first, "migrator_backfill_batch_size") == 2000
        assert value(first, "migrator_backfill_replica_lag_seconds", replica="replica1") is not None
        assert value(first, "migrator_backfill_replica_lag_bytes", replica="replica1") is not None
        assert value(first, "migrator_backfill_status", status="running") == 1
        assert value(first, "migrator_backfill_batch_duration_seconds_count") >= 1

        cluster.pause_replay(replica)
        try:
            throttled = poll(lambda: (s := scrape(port)) and value(s, "migrator_backfill_throttled", reason="replica_lag") == 1 and s,
                             timeout=30, interval=0.2)
            assert value(throttled, "migrator_backfill_replica_lag_seconds", replica="replica1") > 0.15
            assert value(throttled, "migrator_backfill_replica_lag_bytes", replica="replica1") > 0
        finally:
            cluster.resume_replay(replica)
        poll(lambda: value(scrape(port), "migrator_backfill_throttled", reason="") == 0, timeout=30, interval=0.2)

        assert subprocess.run(BACKFILL + ["pause", "fill", "--dsn", pg_db.dsn], capture_output=True).returncode == 0
        paused = poll(lambda: (s := scrape(port)) and value(s, "migrator_backfill_throttled", reason="operator") == 1 and s,
                      timeout=30, interval=0.2)
        settled = poll(lambda: (a := scrape(port)) and value(a, "migrator_backfill_rows_total")
                       == value(scrape(port), "migrator_backfill_rows_total") and a, timeout=30, interval=0.3)
        assert value(settled, "migrator_backfill_rows_total") == status_rows(pg_db.dsn)
        assert value(paused, "migrator_backfill_status", status="paused") == 1
        assert subprocess.run(BACKFILL + ["resume", "fill", "--dsn", pg_db.dsn], capture_output=True).returncode == 0

        def finished():
            samples = scrape(port)
            history.append(samples)
            return value(samples, "migrator_backfill_status", status="done") == 1 and samples

        final = poll(finished, timeout=120, interval=0.2)
        assert value(final, "migrator_backfill_rows_total") == rows, "the final state is served before the runner exits"
        assert process.wait(timeout=60) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    totals = [value(s, "migrator_backfill_rows_total") for s in history if value(s, "migrator_backfill_rows_total") is not None]
    assert totals == sorted(totals) and totals[-1] == rows and len(set(totals)) >= 5
    assert value(history[-1], "migrator_backfill_wal_bytes_total") > 0
    assert status_rows(pg_db.dsn) == rows


def test_a_failed_backfill_is_served_as_failed_before_the_runner_exits(pg_db):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, code text UNIQUE)")
    pg_db.execute("INSERT INTO items SELECT g FROM generate_series(1, 100) g")
    port = free_port()
    process = subprocess.Popen(BACKFILL + ["run", "fill", "--table", "items", "--set", "code = 'same'", "--metrics-port", str(port),
                                           "--metrics-addr", "127.0.0.1", "--dsn", pg_db.dsn],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        failed = poll(lambda: (s := scrape(port)) and value(s, "migrator_backfill_status", status="failed") == 1 and s,
                      timeout=60, interval=0.2)
        assert value(failed, "migrator_backfill_errors_total") == 1
        assert process.wait(timeout=30) == 1 and "duplicate key" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_a_busy_metrics_port_is_a_one_line_error_naming_the_option(pg_db):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, label text)")
    with __import__("socket").socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(BACKFILL + ["run", "busy", "--table", "items", "--set", "label = 'x'", "--metrics-port", str(port),
                                            "--metrics-addr", "127.0.0.1", "--dsn", pg_db.dsn], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--metrics-port" in result.stderr and "in use" in result.stderr


@pytest.mark.parametrize("reason, label", [
    ("paused by operator", "operator"), ("replica replica1 lag 1.20s > 1s", "replica_lag"),
    ("replica r1 is gone from pg_stat_replication (stopped or disconnected)", "replica_health"),
    ("WAL rate 30.1 MB/s above 20 MB/s", "wal_rate"), ("throttle query returned true", "throttle_query"), (None, "")])
def test_throttle_reasons_become_a_small_fixed_set_of_labels(reason, label):
    assert reason_label(reason) == label
