"""`migrator trace`: the oracle for users, on the example project (both halves: SQL files and the
Alembic project) and on migrations lint gets wrong."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from click.testing import CliRunner

from migrator.cli import main
from migrator.oracle import Observed
from migrator.trace import describe
from tests.test_executor_alembic import add_revision, project
from tests.test_sandbox import poll

CLI = [sys.executable, "-m", "migrator"]
MESSAGING = Path(__file__).resolve().parent.parent / "examples" / "messaging" / "sql"


def trace(*arguments, env=None):
    return subprocess.run(CLI + ["trace", *map(str, arguments), "--format", "json"], capture_output=True, text=True,
                          timeout=300, env=env)


def one_line_error(result, status: int) -> str:
    assert result.returncode == status and "Traceback" not in result.stderr, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    return line


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


def test_a_statement_the_analyzer_cannot_read_is_held_only_to_what_it_states(tmp_path, pg_db):
    """Dynamic SQL may lock or rewrite anything (lint reports it unanalyzable); the facts the analyzer
    does state about the rest of the block are still checked."""
    pg_db.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind text)")
    (tmp_path / "001.sql").write_text(
        "DO $$ BEGIN EXECUTE 'ALTER TABLE events ADD COLUMN ' || 'x int'; END $$;\n"
        "DO $$ BEGIN ALTER TABLE events SET LOGGED; EXECUTE 'SELECT ' || '1'; END $$;\n")
    result = trace(tmp_path, "--dsn", pg_db.dsn)
    assert result.returncode == 1, result.stderr
    dynamic, logged = json.loads(result.stdout)["statements"]
    assert dynamic["locks_taken"] == {"events": "ACCESS EXCLUSIVE"} and dynamic["agrees"]
    assert "unanalyzable-statement" in [f["rule"] for f in dynamic["lint"]]
    assert dynamic["note"] == "the analyzer could not read part of it (see lint): only the facts it states are compared"
    assert logged["disagreements"] == ["analyzer says a rewrite; server kept every table's file",
                                       "analyzer says a scan; server scanned no table"]


def test_text_output_marks_the_disagreement(tmp_path, pg_db):
    pg_db.execute("CREATE TABLE events (id bigint)")
    (tmp_path / "001.sql").write_text("ALTER TABLE events SET LOGGED;\n")
    text = subprocess.run(CLI + ["trace", str(tmp_path), "--dsn", pg_db.dsn], capture_output=True, text=True, timeout=120)
    assert text.returncode == 1 and "✗    1  ALTER TABLE events SET LOGGED" in text.stdout
    assert "differs analyzer says a rewrite" in text.stdout and "1 disagree with lint" in text.stdout


def test_the_alembic_half_of_the_example_as_alembic_sends_it(pg_db):
    """`migrator trace examples/messaging`: the Alembic project, as `alembic upgrade head` runs it."""
    result = trace(MESSAGING.parent, "--dsn", pg_db.dsn)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    statements = report["statements"]
    assert report["disagreements"] == 0 and report["stopped"] is None and all(s["agrees"] for s in statements)
    assert [s["revision"] for s in statements] == ["0001"] * 3 + ["0002", "0003"] + ["0004"] * 4 + ["0005"] \
        + ["0006"] * 7 + ["0007", "0008"]
    for s in statements:  # each named by the op. call that sent it, in its revision file
        path = Path(s["path"])
        assert path.parent == MESSAGING.parent / "alembic" / "versions" and path.name.startswith(s["revision"])
        assert "op." in path.read_text().splitlines()[s["line"] - 1], s
    in_transactions = [s for s in statements if s["sql"] not in ("BEGIN", "COMMIT") and "CONCURRENTLY" not in s["sql"]]
    assert len(in_transactions) == 13 and all(s["locks_held"] for s in in_transactions)
    by_sql = {s["sql"].split("\n")[0]: s for s in statements}
    set_not_null = by_sql["ALTER TABLE users ALTER COLUMN display_name SET NOT NULL"]  # the validated CHECK spares the scan
    assert set_not_null["locks_taken"] == {"users": "ACCESS EXCLUSIVE"} and set_not_null["scanned"] == []
    validate = by_sql["ALTER TABLE users VALIDATE CONSTRAINT users_display_name_not_null"]
    assert validate["locks_taken"] == {"users": "SHARE UPDATE EXCLUSIVE"} and validate["scanned"] == ["users"]
    # a few rows in every table before each revision; Alembic's version table left to Alembic
    assert pg_db.execute("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM messages)") == [(3, 3)]
    assert pg_db.execute("SELECT version_num FROM alembic_version") == [("0008",)]


def test_an_alembic_fact_lint_states_differently_is_marked_and_a_failing_statement_stops_the_upgrade(tmp_path, pg_db):
    pg_db.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind text)")
    ini = project(tmp_path, pg_db.dsn, {"r1": """
        op.execute("ALTER TABLE events SET LOGGED")
        op.add_column("events", sa.Column("at", sa.Date))
    """}, options=", transaction_per_migration=True")
    add_revision(ini, "r2", "r1", """
        op.execute(sa.text("INSERT INTO events (id, kind) VALUES (:id, :kind)").bindparams(id=10, kind="new"))
        op.execute("ALTER TABLE missing ADD COLUMN x int")
        op.execute("ALTER TABLE events ADD COLUMN never int")
    """)
    result = trace(ini, "--dsn", pg_db.dsn)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    logged, add_column, insert, failed = report["statements"]
    revision_1 = (tmp_path / "alembic" / "versions" / "r1.py").read_text().splitlines()
    assert "SET LOGGED" in revision_1[logged["line"] - 1] and logged["revision"] == "r1"
    assert logged["disagreements"] == ["analyzer says a rewrite; server kept every table's file",
                                       "analyzer says a scan; server scanned no table"]
    assert "table-rewrite-command" in [f["rule"] for f in logged["lint"]]
    assert add_column["agrees"] and add_column["sql"] == "ALTER TABLE events ADD COLUMN at DATE"
    assert add_column["locks_held"]["events"] == "ACCESS EXCLUSIVE" and add_column["locks_taken"] == {}
    assert insert["sql"] == "INSERT INTO events (id, kind) VALUES (10::INTEGER, 'new'::VARCHAR)" and insert["agrees"]
    assert insert["locks_taken"] == {"events": "ROW EXCLUSIVE"}  # r2's own transaction
    assert failed["error"] == 'relation "missing" does not exist' and failed["note"] is None
    assert report["stopped"].startswith(f"{tmp_path / 'alembic' / 'versions' / 'r2.py'}:{failed['line']}: ")
    assert pg_db.execute("SELECT version_num FROM alembic_version") == [("r1",)]  # r2 rolled back, as Alembic does
    assert pg_db.execute("SELECT count(*) FROM events") == [(3,)]


def test_a_data_migration_that_needs_real_rows_is_traced_on_empty_tables_with_no_rows(tmp_path, pg_db):
    ini = project(tmp_path, pg_db.dsn, {"r1": """
        op.create_table("docs", sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text))
    """}, options=", transaction_per_migration=True")
    add_revision(ini, "r2", "r1", """
        import json
        for (body,) in op.get_bind().execute(sa.text("SELECT body FROM docs")):
            json.loads(body)
        op.add_column("docs", sa.Column("size", sa.Integer))
    """)
    made_up = trace(ini, "--dsn", pg_db.dsn)
    assert made_up.returncode == 1, made_up.stderr
    stopped = json.loads(made_up.stdout)["stopped"]
    assert stopped.startswith(f"{tmp_path / 'alembic' / 'versions' / 'r2.py'}:") and "JSONDecodeError" in stopped
    assert stopped.endswith("(the tables held rows trace made up: --no-rows traces on empty tables)")
    pg_db.execute("DROP TABLE docs, alembic_version")
    empty = trace(ini, "--dsn", pg_db.dsn, "--no-rows")
    assert empty.returncode == 0, empty.stderr
    report = json.loads(empty.stdout)
    assert report["stopped"] is None and [s["revision"] for s in report["statements"]] == ["r1", "r2", "r2"]
    assert pg_db.execute("SELECT count(*) FROM docs") == [(0,)]


def test_an_async_env_py_is_traced_as_alembic_runs_it(tmp_path, pg_db):
    """Alembic's async template (`alembic init -t async`): env.py's statements go out from a greenlet."""
    from tests.test_executor_alembic_async import HISTORY, async_project

    ini = async_project(tmp_path, pg_db.dsn, HISTORY)
    result = trace(ini, "--dsn", pg_db.dsn, "--no-rows")  # r2 inserts ids 1..1000: made-up rows would collide
    assert result.returncode == 0, result.stderr
    statements = json.loads(result.stdout)["statements"]
    assert [s["revision"] for s in statements] == ["r1", "r1", "r2", "r2", "r3", "r4", "r5", "r6", "r6"]
    count, check = statements[-2:]
    assert count["sql"] == "SELECT count(*) FROM orders" and count["scanned"] == ["orders"]
    assert check["locks_held"]["orders"] == "ACCESS EXCLUSIVE" and check["agrees"]
    assert "unrenderable-revision" in [f["rule"] for f in count["lint"]]  # lint cannot render what reads the database


def test_an_env_py_that_connects_elsewhere_runs_nothing_there(pg_db, pg_cluster):
    """The example's env.py prefers DATABASE_URL: tracing must not migrate that database."""
    elsewhere = pg_cluster.primary.dsn("postgres")
    result = trace(MESSAGING.parent, "--dsn", pg_db.dsn, env={**os.environ, "DATABASE_URL": elsewhere})
    assert "env.py connected to another database than the one being traced" in one_line_error(result, 1)
    with_tables = "SELECT count(*) FROM pg_tables WHERE tablename IN ('users', 'alembic_version')"
    assert pg_db.execute(with_tables) == [(0,)]
    import psycopg

    with psycopg.connect(elsewhere) as connection:
        assert connection.execute(with_tables).fetchall() == [(0,)]


