import pytest

from lint_rules._testing import hits, lint

RULE = "require-concurrent-index"


def test_plain_create_index_on_existing_table_is_an_error():
    [finding] = lint("CREATE INDEX users_email_idx ON users (email);", RULE)
    assert finding.severity == "error"
    assert "SHARE lock" in finding.message
    assert "CREATE INDEX CONCURRENTLY users_email_idx ON users (email)" in finding.help


@pytest.mark.parametrize("sql", [
    "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON public.users USING btree (lower(email));",
    "CREATE INDEX events_at_idx ON ONLY events (at);",  # partitioned parent: builds nothing
])
def test_safe_forms_pass(sql):
    assert hits(sql, RULE, transaction="none") == 0


def test_index_on_table_created_in_same_migration_passes():
    assert hits("CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);", RULE) == 0


def test_unique_index_and_schema_qualified_names_are_flagged():
    [finding] = lint('CREATE UNIQUE INDEX i ON app."Users" (a);', RULE)
    assert 'app."Users"' in finding.message


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 15, 18])
def test_flagged_in_every_transaction_model_and_version(transaction, pg_version):
    assert hits("CREATE INDEX i ON t (a);", RULE, transaction=transaction, pg_version=pg_version) == 1
