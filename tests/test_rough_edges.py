"""What a new user hit first (issue 12): bare-number durations, apply without PATH, connection
errors, `rules` in a pipe, configuration per linted file, failed backfills, the key column in
--set, readable `backfill status`, and named sandboxes."""

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from backfill import BackfillError, BackfillSpec, Runner, state
from backfill.progress import format_lags
from lint_rules import all_rules
from migrator.cli import main
from migrator.sandbox import server_user

MIGRATOR = [sys.executable, "-m", "migrator"]
UNSAFE_INDEX = "CREATE INDEX users_email_idx ON users (email);\n"


def migrator(*arguments, cwd=None, env=None):
    return subprocess.run(MIGRATOR + list(arguments), capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def sql_folder(tmp_path):
    (tmp_path / "0001_index.sql").write_text(UNSAFE_INDEX)
    return tmp_path


# --- durations ---------------------------------------------------------------------------------
@pytest.mark.parametrize("arguments, option", [
    (["apply", "PATH", "--lock-timeout", "5"], "--lock-timeout"),
    (["apply", "PATH", "--max-timeout", "5"], "--max-timeout"),
    (["apply", "PATH", "--deadline", "300"], "--deadline"),
    (["plan", "PATH", "--statement-timeout", "2.5"], "--statement-timeout"),
    (["lint", "PATH", "--max-timeout", "5"], "--max-timeout"),
    (["backfill", "run", "x", "--table", "t", "--set", "a = 1", "--dsn", "postgresql://h/d", "--max-lag", "500"], "--max-lag"),
])
def test_a_bare_number_for_a_duration_option_is_an_error_naming_it_and_suggesting_units(sql_folder, arguments, option):
    result = CliRunner().invoke(main, [str(sql_folder) if a == "PATH" else a for a in arguments])
    assert result.exit_code == 2
    assert option in result.output and re.search(r"has no unit: write [\d.]+ms or [\d.]+s", result.output)


def test_zero_and_durations_with_units_are_accepted(sql_folder):
    assert CliRunner().invoke(main, ["plan", str(sql_folder), "--lock-timeout", "2s", "--online-statement-timeout", "0"]).exit_code == 0


def test_bare_numbers_are_refused_in_the_config_file_and_in_backfill_set_too(tmp_path, sql_folder):
    (tmp_path / "migrator.toml").write_text("max-timeout = 5000\n")
    result = migrator("lint", str(sql_folder / "0001_index.sql"), cwd=tmp_path)
    assert result.returncode == 2 and "max-timeout" in result.stderr and "has no unit" in result.stderr
    with pytest.raises(BackfillError, match=r"max_lag='1000': '1000' has no unit: write 1000ms or 1000s"):
        state.parse_setting("max_lag", "1000")
    assert state.parse_setting("max_lag", "1s") == 1000


# --- apply / plan without PATH ---------------------------------------------------------------
@pytest.mark.parametrize("command", ["apply", "plan"])
def test_apply_and_plan_require_a_path_and_say_so_in_their_help(tmp_path, command):
    (tmp_path / "junk.bin").write_bytes(b"\x00\xff\x00")
    result = migrator(command, "--dsn", "postgresql://u@127.0.0.1:1/x", cwd=tmp_path)
    assert result.returncode == 2 and "Missing argument 'PATH'" in result.stderr
    assert "PATH (required) is an Alembic project" in migrator(command, "--help").stdout
    bad = migrator(command, str(tmp_path), "--dsn", "postgresql://u@127.0.0.1:1/x")
    assert bad.returncode == 1 and bad.stderr.strip() == f"Error: {tmp_path}: no .sql migrations here"


# --- connection errors -----------------------------------------------------------------------
@pytest.mark.parametrize("arguments", [["apply", "{folder}"], ["plan", "{folder}"], ["backfill", "list"],
                                       ["backfill", "status", "x"]])
def test_a_refused_connection_says_connection_refused_on_one_line_without_the_password(sql_folder, arguments):
    result = migrator(*[a.format(folder=sql_folder) for a in arguments], "--dsn", "postgresql://app:s3cret@127.0.0.1:1/x")
    assert result.returncode == 1
    assert result.stderr == "Error: cannot connect to 127.0.0.1:1/x: connection refused\n"


# --- the README's test command on a fresh machine ----------------------------------------------
def test_pgbouncer_is_obtained_without_root_and_without_installing_it(tmp_path):
    """The path a machine without PgBouncer takes (tests/pgbouncer.py), taken here even where one is installed."""
    from tests.debian import unpacked

    binary, environment = unpacked("pgbouncer", "usr/sbin/pgbouncer", tmp_path / "pgbouncer")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, env={**os.environ, **environment})
    assert version.returncode == 0 and version.stdout.startswith("PgBouncer ")
    assert binary.startswith(str(tmp_path))


