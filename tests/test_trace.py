"""`migrator trace`: the oracle for users, on the example project and on a migration lint gets wrong."""

import json
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "migrator"]
MESSAGING = Path(__file__).resolve().parent.parent / "examples" / "messaging" / "sql"


def trace(*arguments):
    return subprocess.run(CLI + ["trace", *map(str, arguments), "--format", "json"], capture_output=True, text=True,
                          timeout=300)


def test_the_messaging_example_shows_every_statements_locks_and_agrees_with_lint():
    result = trace(MESSAGING)  # on a throwaway sandbox of its own
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    statements = report["statements"]
    assert report["disagreements"] == 0 and all(s["agrees"] for s in statements)
    by_sql = {s["sql"].split("\n")[0]: s for s in statements}
    add_column = by_sql["ALTER TABLE users ADD COLUMN display_name text"]
    assert add_column["locks_taken"] == {"users": "ACCESS EXCLUSIVE"} and not add_column["rewritten"]
    validate = by_sql["ALTER TABLE users VALIDATE CONSTRAINT users_display_name_not_null"]
    assert validate["locks_taken"]["users"] == "SHARE UPDATE EXCLUSIVE" and validate["scanned"] == ["users"]
    in_transactions = [s for s in statements if s["sql"].split()[0] not in ("BEGIN", "COMMIT")
                       and "CONCURRENTLY" not in s["sql"]]
    assert all(s["locks_held"] for s in in_transactions)  # every statement run in a transaction shows its locks
    assert all(s["milliseconds"] > 0 for s in statements)


def test_a_fact_lint_states_differently_is_marked(tmp_path, pg_db):
    """SET LOGGED on a table that already is logged: lint expects a rewrite, PostgreSQL does nothing."""
    pg_db.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind text)")
    (tmp_path / "001_logged.sql").write_text("ALTER TABLE events SET LOGGED;\nALTER TABLE events ADD COLUMN at date;\n")
    result = trace(tmp_path, "--dsn", pg_db.dsn)
    assert result.returncode == 1, result.stderr
    first, second = json.loads(result.stdout)["statements"]
    assert first["disagreements"] == ["analyzer says a rewrite; server kept every table's file",
                                      "analyzer says a scan; server scanned no table"]
    assert "table-rewrite-command" in [f["rule"] for f in first["lint"]]
    # one transaction: the ALTER before it already holds the lock the second statement needs
    assert second["agrees"] and second["locks_taken"] == {} and second["locks_held"]["events"] == "ACCESS EXCLUSIVE"
    assert pg_db.execute("SELECT count(*) FROM events") == [(3,)]  # filled with a few rows before the file


def test_text_output_marks_the_disagreement_and_an_alembic_project_is_a_usage_error(tmp_path, pg_db):
    pg_db.execute("CREATE TABLE events (id bigint)")
    (tmp_path / "001.sql").write_text("ALTER TABLE events SET LOGGED;\n")
    text = subprocess.run(CLI + ["trace", str(tmp_path), "--dsn", pg_db.dsn], capture_output=True, text=True, timeout=120)
    assert text.returncode == 1 and "✗    1  ALTER TABLE events SET LOGGED" in text.stdout
    assert "differs analyzer says a rewrite" in text.stdout and "1 disagree with lint" in text.stdout
    refused = subprocess.run(CLI + ["trace", str(MESSAGING.parent)], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "alembic upgrade head --sql" in refused.stderr
    assert "Traceback" not in refused.stderr
