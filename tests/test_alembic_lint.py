"""`migrator lint` on Alembic revisions and projects, rendered offline."""

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from migrator.cli import main

HEADER = '''"""a revision"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = {down}


def downgrade():
    pass


def upgrade():
'''


def revision(folder: Path, name: str, body: str, rev: str = "r1", down: str = "None") -> Path:
    path = folder / f"{name}.py"
    path.write_text(HEADER.format(rev=rev, down=down) + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    "))
    return path


def findings(*paths, select=None):
    args = ["lint", "--format", "json", *(["--select", select] if select else []), *map(str, paths)]
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return json.loads(result.stdout), result


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_operations_point_at_their_op_call(tmp_path):
    path = revision(tmp_path, "a1", """
        op.create_index("users_email_idx", "users", ["email"])
        op.create_foreign_key("orders_user_fk", "orders", "users", ["user_id"], ["id"])
        op.alter_column("users", "email", nullable=False)
    """)
    result, _ = findings(path, select="require-concurrent-index,add-foreign-key,set-not-null")
    located = {(f["rule"], f["line"], f["column"]) for f in result}
    assert located == {
        ("require-concurrent-index", line_of(path, "create_index"), 5),
        ("add-foreign-key", line_of(path, "create_foreign_key"), 5),
        ("set-not-null", line_of(path, "alter_column"), 5),
    }
    assert all(f["path"] == str(path) for f in result)


def test_raw_sql_in_op_execute_goes_through_the_same_rules(tmp_path):
    path = revision(tmp_path, "a2", """
        op.execute("SET LOCAL lock_timeout = '5s'")
        op.execute("SET LOCAL statement_timeout = '5s'")
        op.execute("ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()")
    """)
    result, _ = findings(path)
    assert [(f["rule"], f["line"]) for f in result] == [("add-column-volatile-default", line_of(path, "gen_random_uuid"))]


def test_autocommit_block_counts_as_outside_the_transaction(tmp_path):
    inside = revision(tmp_path, "a3", """
        op.create_index("i", "users", ["email"], postgresql_concurrently=True)
    """)
    outside = revision(tmp_path, "a4", """
        with op.get_context().autocommit_block():
            op.create_index("i", "users", ["email"], postgresql_concurrently=True)
    """, rev="r4")
    assert [f["rule"] for f in findings(inside, select="concurrently-in-transaction")[0]] == ["concurrently-in-transaction"]
    assert findings(outside, select="concurrently-in-transaction,unbalanced-transaction")[0] == []


def test_revision_reading_the_database_is_unrenderable_and_others_still_linted(tmp_path):
    bad = revision(tmp_path, "b1", """
        op.add_column("users", sa.Column("nickname", sa.Text()))
        rows = op.get_bind().execute(sa.text("SELECT id FROM users")).fetchall()
        for row in rows:
            op.execute(f"UPDATE users SET nickname = 'x' WHERE id = {row.id}")
    """)
    good = revision(tmp_path, "b2", 'op.create_index("i", "users", ["email"])', rev="r2")
    result, run = findings(bad, good)
    unrenderable = [f for f in result if f["rule"] == "unrenderable-revision"]
    assert len(unrenderable) == 1 and unrenderable[0]["line"] == line_of(bad, "get_bind")
    assert "op.get_bind()" in unrenderable[0]["message"]
    assert any(f["rule"] == "require-lock-timeout" and f["path"] == str(bad) for f in result), "rendered part linted"
    assert any(f["rule"] == "require-concurrent-index" and f["path"] == str(good) for f in result)
    assert run.exit_code == 1


def test_an_unrenderable_revision_is_told_why_it_failed_not_assumed_to_read_the_database(tmp_path):
    """TruLens' upgrade(config) takes what its env.py passes to run_migrations(); a revision that raises offline
    reads nothing: neither is blamed on op.get_bind()."""
    arguments = tmp_path / "c1.py"
    arguments.write_text(HEADER.format(rev="r1", down="None").replace("def upgrade():", "def upgrade(config):")
                         + '    op.add_column("users", sa.Column("a", sa.Text()))\n')
    raises = revision(tmp_path, "c2", 'raise RuntimeError("trulens.table_prefix is not set")', rev="r2")
    result, _ = findings(arguments, raises, select="unrenderable-revision")
    by_path = {f["path"]: (f["line"], f["message"]) for f in result}
    assert by_path[str(arguments)] == (line_of(arguments, "def upgrade"), "cannot render offline: upgrade() takes config, "
                                       "which env.py passes to context.run_migrations() when it runs online; offline it gets "
                                       "nothing to call it with"), by_path
    assert by_path[str(raises)][0] == line_of(raises, "RuntimeError") and "get_bind" not in by_path[str(raises)][1], by_path


def test_a_script_location_written_as_package_and_folder_is_found_as_alembic_finds_it(tmp_path):
    """OpenStack Aodh's alembic.ini says script_location = aodh.storage.sqlalchemy:alembic: the folder inside the
    package, found on the path (prepend_sys_path first), without importing the package; not a folder of that name
    beside the ini. A package that is not importable is a one-line error naming the ini and the option."""
    scripts = tmp_path / "app" / "shop" / "db" / "alembic"
    (scripts / "versions").mkdir(parents=True)
    for package in (tmp_path / "app" / "shop", tmp_path / "app" / "shop" / "db"):
        (package / "__init__.py").write_text("raise ImportError('never imported')\n")
    (scripts / "env.py").write_text("")
    revision(scripts / "versions", "r1", 'op.create_index("i", "users", ["email"])')
    ini = scripts / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = shop.db:alembic\nprepend_sys_path = ../../..\n")
    result, run = findings(ini, select="require-concurrent-index")
    assert [(f["path"], f["rule"]) for f in result] == [(str(scripts / "versions" / "r1.py"), "require-concurrent-index")]
    plan = CliRunner().invoke(main, ["plan", str(ini)])
    assert plan.exit_code == 0 and "r1.py:14 follow-up 1: CREATE INDEX CONCURRENTLY i ON users (email)" in plan.stdout, plan.stdout
    ini.write_text("[alembic]\nscript_location = nowhere.db:alembic\n")  # (shop is on this process's path now)
    missing = CliRunner().invoke(main, ["lint", str(ini)])
    assert missing.exit_code == 2 and f"{ini}: script_location nowhere.db:alembic: package nowhere.db is not importable here" \
        in missing.stderr and "Traceback" not in missing.stderr, missing.stderr


def test_a_revision_reading_its_alembic_config_renders_as_alembic_upgrade_sql_renders_it(tmp_path):
    """CKAN's revisions start with `op.get_context().config.get_main_option(...)` (87 of its 109 were unrenderable):
    lint renders them with a config of no options, plan with the project's own, as `alembic upgrade --sql` does."""
    scripts = tmp_path / "alembic"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text("")
    path = revision(scripts / "versions", "r1", """
        if op.get_context().config.get_main_option("legacy_version"):
            return
        op.create_index("i", "users", ["email"])
    """)
    result, _ = findings(path, select="require-concurrent-index,unrenderable-revision")
    assert [f["rule"] for f in result] == ["require-concurrent-index"], result
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {scripts}\n")
    assert "CREATE INDEX CONCURRENTLY i ON users (email)" in CliRunner().invoke(main, ["plan", str(ini)]).stdout
    ini.write_text(f"[alembic]\nscript_location = {scripts}\nlegacy_version = 1\n")
    plan = CliRunner().invoke(main, ["plan", str(ini)])
    assert plan.exit_code == 0 and "no SQL for PostgreSQL" in plan.stdout, plan.stdout


def test_a_versions_folder_is_linted_as_the_revisions_it_holds(tmp_path):
    """`migrator lint alembic/versions` said "no .sql files in this directory"; a folder with neither is still an error."""
    versions = tmp_path / "versions"
    (versions / "2024").mkdir(parents=True)
    path = revision(versions / "2024", "r1", 'op.create_index("i", "users", ["email"])')
    (versions / "helpers.py").write_text("def shared():\n    pass\n")
    result, _ = findings(versions, select="require-concurrent-index")
    assert [(f["path"], f["rule"]) for f in result] == [(str(path), "require-concurrent-index")]
    (tmp_path / "empty").mkdir()
    empty = CliRunner().invoke(main, ["lint", str(tmp_path / "empty")])
    assert empty.exit_code == 2 and "no .sql files or Alembic revisions in this directory" in empty.stderr, empty.stderr


def test_plan_gives_upgrade_the_config_env_py_passes_to_run_migrations(tmp_path):
    """TruLens' env.py calls context.run_migrations(config=config) and its revisions read their table prefix from it:
    plan renders them with the project's config, as apply's env.py runs them; an argument it cannot know stays named."""
    scripts = tmp_path / "alembic"
    (scripts / "versions").mkdir(parents=True)
    env = "from alembic import context\n\nconfig = context.config\n\n\ndef run():\n    context.run_migrations(config=config)\n"
    (scripts / "env.py").write_text(env)
    (scripts / "versions" / "r1.py").write_text(HEADER.format(rev="r1", down="None").replace("def upgrade():", "def upgrade(config):")
                                                 + '    op.create_table(config.get_main_option("prefix") + "apps", '
                                                   'sa.Column("id", sa.Integer))\n')
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {scripts}\nprefix = trulens_\n")
    plan = CliRunner().invoke(main, ["plan", str(ini)])
    assert plan.exit_code == 0 and "r1.py:14: CREATE TABLE trulens_apps (" in plan.stdout, plan.stdout
    (scripts / "env.py").write_text(env.replace("config=config", "config=make_config()"))
    plan = CliRunner().invoke(main, ["plan", str(ini)])
    assert "online only (cannot render offline: upgrade() takes config, which env.py passes" in plan.stdout, plan.stdout


def test_revision_with_a_syntax_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("revision = 'x'\ndef upgrade(:\n    pass\n")
    result, _ = findings(path)
    assert [(f["rule"], f["line"]) for f in result] == [("unrenderable-revision", 2)]


def test_ignore_comments_in_revisions(tmp_path):
    path = revision(tmp_path, "c1", """
        # migrator:ignore require-concurrent-index -- table has 10 rows
        op.create_index("i", "users", ["email"])
        op.create_index("j", "users", ["name"])  # migrator:ignore require-concurrent-index
        op.create_index("k", "users", ["other"])
        # migrator:ignore add-foreign-key -- nothing below uses it
    """)
    result, _ = findings(path, select="require-concurrent-index,add-foreign-key,unused-ignore")
    assert [(f["rule"], f["line"]) for f in result] == [
        ("require-concurrent-index", line_of(path, '"other"')),
        ("unused-ignore", line_of(path, "ignore add-foreign-key")),
    ]


def test_whole_alembic_project_from_ini_or_folder(tmp_path):
    project = tmp_path / "svc"
    versions = project / "alembic" / "versions"
    versions.mkdir(parents=True)
    (project / "alembic" / "env.py").write_text("# env\n")
    (project / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/alembic\n")
    revision(versions, "0001_a", 'op.create_index("i", "users", ["email"])', rev="a")
    revision(versions, "0002_b", 'op.add_column("users", sa.Column("x", sa.Integer()))', rev="b", down='"a"')
    for target in (project / "alembic.ini", project, project / "alembic"):
        result, _ = findings(target, select="require-concurrent-index,require-lock-timeout")
        assert {(Path(f["path"]).name, f["rule"]) for f in result} == {
            ("0001_a.py", "require-concurrent-index"), ("0001_a.py", "require-lock-timeout"), ("0002_b.py", "require-lock-timeout")}


def test_project_with_missing_versions_folder_is_a_clear_error(tmp_path):
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = nowhere\n")
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "alembic.ini")])
    assert result.exit_code == 2 and "versions folder" in result.stderr