# --- rules in a pipe -------------------------------------------------------------------------
def test_rules_never_wraps_ids_when_stdout_is_not_a_terminal():
    result = migrator("rules", env={"COLUMNS": "40"})
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["rule", "severity", "default", "summary"]
    rules = all_rules()
    assert [line.split()[0] for line in lines[1:]] == list(rules)
    for line in lines[1:]:
        rule = rules[line.split()[0]]
        assert line.endswith(rule.summary) and line.split()[1] == rule.severity


# --- configuration per linted file -----------------------------------------------------------
def test_configuration_is_found_upward_from_each_linted_file_not_from_the_working_directory(tmp_path):
    quiet = tmp_path / "quiet" / "db" / "migrations"
    loud = tmp_path / "loud"
    for folder in (quiet, loud):
        folder.mkdir(parents=True)
        (folder / "0001.sql").write_text(UNSAFE_INDEX)
    (tmp_path / "quiet" / "migrator.toml").write_text(
        'ignore = ["require-concurrent-index", "require-lock-timeout", "require-statement-timeout"]\n')
    for cwd in (tmp_path / "quiet", tmp_path, Path("/")):
        result = migrator("lint", "--format", "json", str(quiet / "0001.sql"), str(loud / "0001.sql"), cwd=cwd)
        findings = json.loads(result.stdout)
        assert {f["path"] for f in findings} == {str(loud / "0001.sql")}, cwd
        assert "require-concurrent-index" in {f["rule"] for f in findings}


def test_an_explicit_config_applies_to_every_file_and_a_bad_one_is_named(tmp_path):
    (tmp_path / "a.sql").write_text(UNSAFE_INDEX)
    (tmp_path / "migrator.toml").write_text('ignore = ["nope"]\n')
    result = migrator("lint", str(tmp_path / "a.sql"), cwd="/")
    assert result.returncode == 2 and f"{tmp_path / 'migrator.toml'}" in result.stderr and "unknown rule 'nope'" in result.stderr
    (tmp_path / "other.toml").write_text('ignore = ["require-concurrent-index"]\n')
    result = migrator("lint", "--format", "json", "--config", str(tmp_path / "other.toml"), str(tmp_path / "a.sql"))
    assert "require-concurrent-index" not in {f["rule"] for f in json.loads(result.stdout)}


# --- backfills -------------------------------------------------------------------------------
def backfill_cli(*arguments, dsn):
    return migrator("backfill", *arguments, "--dsn", dsn)


def test_a_failed_backfill_records_its_error_shows_failed_and_resumes_when_run_again(pg_db):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, code text)")
    pg_db.execute("INSERT INTO items SELECT g FROM generate_series(1, 3000) g")
    pg_db.execute("CREATE UNIQUE INDEX items_code ON items (code)")
    command = ("run", "codes", "--table", "items", "--set", "code = 'x' || (id / 2000)", "--batch-size", "500")
    failed = backfill_cli(*command, dsn=pg_db.dsn)
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1
    assert "duplicate key value violates unique constraint" in failed.stderr and "rerun the same command to resume" in failed.stderr
    listing = backfill_cli("list", dsn=pg_db.dsn).stdout
    assert re.search(r"codes\s+public\.items\s+failed .*duplicate key value", listing)
    status = backfill_cli("status", "codes", dsn=pg_db.dsn).stdout
    assert status.startswith("backfill codes: failed: backfill codes: duplicate key value violates unique constraint")
    assert "to resume: fix the cause, then run the same `migrator backfill run codes ...` command again" in status
    pg_db.execute("DROP INDEX items_code")
    resumed = backfill_cli(*command, "--log-format", "json", dsn=pg_db.dsn)
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert events[0]["event"] == "resume_failed" and "duplicate key" in events[0]["error"]
    assert events[-1]["status"] == "done"
    assert backfill_cli("status", "codes", dsn=pg_db.dsn).stdout.startswith("backfill codes: done\n")
    assert pg_db.execute("SELECT count(*) FROM items WHERE code IS NULL") == [(0,)]


@pytest.mark.parametrize("sets, key", [("id = id + 1", None), ("b = b || 'x'", "a,b")])
def test_assigning_a_key_column_is_refused_before_anything_is_written(pg_db, sets, key):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, a int NOT NULL, b text NOT NULL, UNIQUE (a, b))")
    pg_db.execute("INSERT INTO items SELECT g, g, g::text FROM generate_series(1, 100) g")
    column = sets.split()[0]
    result = backfill_cli("run", "k", "--table", "items", "--set", sets, *(["--key", key] if key else []), dsn=pg_db.dsn)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: --set {column}: {column} is the backfill's key of public.items")
    assert pg_db.execute("SELECT to_regclass('migrator.backfills')") == [(None,)]


