"""CI and editor integrations: GitHub annotations, SARIF, the rules reference, --changed-since, pre-commit."""

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from lint_rules import all_rules
from migrator.cli import main
from migrator.output import rules_markdown

ROOT = Path(__file__).resolve().parent.parent
UNSAFE = "CREATE INDEX users_email_idx ON users (email);\n"
SAFE = "-- migrator:no-transaction\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n"


def lint(*args):
    return CliRunner().invoke(main, ["lint", *args])


def test_github_annotations(tmp_path):
    path = tmp_path / "m.sql"
    path.write_text("SELECT 1;\n" + UNSAFE)
    lines = lint("--format", "github", "--select", "require-concurrent-index", str(path)).output.splitlines()
    assert lines[0].startswith(f"::error file={str(path).replace(':', '%3A')},line=2,col=1,title=require-concurrent-index::")
    assert "%0ACREATE INDEX CONCURRENTLY" in lines[0]


def test_sarif_structure(tmp_path):
    path = tmp_path / "m.sql"
    path.write_text(UNSAFE + "ALTER TABLE t ALTER COLUMN c TYPE text;\n")
    result = lint("--format", "sarif", str(path))
    assert result.exit_code == 1
    log = json.loads(result.output)
    assert log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert {rule["id"] for rule in rules} == set(all_rules())
    assert all(rule["shortDescription"]["text"] and rule["help"]["markdown"] for rule in rules)
    levels = {result["ruleId"]: result["level"] for result in run["results"]}
    assert levels["require-concurrent-index"] == "error" and levels["changing-column-type"] == "warning"
    for item in run["results"]:
        assert rules[item["ruleIndex"]]["id"] == item["ruleId"]
        location = item["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].endswith("m.sql")
        assert location["region"]["startLine"] >= 1 and location["region"]["startColumn"] >= 1


def test_rules_reference_is_current():
    expected = rules_markdown(list(all_rules().values()))
    assert (ROOT / "docs" / "rules.md").read_text() == expected, "run: migrator rules --format markdown > docs/rules.md"


def git(folder, *args):
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def test_changed_since_lints_only_added_or_modified_files(tmp_path, monkeypatch):
    git(tmp_path, "init", "-q", "-b", "main")
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "001_old.sql").write_text(UNSAFE)
    (migrations / "002_edited.sql").write_text(SAFE)
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    (migrations / "002_edited.sql").write_text(UNSAFE)
    (migrations / "003_new.sql").write_text(UNSAFE)
    monkeypatch.chdir(tmp_path)
    result = lint("--changed-since", "main", "--format", "json", "migrations")
    assert {Path(f["path"]).name for f in json.loads(result.output)} == {"002_edited.sql", "003_new.sql"}
    bad = lint("--changed-since", "no-such-ref", "migrations")
    assert bad.exit_code == 2 and "--changed-since: 'no-such-ref' is no commit of the repository at " in bad.output


def committed_repository(folder: Path, branch: str, files: dict[str, str]) -> Path:
    """A git repository at folder whose first commit on branch holds files (relative name: text)."""
    folder.mkdir(parents=True, exist_ok=True)
    git(folder, "init", "-q", "-b", branch)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git(folder, "add", ".")
    git(folder, "commit", "-qm", "base")
    return folder


def linted_names(result) -> set[str]:
    assert result.exit_code == 1, result.output
    return {Path(finding["path"]).name for finding in json.loads(result.output)}


def test_changed_since_asks_the_repository_of_each_path_wherever_the_working_directory_is(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # tmp_path's parents are in no repository
    app = committed_repository(tmp_path / "app", "main", {"db/migrations/001_old.sql": UNSAFE, "db/migrations/002_edited.sql": SAFE})
    (app / "db" / "migrations" / "002_edited.sql").write_text(UNSAFE)
    (app / "db" / "migrations" / "003_café.sql").write_text(UNSAFE)  # untracked, and a name git quotes unless -z
    other = committed_repository(tmp_path / "other", "trunk", {"schema/001_old.sql": UNSAFE, "src/README": "x"})
    (other / "schema" / "002_new.sql").write_text(UNSAFE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    monkeypatch.chdir(elsewhere)  # in no repository at all
    result = lint("--changed-since", "main", "--format", "json", str(app / "db" / "migrations"))
    assert linted_names(result) == {"002_edited.sql", "003_café.sql"}
    monkeypatch.chdir(other / "src")  # in a subfolder of another repository, which has no 'main'
    assert linted_names(lint("--changed-since", "main", "--format", "json", "../../app/db/migrations")) == {"002_edited.sql", "003_café.sql"}
    monkeypatch.chdir(app / "db")  # in a subfolder of the linted repository: untracked files are named from its top
    assert linted_names(lint("--changed-since", "main", "--format", "json", "migrations")) == {"002_edited.sql", "003_café.sql"}
    git(other, "branch", "main")
    both = lint("--changed-since", "main", "--format", "json", "migrations", str(other / "schema"))
    assert linted_names(both) == {"002_edited.sql", "003_café.sql", "002_new.sql"}

    git(other, "branch", "-D", "main")
    missing = lint("--changed-since", "main", "migrations", str(other / "schema"))
    assert missing.exit_code == 2 and missing.output.count("\n") == 1
    assert f"--changed-since: 'main' is no commit of the repository at {other} (see " in missing.output
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "001.sql").write_text(UNSAFE)
    outside = lint("--changed-since", "main", str(plain))
    assert outside.exit_code == 2 and outside.output.count("\n") == 1
    assert f"--changed-since: {plain / '001.sql'} is in no git repository (see " in outside.output


def test_pre_commit_hook_refuses_the_unsafe_migration(tmp_path):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    repo = tmp_path / "app"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {ROOT}\n  rev: {head}\n  hooks:\n  - id: migrator-lint\n")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    pre_commit = [sys.executable, "-m", "pre_commit"]
    subprocess.run(pre_commit + ["install"], cwd=repo, env=env, check=True, capture_output=True)
    (repo / "001_safe.sql").write_text(SAFE)
    git(repo, "add", ".pre-commit-config.yaml", "001_safe.sql")
    safe = subprocess.run(["git", "commit", "-qm", "safe"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert safe.returncode == 0, safe.stdout + safe.stderr
    (repo / "002_unsafe.sql").write_text(UNSAFE)
    git(repo, "add", "002_unsafe.sql")
    unsafe = subprocess.run(["git", "commit", "-qm", "unsafe"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert unsafe.returncode != 0
    assert "require-concurrent-index" in unsafe.stdout + unsafe.stderr
    log = subprocess.run(["git", "log", "--format=%s"], cwd=repo, capture_output=True, text=True).stdout.split()
    assert log == ["safe"]
