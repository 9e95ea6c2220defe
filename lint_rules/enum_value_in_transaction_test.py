from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "enum-value-in-transaction"
ADD = "ALTER TYPE job_status ADD VALUE 'archived';\n"
USE = "UPDATE jobs SET status = 'archived' WHERE done;\n"


def test_new_value_used_in_the_same_transaction():
    [finding] = lint(ADD + USE, RULE)
    assert "'archived'" in finding.message and finding.line == 2


def test_used_after_commit_passes():
    assert hits("BEGIN;\n" + ADD + "COMMIT;\n" + USE, RULE, transaction="none") == 0
    assert hits(ADD + USE, RULE, transaction="none") == 0


def test_other_strings_pass():
    assert hits(ADD + "UPDATE jobs SET status = 'done';", RULE) == 0


def test_before_pg12_add_value_cannot_run_in_a_transaction():
    [finding] = lint(ADD, RULE, pg_version=11)
    assert "before PostgreSQL 12" in finding.message
    assert hits(ADD, RULE, pg_version=11, transaction="none") == 0
    assert hits(ADD, RULE, pg_version=12) == 0
    assert lint(ADD, RULE, pg_version=11)[0].help == "Move it to its own migration whose first line is `-- migrator:no-transaction`."
    assert lint(ADD, RULE, pg_version=11, runner="dbmate")[0].help.endswith("`-- migrate:up transaction:false`.")


def test_every_version_and_explicit_transactions():
    for pg_version in (12, 18):
        assert hits(ADD + USE, RULE, pg_version=pg_version) == 1
        assert hits("BEGIN;\n" + ADD + USE + "COMMIT;", RULE, transaction="none", pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TYPE mood ADD VALUE 'happy';",
]


def test_alembic_revision_gets_the_value_added_in_autocommit_block_and_then_it_is_usable(tmp_path, pg_db):
    use = 'op.execute("UPDATE jobs SET status = \'archived\' WHERE done")'
    [finding] = lint_alembic(tmp_path, f'op.execute("{ADD.strip().rstrip(";")}")\n{use}', RULE)
    code = finding.help.split(":\n", 1)[1]
    assert code == 'with op.get_context().autocommit_block():\n    op.execute("ALTER TYPE job_status ADD VALUE \'archived\'")'
    run_alembic(pg_db.dsn, "CREATE TYPE job_status AS ENUM ('done'); CREATE TABLE jobs (status job_status, done boolean);"
                           "INSERT INTO jobs VALUES ('done', true)", f"{code}\n{use}")  # no 'unsafe use of new value'
    assert pg_db.execute("SELECT status::text FROM jobs") == [("archived",)]
