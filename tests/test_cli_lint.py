"""`migrator lint`, `rules` and `explain` as users run them, bad input included."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from migrator.cli import main

UNSAFE = "CREATE INDEX users_email_idx ON users (email);\n"
SAFE = "-- migrator:no-transaction\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n"


def run(*args, input=None):
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def files(tmp_path):
    (tmp_path / "unsafe.sql").write_text(UNSAFE)
    (tmp_path / "safe.sql").write_text(SAFE)
    return tmp_path


def test_text_output_groups_by_file_with_location_rule_statement_and_help(files):
    result = run("lint", str(files / "unsafe.sql"))
    assert result.exit_code == 1
    assert f"{files / 'unsafe.sql'}:1:1  require-concurrent-index  CREATE INDEX on existing table users" in result.output
    assert "| CREATE INDEX users_email_idx ON users (email)" in result.output
    assert "help: CREATE INDEX CONCURRENTLY users_email_idx" in result.output


def test_safe_file_exits_zero(files):
    result = run("lint", str(files / "safe.sql"))
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output


def test_json_output_fields(files):
    result = run("lint", "--format", "json", str(files))
    findings = json.loads(result.stdout)
    assert result.exit_code == 1
    first = findings[0]
    assert {"path", "line", "column", "rule", "severity", "message", "help"} <= set(first)
    assert first["path"].endswith("unsafe.sql") and first["line"] == 1 and first["column"] == 1
    assert {f["severity"] for f in findings} <= {"error", "warning", "info"}


def test_warnings_alone_exit_zero(tmp_path):
    (tmp_path / "w.sql").write_text("SET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '5s';\nALTER TABLE t ALTER COLUMN c TYPE text;\n")
    result = run("lint", "--format", "json", str(tmp_path / "w.sql"))
    assert [f["severity"] for f in json.loads(result.stdout)] == ["warning"]
    assert result.exit_code == 0


def test_stdin(files):
    result = run("lint", "-", input=UNSAFE)
    assert result.exit_code == 1 and "<stdin>:1:1" in result.output


def test_select_and_ignore(files):
    assert run("lint", "--ignore", "require-concurrent-index,require-lock-timeout,require-statement-timeout",
               str(files / "unsafe.sql")).exit_code == 0
    result = run("lint", "--select", "require-lock-timeout", "--format", "json", str(files / "unsafe.sql"))
    assert {f["rule"] for f in json.loads(result.stdout)} == {"require-lock-timeout"}


def test_select_still_reports_what_could_not_be_read(tmp_path):
    """A statement cut short or not understood could hide what the selected rule looks for: it is reported
    under any --select, and silenced only by name."""
    path = tmp_path / "m.sql"
    path.write_text("CREATE INDEX a ON t (c) WHERE;\nALTER DOMAIN d FOO;\nCREATE INDEX b ON t (c);\n")
    result = run("lint", "--select", "require-concurrent-index", "--format", "json", str(path))
    assert [(f["line"], f["rule"]) for f in json.loads(result.stdout)] == [
        (1, "syntax-error"), (2, "unanalyzable-statement"), (3, "require-concurrent-index")]
    assert result.exit_code == 1
    result = run("lint", "--select", "require-concurrent-index", "--ignore", "syntax-error,unanalyzable-statement",
                 "--format", "json", str(path))
    assert [f["rule"] for f in json.loads(result.stdout)] == ["require-concurrent-index"]


def test_a_file_reached_by_several_paths_is_linted_once(files):
    """The same file named relatively, through a symlink and inside its folder: one result."""
    (files / "link.sql").symlink_to(files / "unsafe.sql")
    (files / "safe.sql").unlink()
    result = run("lint", "--format", "json", "--select", "require-concurrent-index",
                 str(files), str(files / "unsafe.sql"), str(files / "." / "unsafe.sql"), str(files / "link.sql"))
    assert [f["rule"] for f in json.loads(result.stdout)] == ["require-concurrent-index"]


EXTENSION_SCRIPT = (
    '\\echo Use "CREATE EXTENSION myext" to load this file. \\quit\n'
    "CREATE TABLE myext.node (id oid PRIMARY KEY);\n"
    "CREATE TABLE myext.node_interface (id oid PRIMARY KEY, node_id oid REFERENCES node (id));\n"
    "CREATE INDEX ON node_interface (node_id);\n"
)


@pytest.mark.parametrize("control, schema_of_bare_names", [
    ("comment = 'x'\nschema = myext\nrelocatable = false\n", "myext"),
    ("# relocatable: CREATE EXTENSION ... SCHEMA s\nrelocatable = true\n", "@extschema@"),
])
def test_an_extension_script_resolves_bare_names_in_its_schema_as_create_extension_runs_it(
        tmp_path, monkeypatch, control, schema_of_bare_names):
    """pglogical's scripts create pglogical.node, then name it `node`: CREATE EXTENSION runs a script with
    search_path set to the extension's schema (its control file's `schema`), so that is the new table, not
    an existing public.node held and scanned. The control file is part of the cache key."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    script = tmp_path / "sql" / "myext--1.0.sql"
    script.parent.mkdir()
    script.write_text(EXTENSION_SCRIPT)

    def rules():
        return sorted({f["rule"] for f in json.loads(run("lint", "--format", "json", str(script)).stdout)})

    assert "require-concurrent-index" in rules() and "work-while-holding-lock" in rules()  # no control file: public.node
    (tmp_path / "myext.control").write_text(control)  # in the folder above, as in most extension repositories
    from migrator.runners import extension_search_path

    assert extension_search_path(script, EXTENSION_SCRIPT) == [schema_of_bare_names]
    if schema_of_bare_names == "myext":
        assert rules() == []
    (tmp_path / "myext.control").unlink()
    assert "require-concurrent-index" in rules()


