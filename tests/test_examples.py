"""The example messaging service: lint-clean but for its deliberately unsafe revision; its backfills work."""

import json
import sys
from pathlib import Path

from click.testing import CliRunner

from backfill import BackfillSpec, Runner
from migrator.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "messaging"


def lint(*paths):
    result = CliRunner().invoke(main, ["lint", "--config", str(EXAMPLES / "migrator.toml"), "--format", "json", *map(str, paths)])
    return result.exit_code, json.loads(result.stdout)


def test_example_migrations_pass_lint_except_the_unsafe_one():
    assert lint(EXAMPLES / "alembic.ini", EXAMPLES / "sql") == (0, [])
    code, findings = lint(*sorted((EXAMPLES / "unsafe").iterdir()))
    assert code == 1 and {(Path(f["path"]).suffix, f["rule"]) for f in findings} == {
        (".py", "require-concurrent-index"), (".sql", "require-concurrent-index")}


def test_alembic_and_sql_histories_have_the_same_steps():
    revisions = sorted(p.name.split("_", 1)[1].rsplit(".", 1)[0] for p in (EXAMPLES / "alembic" / "versions").glob("*.py"))
    files = sorted(p.name.split("_", 1)[1].rsplit(".", 1)[0] for p in (EXAMPLES / "sql").glob("*.sql"))
    assert revisions == files and len(files) == 8


def test_python_backfill_example(pg_db, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES / "backfill"))
    from sender_bigint import copy_sender

    pg_db.execute("CREATE TABLE messages (id bigint PRIMARY KEY, sender_id int NOT NULL, sender_id_big bigint)")
    pg_db.execute("INSERT INTO messages SELECT g, g %% 97, NULL FROM generate_series(1, 5000) g")
    result = Runner(BackfillSpec("copy-sender", "messages", function=copy_sender), pg_db.dsn, settings={"batch_size": 700}).run()
    assert (result.status, result.rows_changed) == ("done", 5000)
    assert pg_db.execute("SELECT count(*) FROM messages WHERE sender_id_big IS DISTINCT FROM sender_id") == [(0,)]
    sys.modules.pop("sender_bigint", None)


def test_command_backfill_example_names_real_options():
    script = (EXAMPLES / "backfill" / "fill_body_length.sh").read_text()
    assert "migrator backfill run fill-body-length --table messages" in script
    result = CliRunner().invoke(main, ["backfill", "run", "--help"])
    for option in ("--set", "--where", "--max-lag"):
        assert option in script and option in result.output