def test_status_prints_keys_expressions_and_durations_as_people_write_them(pg_db):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, a int NOT NULL, b int)")
    pg_db.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 10000) g")
    Runner(BackfillSpec("double", "items", {"b": "a * 2"}, where="b IS NULL"), pg_db.dsn,
           settings={"max_lag": 1500, "throttle_query": None}).run()
    status = backfill_cli("status", "double", dsn=pg_db.dsn).stdout
    assert "range up to 10000\n" in status and "  set b = a * 2 where b IS NULL\n" in status
    assert "target_batch_time=200ms" in status and "max_lag=1500ms" in status and "statement_timeout=30s" in status
    assert "throttle_query=none" in status
    assert not re.search(r"None|\{|\(|\[", status)
    assert state.format_key(["3", "o'k"], [["a", "integer"], ["b", "text"]]) == "(3, 'o''k')"


def test_progress_never_says_no_replicas_while_a_replica_streams(pg_db):
    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, b text)")
    pg_db.execute("INSERT INTO items SELECT g FROM generate_series(1, 20000) g")
    seen = []
    Runner(BackfillSpec("lagged", "items", {"b": "id::text"}), pg_db.dsn,
           settings={"batch_size": 500}).run(progress=lambda runner: seen.append(format_lags(runner.shared.lags)))
    assert seen and "no replicas" not in seen
    assert any(text.startswith("replica1 ") for text in seen) or seen == ["not read yet"]


# --- named sandboxes -------------------------------------------------------------------------
def test_sandboxes_have_names_and_down_and_status_act_on_the_named_or_current_one_only(tmp_path):
    temp = Path(tempfile.mkdtemp(prefix="names-"))  # reachable by the servers' unprivileged user
    os.chmod(temp, 0o755)
    job_a, job_b = tmp_path / "job-a", tmp_path / "job-b"
    job_a.mkdir(), job_b.mkdir()
    env = {"TMPDIR": str(temp)}
    foreign = temp / "migrator-sandbox-foreign"  # another user's detached sandbox
    foreign.mkdir()
    (foreign / "cluster.json").write_text(json.dumps({"name": "job-a", "uid": os.getuid() + 4242, "detached": True,
                                                      "owner_pid": 1, "nodes": []}))
    try:
        a = migrator("sandbox", "up", "--detach", "--replicas", "0", cwd=job_a, env=env)
        named = migrator("sandbox", "up", "--detach", "--replicas", "0", "--name", "ci-42", cwd=job_a, env=env)
        b = migrator("sandbox", "up", "--detach", "--replicas", "0", cwd=job_b, env=env)
        assert a.returncode == named.returncode == b.returncode == 0, a.stderr + named.stderr + b.stderr
        again = migrator("sandbox", "up", "--detach", "--replicas", "0", cwd=job_a, env=env)
        assert again.returncode == 1 and re.match(r"Error: sandbox 'job-a-[0-9a-f]{6}' is already running", again.stderr)
        status = migrator("sandbox", "status", cwd=job_a, env=env).stdout
        assert re.match(r"job-a-[0-9a-f]{6}: ", status) and "ci-42" not in status and "job-b" not in status
        assert "ci-42" in migrator("sandbox", "status", "--all", cwd=job_a, env=env).stdout
        assert migrator("sandbox", "down", "--name", "ci-42", cwd=job_b, env=env).stdout == "stopped 1 sandbox\n"
        assert migrator("sandbox", "down", cwd=job_a, env=env).stdout == "stopped 1 sandbox\n"
        assert "job-b" in migrator("sandbox", "status", cwd=job_b, env=env).stdout
        starting = temp / "migrator-sandbox-starting"  # one of yours being created right now: it copies the cache
        starting.mkdir()
        cache = [p for p in temp.glob("migrator-initdb-*")]
        assert len(cache) == 1 and cache[0].stat().st_uid == (server_user() or pwd.getpwuid(os.getuid())).pw_uid
        kept = "stopped 1 sandbox\nkept the initdb cache: a sandbox of yours is still there\n"
        assert migrator("sandbox", "down", "--all", cwd=tmp_path, env=env).stdout == kept and cache[0].exists()
        starting.rmdir()
        removed = "stopped 0 sandboxes\nremoved the initdb cache (1 folder)\n"
        assert migrator("sandbox", "down", "--all", cwd=tmp_path, env=env).stdout == removed
        assert [p.name for p in temp.iterdir()] == ["migrator-sandbox-foreign"]
    finally:
        migrator("sandbox", "down", "--all", env=env)
        shutil.rmtree(temp)


def groups(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command group under `group`, as the arguments that name it."""
    found = [path]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += groups(command, (*path, name))
    return found


@pytest.mark.parametrize("path", groups(main), ids=lambda path: " ".join(("migrator", *path)))
def test_a_group_given_no_command_prints_its_help_as_help_does(path):
    """Click's convention for groups (8.2): the help, on stderr, exit 2 (a command is missing); not
    an `Error:` line with the help folded into it and a cut-off hint glued on."""
    bare = CliRunner().invoke(main, list(path), prog_name="migrator")
    helped = CliRunner().invoke(main, [*path, "--help"], prog_name="migrator")
    assert helped.exit_code == 0 and helped.stdout.startswith(f"Usage: {' '.join(('migrator', *path))} ")
    assert (bare.exit_code, bare.stdout, bare.stderr) == (2, "", helped.stdout)