def test_pg_version_and_max_timeout_options(tmp_path):
    path = tmp_path / "m.sql"
    path.write_text("SET LOCAL lock_timeout = '8s';\nSET LOCAL statement_timeout = '8s';\nALTER TABLE t ADD COLUMN a int DEFAULT 0;\n")
    assert run("lint", str(path)).exit_code == 1
    assert run("lint", "--max-timeout", "10s", str(path)).exit_code == 0
    assert run("lint", "--max-timeout", "10s", "--pg-version", "10", str(path)).exit_code == 1


def test_config_from_pyproject_found_upward(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.migrator]\nignore = ["require-concurrent-index", "require-lock-timeout", "require-statement-timeout"]\n')
    sub = tmp_path / "db" / "migrations"
    sub.mkdir(parents=True)
    (sub / "1.sql").write_text(UNSAFE)
    monkeypatch.chdir(sub)
    assert run("lint", "1.sql").exit_code == 0


def test_migrator_toml_and_explicit_config(tmp_path):
    config = tmp_path / "migrator.toml"
    config.write_text('pg-version = 11\nmax-timeout = "2s"\n')
    path = tmp_path / "m.sql"
    path.write_text("SET LOCAL lock_timeout = '3s';\nSET LOCAL statement_timeout = '1s';\nALTER TABLE t ADD COLUMN a int;\n")
    result = run("lint", "--config", str(config), "--format", "json", str(path))
    assert [f["rule"] for f in json.loads(result.stdout)] == ["timeout-exceeds-limit"]


@pytest.mark.parametrize("content, message", [
    ('pg-version = 9\n', "pg-version"),
    ('colour = "red"\n', "unknown setting 'colour'"),
    ('max-timeout = "soon"\n', "max-timeout"),
    ('not toml', "not valid TOML"),
])
def test_bad_config_is_a_usage_error_naming_the_file(tmp_path, content, message):
    config = tmp_path / "migrator.toml"
    config.write_text(content)
    (tmp_path / "m.sql").write_text("SELECT 1;")
    result = run("lint", "--config", str(config), str(tmp_path / "m.sql"))
    assert result.exit_code == 2
    assert message in result.output and "migrator.toml" in result.output


