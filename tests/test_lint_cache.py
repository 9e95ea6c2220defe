"""The lint result cache: an unchanged re-run reads results back without loading the linter."""

import json
import subprocess
import sys

from click.testing import CliRunner

from migrator import lint_cache
from migrator.cli import main
from migrator.config import Config

UNSAFE = "ALTER TABLE users ADD COLUMN nickname text;\n"


def lint_json(*args):
    result = CliRunner().invoke(main, ["lint", "--format", "json", *map(str, args)])
    return result.exit_code, json.loads(result.stdout)


def entries(tmp_path) -> dict:
    """Every cached entry, from every pack."""
    found = {}
    for pack in (tmp_path / "cache" / "migrator" / "lint").glob("*.json"):
        found.update(json.loads(pack.read_text()))
    return found


def test_a_rerun_gives_the_same_findings_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    migration = tmp_path / "m" / "001.sql"
    migration.parent.mkdir()
    migration.write_text(UNSAFE)
    first = lint_json(migration)
    assert len(entries(tmp_path)) == 1
    assert lint_json(migration) == first
    assert {f["rule"] for f in first[1]} == {"require-lock-timeout", "require-statement-timeout"}
    # the cached run never loads the linter: no sqlglot in the process
    code = ("import sys\nfrom migrator.cli import main\ntry:\n    main(['lint', sys.argv[1]])\n"
            "except SystemExit:\n    pass\nprint('sqlglot' in sys.modules, file=sys.stderr)")
    run = subprocess.run([sys.executable, "-c", code, str(migration)], capture_output=True, text=True)
    assert run.stderr.strip().splitlines()[-1] == "False"
    assert "001.sql:1:1" in run.stdout


def test_what_decides_a_result_is_in_its_key(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    migration = tmp_path / "001.sql"
    migration.write_text("SET lock_timeout = '1s';\nREPACK events;\n")
    assert [f["rule"] for f in lint_json(migration)[1]] == ["unanalyzable-statement"]
    assert "table-rewrite-command" in [f["rule"] for f in lint_json("--pg-version", 19, migration)[1]]
    assert [f["rule"] for f in lint_json("--pg-version", 19, "--select", "unanalyzable-statement", migration)[1]] == []
    migration.write_text("SELECT 1;\n")
    assert lint_json("--pg-version", 19, migration) == (0, [])
    goose = tmp_path / "002.sql"
    goose.write_text("CREATE INDEX CONCURRENTLY i ON t (a);\n")
    assert [f["rule"] for f in lint_json("--runner", "goose", goose)[1]] == ["concurrently-in-transaction"]
    assert lint_json("--runner", "psql", goose)[1] == []
    packs = list((tmp_path / "cache" / "migrator" / "lint").glob("*.json"))
    assert sum(len(json.loads(pack.read_text())) for pack in packs) == 6  # one entry per content and settings


def test_a_new_migrator_version_or_changed_rule_is_a_new_key(monkeypatch):
    before = lint_cache.LintCache(Config()).prefix
    monkeypatch.setattr(lint_cache, "__version__", "99.0")
    lint_cache.code_fingerprint.cache_clear()
    try:
        assert lint_cache.LintCache(Config()).prefix != before
    finally:
        monkeypatch.undo()
        lint_cache.code_fingerprint.cache_clear()


def test_no_cache_neither_reads_nor_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    migration = tmp_path / "001.sql"
    migration.write_text(UNSAFE)
    lint_json("--no-cache", migration)
    assert entries(tmp_path) == {}
    lint_json(migration)
    [pack] = (tmp_path / "cache" / "migrator" / "lint").glob("*.json")
    [key] = json.loads(pack.read_text())
    pack.write_text(json.dumps({key: {"findings": [], "note": None, "statements": 1}}))  # a doctored entry
    assert lint_json(migration)[1] == []
    assert len(lint_json("--no-cache", migration)[1]) == 2


def test_without_xdg_cache_home_the_cache_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert lint_cache.cache_dir() == tmp_path / ".cache" / "migrator" / "lint"
