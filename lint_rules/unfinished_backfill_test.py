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