@pytest.mark.parametrize("args, message", [
    (["--pg-version", "9"], "--pg-version"),
    (["--select", "no-such-rule"], "no-such-rule"),
    (["--max-timeout", "fast"], "not a duration"),
    (["--format", "xml"], "--format"),
])
def test_bad_options_are_usage_errors(files, args, message):
    result = run("lint", *args, str(files / "safe.sql"))
    assert result.exit_code == 2 and message in result.output


def test_bad_inputs_are_reported_and_the_rest_still_linted(tmp_path):
    (tmp_path / "good.sql").write_text(UNSAFE)
    (tmp_path / "latin1.sql").write_bytes("SELECT 'caf\xe9';\n".encode("latin-1"))
    (tmp_path / "binary.sql").write_bytes(b"\x00\x01\x02PK\x03\x04")
    (tmp_path / "empty.sql").write_text("")
    (tmp_path / "broken.sql").write_text("SELECT 1;\nSELECT 'unterminated;\n")
    (tmp_path / "nonsense.sql").write_text("CALL refresh_lookup();\n")
    big = tmp_path / "big.sql"
    big.write_text("SELECT 1;\n" * 2_100_000)  # about 20 MB
    paths = [str(tmp_path / name) for name in ("latin1.sql", "binary.sql", "empty.sql", "broken.sql", "nonsense.sql", "big.sql", "missing.sql", "good.sql")]
    result = run("lint", "--format", "json", *paths)
    assert result.exit_code == 2
    errors = result.stderr
    assert "latin1.sql: error: line 1: not valid UTF-8" in errors
    assert "binary.sql: error: binary file" in errors
    assert "empty.sql: empty file, nothing to lint" in errors
    assert "big.sql: error: file is 20.0 MB, above the 5.0 MB limit" in errors
    assert "missing.sql: error: no such file or directory" in errors
    assert "Traceback" not in result.output
    findings = json.loads(result.stdout)
    by_file = {(f["path"].rsplit("/", 1)[-1], f["rule"]) for f in findings}
    assert ("good.sql", "require-concurrent-index") in by_file
    assert ("broken.sql", "syntax-error") in by_file
    assert ("nonsense.sql", "unanalyzable-statement") in by_file
    [syntax] = [f for f in findings if f["rule"] == "syntax-error"]
    assert syntax["line"] == 2


def test_large_file_within_a_raised_limit_is_linted(tmp_path):
    (tmp_path / "migrator.toml").write_text("max-file-size = 30_000_000\n")
    big = tmp_path / "big.sql"
    big.write_text("-- a generated data migration\n" + "COMMENT ON TABLE t IS '" + "x" * 20_000_000 + "';\n")
    result = run("lint", "--config", str(tmp_path / "migrator.toml"), str(big))
    assert result.exit_code == 0, result.output


def test_directory_without_sql_is_an_error(tmp_path):
    (tmp_path / "README.md").write_text("nothing here")
    result = run("lint", str(tmp_path))
    assert result.exit_code == 2 and "no .sql files" in result.stderr


def test_directories_are_searched_recursively(files):
    (files / "nested").mkdir()
    (files / "nested" / "x.sql").write_text(UNSAFE)
    result = run("lint", "--format", "json", str(files))
    assert {f["path"].rsplit("/", 1)[-1] for f in json.loads(result.stdout)} == {"unsafe.sql", "x.sql"}