def test_bad_input_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("not a migration\n")
    for path in (tmp_path / "notes.txt", tmp_path / "nowhere", tmp_path):
        result = CliRunner().invoke(main, ["trace", str(path)])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
        assert result.stderr.startswith(f"Error: Invalid value for PATH: {path}: neither an Alembic project "
                                        "(alembic.ini, or a folder holding env.py) nor .sql migrations (see '")
        assert len(result.stderr.splitlines()) == 1
    unreachable = trace(MESSAGING.parent, "--dsn", "postgresql://app:s3cret@127.0.0.1:1/scratch")
    assert one_line_error(unreachable, 1) == "Error: cannot connect to 127.0.0.1:1/scratch: connection refused"
    assert "s3cret" not in unreachable.stderr + unreachable.stdout


def test_a_psql_scripts_meta_commands_are_not_sent(tmp_path, pg_db):
    """`\\set ON_ERROR_STOP 1` and `\\echo` are psql's own: the SQL between them is traced, they are not sent."""
    pg_db.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind text)")
    (tmp_path / "001.sql").write_text("\\set ON_ERROR_STOP 1\nALTER TABLE events ADD COLUMN at date;\n\\echo done\n")
    result = trace(tmp_path, "--dsn", pg_db.dsn)
    assert result.returncode == 0, result.stderr
    meta, alter, echo = json.loads(result.stdout)["statements"]
    assert meta["note"] == echo["note"] == "psql meta-command: psql runs it itself, nothing is sent"
    assert alter["agrees"] and alter["locks_taken"] == {"events": "ACCESS EXCLUSIVE"}


