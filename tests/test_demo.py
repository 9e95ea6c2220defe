"""`migrator demo` end to end, as a new user runs it (no terminal: output goes to a log)."""

import re
import subprocess
import sys

import psycopg
import pytest


def test_demo_runs_end_to_end_and_reads_well_in_80_columns():
    result = subprocess.run([sys.executable, "-m", "migrator", "demo", "--rows", "300000"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for expected in ("16 of 16 example migrations (Alembic and SQL): no findings.",
                     "0008_messages_sent_at_index_unsafe.py:13  require-concurrent-index (error)",
                     "retry 1 in", "0008: applied",
                     "Half way: replay paused on the replica", "throttled: replica replica1 lag",
                     "throttle released: running again", "done: 300,000 rows", "Sandbox stopped and removed."):
        assert expected in out, expected
    assert out.count("throttled: replica replica1") == 1, "one line when the throttle engages, not one per check"
    fk_transactions = set(re.findall(r"^  0004 \[transaction (\d+)\] 0004_messages_conversation_fk\.py:\d+", out, re.MULTILINE))
    assert len(fk_transactions) >= 2, "NOT VALID and VALIDATE are shown in separate, numbered transactions"
    assert not [line for line in out.splitlines() if len(line) > 80]
    assert "\x1b[" not in out and not result.stderr
    primary = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("primary postgresql://"))
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(primary, connect_timeout=3)


def test_demo_keep_leaves_the_sandbox_running(tmp_path):
    # its own folder: --keep names the sandbox after the working directory, and another test (or a
    # parallel worker) may keep one named after the repository's
    result = subprocess.run([sys.executable, "-m", "migrator", "demo", "--rows", "2000", "--keep"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Sandbox kept" in result.stdout and "migrator sandbox down" in result.stdout
        dsns = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("postgresql://")]
        with psycopg.connect(dsns[-2]) as connection:
            assert connection.execute("SELECT count(*) FROM messages").fetchone() == (2000,)
    finally:
        subprocess.run([sys.executable, "-m", "migrator", "sandbox", "down"], capture_output=True, cwd=tmp_path)
