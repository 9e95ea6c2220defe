"""The shipped Prometheus alert rules, judged by Prometheus's own promtool (Debian's package,
unpacked by tests/debian.py), and the Grafana dashboard: every metric they use is one a real
backfill serves."""

import json
import re
import subprocess
from pathlib import Path

from prometheus_client import generate_latest

from backfill import BackfillSpec, Runner
from backfill.metrics import BackfillMetrics
from tests.debian import unpacked

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "prometheus"


def promtool(*arguments):
    binary, environment = unpacked("prometheus", "usr/bin/promtool")
    return subprocess.run([binary, *arguments], capture_output=True, text=True, cwd=EXAMPLES, env=environment, timeout=120)


def test_the_alert_rules_pass_promtool_check_rules():
    result = promtool("check", "rules", "migrator-alerts.yml")
    assert result.returncode == 0 and "SUCCESS: 5 rules found" in result.stdout, result.stdout + result.stderr


def test_the_alerts_fire_at_the_lag_levels_stall_and_failure_in_promtool_test_rules():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_rules_and_dashboard_use_only_metrics_a_real_backfill_serves(pg_db):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, label text)")
    pg_db.execute("INSERT INTO items SELECT g FROM generate_series(1, 1000) g")
    runner = Runner(BackfillSpec("fill", "items", {"label": "id::text"}), pg_db.dsn)
    metrics = BackfillMetrics(runner, pg_db.dsn)
    runner.emit = metrics.observe
    runner.run()
    served = set(re.findall(r"^(migrator_\w+?)(?:\{| )", generate_latest(metrics.registry).decode(), re.MULTILINE))
    metrics.close()
    dashboard = json.loads((EXAMPLES / "grafana-backfill.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = set(re.findall(r"migrator_\w+", (EXAMPLES / "migrator-alerts.yml").read_text() + "\n".join(expressions)))
    assert used and used <= served, used - served
    assert len(expressions) >= 10
