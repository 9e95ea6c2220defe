from lint_rules._testing import TIMEOUTS, lint
from migrator.gates import KnownBackfill

FILL = KnownBackfill("fill-handle", "running", "public", "users", frozenset({"handle"}), frozenset({"email", "id"}))


def findings(sql, backfills=(FILL,)):
    return [(f.line, f.message) for f in lint(TIMEOUTS + sql, "unfinished-backfill", backfills=backfills)]


def test_set_not_null_or_drop_on_a_column_an_unfinished_backfill_writes_or_reads_is_flagged():
    assert findings("ALTER TABLE users ALTER COLUMN handle SET NOT NULL;") == [
        (3, "SET NOT NULL on users.handle while backfill fill-handle (running) still writes it")]
    assert findings("ALTER TABLE users DROP COLUMN email;") == [
        (3, "dropping users.email while backfill fill-handle (running) still reads it")]


def test_other_columns_tables_schemas_and_no_known_backfill_pass():
    assert findings("ALTER TABLE users ALTER COLUMN name SET NOT NULL;") == []
    assert findings("ALTER TABLE teams DROP COLUMN handle;") == []
    assert findings("ALTER TABLE app.users DROP COLUMN handle;") == []
    assert findings("ALTER TABLE users ALTER COLUMN handle SET NOT NULL;", backfills=()) == []
    assert findings("CREATE TABLE users2 (handle text);\nALTER TABLE users2 ALTER COLUMN handle SET NOT NULL;") == []


def test_a_migration_that_requires_the_backfill_is_not_flagged_as_apply_waits_for_it():
    assert findings("-- migrator:requires-backfill fill-handle\nALTER TABLE users ALTER COLUMN handle SET NOT NULL;\n"
                    "ALTER TABLE users DROP COLUMN email;") == []
    other = findings("-- migrator:requires-backfill fill-name\nALTER TABLE users ALTER COLUMN handle SET NOT NULL;")
    assert other == [(4, "SET NOT NULL on users.handle while backfill fill-handle (running) still writes it")]


def test_the_fix_offered_names_the_backfill_without_the_fleet_targets_it_runs_on():
    on_fleet = KnownBackfill("fill-handle", "paused", "public", "users", frozenset({"handle"}), frozenset(), targets="eu, us")
    [finding] = lint(TIMEOUTS + "ALTER TABLE users ALTER COLUMN handle SET NOT NULL;", "unfinished-backfill", backfills=(on_fleet,))
    assert finding.message == "SET NOT NULL on users.handle while backfill fill-handle on eu, us (paused) still writes it"
    assert finding.help.startswith("-- migrator:requires-backfill fill-handle   (")
    assert lint("-- migrator:requires-backfill fill-handle\n" + TIMEOUTS + "ALTER TABLE users ALTER COLUMN handle SET NOT NULL;",
                "unfinished-backfill", backfills=(on_fleet,)) == []
