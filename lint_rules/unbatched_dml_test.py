import pytest

from lint_rules._testing import hits, lint
from migrator.pgnames import SYSTEM_CATALOGS

RULE = "unbatched-dml"


@pytest.mark.parametrize("sql", ["UPDATE users SET plan = 'free' WHERE plan IS NULL;", "DELETE FROM sessions WHERE expired;"])
def test_update_and_delete_of_existing_tables_belong_in_a_backfill(sql):
    [finding] = lint(sql, RULE)
    assert finding.severity == "warning" and "migrator backfill run" in finding.help


def test_insert_and_new_tables_pass():
    assert hits("INSERT INTO plans VALUES ('free');", RULE) == 0
    assert hits("CREATE TABLE t (a int);\nUPDATE t SET a = 1;", RULE) == 0


@pytest.mark.parametrize("transaction", ["wrapped", "none"])
@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_model_and_version(transaction, pg_version):
    assert hits("UPDATE t SET a = 1;", RULE, transaction=transaction, pg_version=pg_version) == 1


@pytest.mark.parametrize("sql", [
    "UPDATE pg_catalog.pg_proc SET proparallel = 's' WHERE oid = 'f(int)'::regprocedure;",
    "UPDATE pg_aggregate SET aggcombinefn = 'g'::regproc WHERE aggfnoid = 'agg(int)'::regprocedure;",
    "DELETE FROM pg_depend WHERE objid = 1;",
])
def test_an_extension_scripts_fix_of_catalog_rows_is_no_backfill(sql):
    """contrib's upgrade scripts (citext, cube, hstore ...) set a few pg_proc / pg_depend rows by hand."""
    assert hits(sql, RULE) == 0
    assert hits(sql.replace("pg_catalog.pg_proc", "app.pg_proc").replace("pg_aggregate", "public.pg_aggregate")
                .replace("pg_depend", "pg_depends"), RULE) == 1


def test_the_system_catalogs_are_the_servers(pg_db):
    catalogs = pg_db.execute("SELECT relname FROM pg_class WHERE relnamespace = 'pg_catalog'::regnamespace "
                             "AND relkind = 'r'")
    assert {name for (name,) in catalogs} <= SYSTEM_CATALOGS


ORACLE = [  # run on a live server by tests/test_oracle.py
    "UPDATE users SET name = 'x';",
    "DELETE FROM events;",
    "INSERT INTO teams SELECT id + 10 FROM teams;",
]


@pytest.mark.parametrize("call", ["SELECT backfill_plans();", "CALL backfill_plans();"])
def test_an_update_in_a_routine_the_migration_creates_and_calls_is_flagged_at_the_call(call):
    """The data migration people write as a throwaway function: created, called, dropped."""
    kind = "PROCEDURE" if call.startswith("CALL") else "FUNCTION"
    returns = "" if kind == "PROCEDURE" else " RETURNS void"
    sql = (f"CREATE {kind} backfill_plans(){returns} LANGUAGE plpgsql AS $$\nBEGIN\n  UPDATE users SET plan = 'free';\nEND $$;\n"
           f"{call}\nDROP {kind} backfill_plans();")
    [finding] = lint(sql, RULE)
    assert (finding.line, finding.statement) == (5, "UPDATE users SET plan = 'free'")
