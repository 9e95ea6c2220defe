import psycopg
import pytest

from lint_rules._testing import hits, lint
from lint_rules.identifier_too_long import truncated

RULE = "identifier-too-long"
LONG = "orders_customer_id_created_at_status_region_warehouse_partial_idx_v2"  # 68 bytes


def test_the_whole_finding():
    [finding] = lint(f"CREATE INDEX {LONG} ON orders (customer_id);", RULE)
    assert (finding.line, finding.message, finding.help) == (
        1,
        f"identifier '{LONG}' is 68 bytes: PostgreSQL silently truncates it to '{LONG[:63]}' (63 bytes), "
        "so names that share those 63 bytes collide and the name in the catalog is not the one written",
        f"Shorten it to at most 63 bytes, e.g. '{LONG[:50]}'.",
    )


@pytest.mark.parametrize("sql", [
    f'ALTER TABLE t ADD COLUMN "{"é" * 32}" int;',  # 32 characters, 64 bytes
    f"ALTER TABLE t ADD CONSTRAINT {LONG} CHECK (a > 0) NOT VALID;",
    f"DO $$ BEGIN CREATE TABLE {LONG} (a int); END $$;",
    f"DROP TABLE {LONG};",
    f"COMMENT ON INDEX {LONG} IS 'x';",
    'CREATE TABLE "' + "\N{FAMILY}\N{ZERO WIDTH JOINER}" * 13 + '" (a int);',  # 13 four-byte and 13 three-byte characters
    'CREATE TABLE "' + "order by " * 8 + '" (a int);',  # quoted, with spaces: 72 bytes
    'CREATE TABLE "' + 'a""b ' * 16 + '" (a int);',  # quoted, with doubled quotes: 64 bytes once read
])
def test_long_names_anywhere(sql):
    assert hits(sql, RULE) == 1


@pytest.mark.parametrize("sql", [
    f"CREATE INDEX {LONG[:63]} ON orders (customer_id);",  # exactly 63 bytes
    f"INSERT INTO t (hash) VALUES ('{'e3b0c442' * 9}');",  # a long string is not a name
    f"-- {LONG}\nSELECT 1;",
    'CREATE TABLE "' + 'a""' * 31 + '" (a int);',  # 96 characters as written, 62 bytes as a name
])
def test_names_within_the_limit_and_long_strings_pass(sql):
    assert hits(sql, RULE) == 0


@pytest.mark.parametrize("pg_version", [11, 19])
def test_every_version(pg_version):
    assert hits(f"CREATE TABLE {LONG} (a int);", RULE, pg_version=pg_version, transaction="none") == 1


def test_a_long_name_in_a_drop_reaches_whichever_object_owns_its_first_63_bytes(pg_db):
    pg_db.execute(f"CREATE TABLE {LONG[:63]} (a int)")  # written at the limit: no name of its own was cut
    pg_db.execute(f"DROP TABLE {LONG}")
    assert pg_db.execute(f"SELECT to_regclass('{LONG[:63]}')") == [(None,)]


def test_postgresql_truncates_as_stated_and_the_names_collide(pg_db):
    multibyte = "ä" * 40  # 80 bytes: cut at a character boundary
    pg_db.execute(f'CREATE TABLE t (a int, "{multibyte}" int)')
    pg_db.execute(f"CREATE INDEX {LONG} ON t (a)")
    assert pg_db.execute("SELECT relname FROM pg_class WHERE relkind = 'i' AND starts_with(relname, 'orders')") == [(truncated(LONG),)]
    assert pg_db.execute("SELECT attname FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum = 2") == [(truncated(multibyte),)]
    with pytest.raises(psycopg.errors.DuplicateTable):
        pg_db.execute(f"CREATE INDEX {LONG[:63]}_other ON t (a)")


ORACLE = [  # run on a live server by tests/test_oracle.py
    "CREATE INDEX aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ON orders (user_id);",
    "DO $$ BEGIN CREATE TABLE aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (a int); END $$;",
]
