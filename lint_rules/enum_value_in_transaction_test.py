from lint_rules._testing import hits, lint

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


def test_every_version_and_explicit_transactions():
    for pg_version in (12, 18):
        assert hits(ADD + USE, RULE, pg_version=pg_version) == 1
        assert hits("BEGIN;\n" + ADD + USE + "COMMIT;", RULE, transaction="none", pg_version=pg_version) == 1


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TYPE mood ADD VALUE 'happy';",
]
