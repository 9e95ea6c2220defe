"""Fault injection: `kill -9` of `migrator apply` at random points across an Alembic history with
online forms, then a re-run, ten times over: the end state must be the undisturbed run's."""

import random
import subprocess
import sys

from migrator.testing import TEMPLATE, Database
from tests.real_histories.harness import not_valid, schema_dump
from tests.test_executor_alembic import project

CLI = [sys.executable, "-m", "migrator"]
HISTORY = {
    "r1": 'op.add_column("users", sa.Column("handle", sa.Text))',
    "r2": 'op.create_index("users_email_idx", "users", ["email", "id"])',
    "r3": 'op.execute("ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id)")  # migrator:ignore fk-needs-index',
    "r4": 'op.execute("UPDATE users SET handle = email WHERE id <= 1000")\nop.alter_column("users", "email", nullable=False)',
    "r5": 'op.execute("ALTER TABLE users ADD UNIQUE (email)")\nop.execute("ALTER TABLE orders ADD CHECK (id > 0)")',
    "r6": 'op.create_table("audit", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("note", sa.Text))\n'
          'op.create_index("audit_note_idx", "audit", ["note"])',
}
ROWS = 100_000


def fill(db) -> None:
    db.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text)")
    db.execute("CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint)")
    db.execute(f"INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, {ROWS}) g")
    db.execute(f"INSERT INTO orders SELECT g, g FROM generate_series(1, {ROWS}) g")


def apply_command(ini, dsn) -> list[str]:  # every table here takes the online forms; one event per statement sent
    return CLI + ["apply", str(ini), "--dsn", dsn, "--small-table", "64kB", "--log-format", "json"]


def copy_of(cluster, template: str, name: str) -> Database:
    cluster.query(cluster.primary, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    cluster.query(cluster.primary, f"CREATE DATABASE {name} TEMPLATE {template}")
    return Database(name, cluster)


def test_kill_9_at_ten_random_points_then_rerun_ends_as_the_undisturbed_run(tmp_path, pg_cluster):
    """Each of ten copies of the same database has apply killed as the k-th statement of the
    history goes out (ten k drawn at random among the undisturbed run's statements), then applied
    again: each ends exactly as the undisturbed run, versions stamped once."""
    base = copy_of(pg_cluster, TEMPLATE, "faults_base")
    fill(base)
    calm = copy_of(pg_cluster, "faults_base", "faults_calm")
    ini = project(tmp_path, calm.dsn, HISTORY)
    undisturbed = subprocess.run(apply_command(ini, calm.dsn), capture_output=True, text=True, timeout=300)
    assert undisturbed.returncode == 0, undisturbed.stderr
    expected = schema_dump(calm.dsn)
    assert not_valid(calm.dsn) == []

    statements = sum(1 for line in undisturbed.stdout.splitlines() if '"event": "step"' in line)
    chance = random.Random(20261206)
    for number, point in enumerate(sorted(chance.sample(range(1, statements), 10))):
        killed = copy_of(pg_cluster, "faults_base", f"faults_killed_{number}")
        child = subprocess.Popen(apply_command(ini, killed.dsn), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        sent = 0
        for line in child.stdout:  # kill -9 as the point-th statement goes out (or right after it)
            sent += '"event": "step"' in line
            if sent == point:
                child.kill()
                break
        child.wait()
        child.stdout.close()
        assert sent == point, f"apply ended before statement {point}"
        final = subprocess.run(apply_command(ini, killed.dsn), capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
        assert schema_dump(killed.dsn) == expected, f"killed at statement {point}"
        assert not_valid(killed.dsn) == []
        assert killed.execute("SELECT version_num FROM alembic_version") == [("r6",)], "stamped once: one row, at head"
        assert killed.execute("SELECT count(*) FROM migrator.apply_journal WHERE status <> 'done'") == [(0,)]
        assert killed.execute("SELECT count(*) FROM users WHERE handle IS NOT NULL") == [(1000,)], "r4 ran once, whole"
        pg_cluster.query(pg_cluster.primary, f"DROP DATABASE {killed.name} WITH (FORCE)")
    for name in ("faults_calm", "faults_base"):
        pg_cluster.query(pg_cluster.primary, f"DROP DATABASE {name} WITH (FORCE)")