def test_a_copy_whose_rows_psql_sends_is_not_run_and_the_rest_is(tmp_path, pg_db):
    """COPY ... FROM stdin and its rows (pg_dump's form): psql sends the rows; trace notes it and goes on."""
    pg_db.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind text)")
    (tmp_path / "001.sql").write_text("COPY events (id, kind) FROM stdin;\n1\tx\n\\.\nALTER TABLE events ADD COLUMN at date;\n")
    result = trace(tmp_path, "--dsn", pg_db.dsn)
    assert result.returncode == 0, result.stderr
    copy, alter = json.loads(result.stdout)["statements"]
    assert copy["note"] == "COPY whose rows psql sends (FROM STDIN, \\copy): not run"
    assert alter["agrees"] and alter["locks_taken"] == {"events": "ACCESS EXCLUSIVE"}


def test_a_statement_run_outside_a_transaction_block_shows_the_locks_seen_while_it_ran_and_its_rewrite(tmp_path, pg_db):
    """CREATE INDEX CONCURRENTLY holds SHARE UPDATE EXCLUSIVE while it waits for a writer's transaction to end: the
    trace reads it from another session meanwhile; VACUUM FULL's new file is read from the catalog after it."""
    pg_db.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text)")
    (tmp_path / "001.sql").write_text("-- migrator:no-transaction\n"
                                      "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\nVACUUM FULL users;\n")
    writer = psycopg.connect(pg_db.dsn)
    writer.execute("INSERT INTO users VALUES (0, 'w')")  # ROW EXCLUSIVE on users until it commits
    process = subprocess.Popen(CLI + ["trace", str(tmp_path), "--dsn", pg_db.dsn, "--format", "json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        poll(lambda: pg_db.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND starts_with(query, 'CREATE INDEX CONCURRENTLY')") == [(1,)], timeout=120)
    finally:
        writer.commit()
        writer.close()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    build, vacuum = json.loads(out)["statements"]
    assert build["locks_sampled"] and not build["scans_observed"] and build["agrees"]
    assert build["locks_taken"]["users"] == "SHARE UPDATE EXCLUSIVE" and build["rewritten"] == []
    assert vacuum["locks_sampled"] and vacuum["rewritten"] == ["users"] and vacuum["agrees"]


def test_the_text_output_says_what_was_not_observed():
    observed = Observed(in_transaction=False, sampled=True, milliseconds=3.0)
    assert describe(observed) == ("outside a transaction block · no lock seen (read from another session every 2 ms "
                                  "while it ran: a lock held for less can be missed) · no rewrite · scans not observed · 3.0 ms")


def test_an_alembic_autocommit_block_is_observed_in_a_transaction_of_its_own_where_it_may_run_in_one(tmp_path, pg_db):
    pg_db.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text)")
    ini = project(tmp_path, pg_db.dsn, {"r1": """
        with op.get_context().autocommit_block():
            op.add_column("users", sa.Column("note", sa.Text))
            op.create_index("users_email_idx", "users", ["email"], postgresql_concurrently=True)
    """}, options=", transaction_per_migration=True")
    result = trace(ini, "--dsn", pg_db.dsn)
    assert result.returncode == 0, result.stderr
    add_column, build = json.loads(result.stdout)["statements"]
    assert add_column["locks_taken"] == {"users": "ACCESS EXCLUSIVE"} and add_column["scans_observed"]
    assert add_column["note"].startswith("run in autocommit (autocommit_block()): observed in a transaction of its own")
    assert build["locks_sampled"] and not build["scans_observed"] and build["agrees"]
    assert pg_db.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'note'") == [(1,)]