def test_directories_give_the_files_that_reach_postgresql_by_their_tools_naming(tmp_path, monkeypatch):
    """Synapse's deltas (NAME.sql.postgres, NAME.sql.sqlite), mautrix's upgrades (NAME.postgres.sql,
    NAME.sqlite.sql) and popx's (NAME.DIALECT.up.sql, NAME.up.sql for every database), as they ship."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    layout = {
        "synapse/delta/88/04_index.sql": UNSAFE,
        "synapse/delta/88/05_drop_old_otks.sql.postgres": UNSAFE,
        "synapse/delta/88/05_drop_old_otks.sql.sqlite": UNSAFE,
        "mautrix/upgrades/02-sender.postgres.sql": UNSAFE,
        "mautrix/upgrades/02-sender.sqlite.sql": UNSAFE,
        "popx/2019_identities.up.sql": UNSAFE,
        "popx/2019_identities.postgres.up.sql": UNSAFE,
        "popx/2019_identities.postgres.down.sql": UNSAFE,
        "popx/2019_identities.cockroach.up.sql": UNSAFE,
        "popx/2019_identities.mysql.up.sql": UNSAFE,
        "popx/2019_identities.sqlite3.up.sql": UNSAFE,
    }
    for name, text in layout.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    linted = {"04_index.sql", "05_drop_old_otks.sql.postgres", "02-sender.postgres.sql", "2019_identities.up.sql",
              "2019_identities.postgres.up.sql"}
    for attempt in ("read", "from the cache"):
        result = run("lint", "--format", "json", str(tmp_path / "synapse"), str(tmp_path / "mautrix"), str(tmp_path / "popx"))
        assert {f["path"].rsplit("/", 1)[-1] for f in json.loads(result.stdout)} == linted, attempt
    cached = [json.loads(pack.read_text()) for pack in (tmp_path / "cache" / "migrator" / "lint").glob("*.json")]
    assert sum(map(len, cached)) == 1, "one content, one entry: the .sql.postgres file's result is cached too"
    only_sqlite = run("lint", str(tmp_path / "mautrix" / "upgrades" / "02-sender.sqlite.sql"))
    assert only_sqlite.exit_code == 1, "a file named on the command line is linted whatever its name"


def test_rules_lists_every_rule_and_explain_renders_docs():
    result = run("rules")
    assert result.exit_code == 0
    for rule_id in ("require-concurrent-index", "set-not-null", "unanalyzable-statement", "unused-ignore"):
        assert rule_id in result.output
    doc = run("explain", "add-foreign-key").output
    assert "## What it does" in doc and "## Why is this bad?" in doc and "## Use instead" in doc and "NOT VALID" in doc
    bad = run("explain", "nope")
    assert bad.exit_code == 2 and "unknown rule 'nope'" in bad.output


def test_console_script_runs_without_traceback(tmp_path):
    path = tmp_path / "x.sql"
    path.write_bytes(b"\xff\xfe")
    result = subprocess.run([sys.executable, "-m", "migrator", "lint", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "not valid UTF-8" in result.stderr and "Traceback" not in result.stderr


def test_lint_dsn_trusts_a_requires_backfill_gate_as_apply_does(pg_db, tmp_path):
    from tests.test_executor_alembic import project
    from tests.test_gates import start_fill_b

    pg_db.execute("CREATE TABLE items (id bigint PRIMARY KEY, a int NOT NULL, b int)")
    pg_db.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 30000) g")
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "0001_nn.sql").write_text("-- migrator:requires-backfill fill-b\nALTER TABLE items ALTER COLUMN b SET NOT NULL;\n")
    (sql / "0002_other.sql").write_text("-- migrator:requires-backfill fill-c\nALTER TABLE items ALTER COLUMN b SET NOT NULL;\n")
    ini = project(tmp_path / "alembic_project", pg_db.dsn, {
        "0001": '# migrator:requires-backfill fill-b\nop.alter_column("items", "b", nullable=False)',
        "0002": 'op.drop_column("items", "a")',
    })
    thread = start_fill_b(pg_db, 5000, at_least=1)
    try:
        run("backfill", "pause", "fill-b", "--dsn", pg_db.dsn)
        on_sql = run("lint", "--select", "unfinished-backfill", "--dsn", pg_db.dsn, str(sql))
        on_alembic = run("lint", "--select", "unfinished-backfill", "--dsn", pg_db.dsn, str(ini.parent))
    finally:
        run("backfill", "cancel", "fill-b", "--dsn", pg_db.dsn)
        thread.join(60)
    assert "0001_nn.sql" not in on_sql.output, on_sql.output
    assert "0002_other.sql" in on_sql.output and "backfill fill-b (paused) still writes it" in on_sql.output
    assert "0001.py" not in on_alembic.output, on_alembic.output
    assert "dropping items.a while backfill fill-b (paused) still reads it" in on_alembic.output


# Statements that tokenize but that PostgreSQL refuses, each after a valid first line: (SQL, line named)
CUT_SHORT = [
    ("CREATE INDEX foo ON bar (", 2),  # cut at the end of the file
    ("CREATE INDEX foo ON bar (;\nSELECT 1;", 2),  # as psql reads it, the ';' inside '(' ends nothing
    ("ALTER TABLE t ADD COLUMN x int DEFAULT (1;", 2),
    ("SELECT (1));", 2),
    ("SELECT ARRAY[1, 2;", 2),
    ("ALTER TABLE t ADD COLUMN;", 2),
    ("ALTER TABLE t\n  ADD COLUMN x int,;", 3),
    ("DELETE FROM t WHERE;", 2),
    ("SELECT * FROM t WHERE c = 1 AND\n;", 2),
    ("GRANT SELECT ON t TO;", 2),
    ("SELECT 'abc;\nSELECT 2;", 2),  # missing closing quote
]
STILL_VALID = (
    "CREATE TABLE t (c int DEFAULT 1);\nCREATE TABLE a (x int);\nCREATE TABLE b (x int);\nCREATE TABLE y (\"from\" int);\n"
    "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\n"
    "SELECT 1 AS on, x.from FROM y AS x;\nALTER TABLE t ALTER COLUMN c DROP DEFAULT;\n"
    "DO $$ BEGIN IF (1 = 1) THEN PERFORM (2); END IF; END $$;\nSELECT (ARRAY[1, 2])[1], (SELECT 1)\n"
)


@pytest.mark.parametrize("sql, line", CUT_SHORT)
def test_a_statement_postgresql_refuses_is_a_syntax_error_naming_its_line(pg_db, tmp_path, sql, line):
    import psycopg

    (tmp_path / "m.sql").write_text("SELECT 1;\n" + sql)
    findings = json.loads(run("lint", "--format", "json", str(tmp_path / "m.sql")).stdout)
    assert [f["rule"] for f in findings] == ["syntax-error"]
    assert f"line {line}" in findings[0]["message"] or findings[0]["line"] == line, findings
    with pytest.raises(psycopg.errors.SyntaxError), psycopg.connect(pg_db.dsn) as connection:
        connection.execute(sql)


def test_valid_sql_with_parentheses_semicolons_and_labels_is_no_syntax_error(pg_db, tmp_path):
    import psycopg

    (tmp_path / "m.sql").write_text(STILL_VALID + "\\set ON_ERROR_STOP 1\nSELECT :'x', ${flyway}, @extschema@.f(1);\n")
    findings = json.loads(run("lint", "--format", "json", str(tmp_path / "m.sql")).stdout)
    assert "syntax-error" not in [f["rule"] for f in findings] and "unanalyzable-statement" not in [f["rule"] for f in findings]
    with psycopg.connect(pg_db.dsn) as connection:  # PostgreSQL takes it all as one script
        connection.execute(STILL_VALID)


def test_the_folder_of_an_alembic_project_lints_its_revisions_and_its_sql_folders_each_file_once(tmp_path):
    from tests.test_executor_alembic import project

    ini = project(tmp_path, "postgresql://app@127.0.0.1/app", {"0001": 'op.create_index("users_email", "users", ["email"])'})
    (tmp_path / "unsafe").mkdir()
    (tmp_path / "unsafe" / "0002.sql").write_text(UNSAFE)
    (tmp_path / "alembic" / "versions" / "helper.sql").write_text(UNSAFE)  # read by a revision: the project's own

    def linted(*paths):
        result = run("lint", "--format", "json", "--select", "require-concurrent-index", *map(str, paths))
        return sorted(f["path"].rsplit("/", 1)[-1] for f in json.loads(result.stdout))

    assert linted(tmp_path) == ["0001.py", "0002.sql"]
    assert linted(tmp_path, tmp_path / "unsafe" / "0002.sql", tmp_path / "unsafe") == ["0001.py", "0002.sql"]
    assert linted(ini) == ["0001.py"], "alembic.ini names the project alone"
