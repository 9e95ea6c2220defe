import pytest

from lint_rules import get_rule
from lint_rules._testing import hits, lint, alembic_timeout_in_force, lint_alembic

RULE = "require-lock-timeout"
ALTER = "ALTER TABLE users ADD COLUMN nickname text;\n"


def test_lock_taking_statement_without_timeout_is_an_error():
    [finding] = lint(ALTER, RULE)
    assert "ACCESS EXCLUSIVE on users" in finding.message
    assert finding.help.startswith("SET LOCAL lock_timeout = '5s'")


@pytest.mark.parametrize("sql, where", [
    ("REINDEX DATABASE app;", "SHARE on every table of database app in turn"),
    ("REINDEX SCHEMA s;", "SHARE on every table of schema s in turn"),
    ("REINDEX SYSTEM app;", "SHARE on every system catalog of database app in turn"),
    ("ALTER DOMAIN email SET NOT NULL;", "SHARE on every table with a column of domain email"),
])
def test_a_lock_on_many_tables_is_named_so(sql, where):
    """Not `SHARE on app`: a database, schema or domain is not a table."""
    [finding] = lint("-- migrator:no-transaction\n" + sql, RULE)
    assert where in finding.message, finding.message


@pytest.mark.parametrize("setting", [
    "SET LOCAL lock_timeout = '5s';",
    "SET lock_timeout TO 2000;",
    "SET lock_timeout = '1s';",
    "SELECT set_config('lock_timeout', '3s', true);",
])
def test_timeout_set_before_passes(setting):
    assert hits(setting + "\n" + ALTER, RULE) == 0


def test_timeout_set_after_does_not_count():
    assert hits(ALTER + "SET LOCAL lock_timeout = '5s';", RULE) == 1


def test_reset_removes_it():
    assert hits("SET lock_timeout = '5s';\nRESET lock_timeout;\n" + ALTER, RULE) == 1


def test_set_local_ends_with_its_transaction():
    sql = "BEGIN;\nSET LOCAL lock_timeout = '5s';\nCOMMIT;\nBEGIN;\n" + ALTER + "COMMIT;"
    assert hits(sql, RULE, transaction="none") == 1


def test_session_set_survives_commit():
    sql = "SET lock_timeout = '5s';\nBEGIN;\n" + ALTER + "COMMIT;\n" + ALTER
    assert hits(sql, RULE, transaction="none") == 0


def test_set_local_in_autocommit_file_has_no_effect():
    [finding] = lint("SET LOCAL lock_timeout = '5s';\n" + ALTER, RULE, transaction="none")
    assert finding.help.startswith("SET lock_timeout")


@pytest.mark.parametrize("sql", [
    "CREATE INDEX CONCURRENTLY i ON users (a);",
    "ALTER TABLE users VALIDATE CONSTRAINT c;",
    "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int;",
    "INSERT INTO users (id) VALUES (1);",
])
def test_weak_locks_and_new_tables_pass(sql):
    assert hits(sql, RULE, transaction="none") == 0


def test_new_table_referencing_an_existing_one_needs_it():
    [finding] = lint("CREATE TABLE orders (user_id int REFERENCES users (id));", RULE)
    assert "SHARE ROW EXCLUSIVE on users" in finding.message


@pytest.mark.parametrize("sql", [
    "CREATE TABLE menu (id int PRIMARY KEY, parent int, FOREIGN KEY (parent) REFERENCES menu (id));",
    "CREATE TABLE app.menu (id int PRIMARY KEY, parent int REFERENCES app.menu);",
    "CREATE TABLE menu (id int PRIMARY KEY, parent int REFERENCES public.menu);",
    "CREATE TEMP TABLE menu (id int PRIMARY KEY, parent int REFERENCES menu);",
])
def test_a_new_table_referencing_itself_waits_for_no_one(sql):
    """A tree's parent key (Tryton's ir_ui_menu): the only table it references is the one being created."""
    assert hits(sql, RULE) == 0
    assert hits(sql.replace("(id int PRIMARY KEY, parent int", "(id int PRIMARY KEY, u int REFERENCES users, parent int"),
                RULE) == 1


def test_a_lock_on_an_index_is_named_as_one():
    """DROP INDEX i: the index's table is not in the SQL, and the name is an index's, not a table's."""
    [finding] = lint("DROP INDEX users_email_idx;", RULE)
    assert finding.message.startswith("DROP INDEX takes ACCESS EXCLUSIVE on index users_email_idx with no lock_timeout")


def test_reassign_owned_locks_every_table_the_role_owns():
    """Each table changes owner as ALTER TABLE ... OWNER TO does: ACCESS EXCLUSIVE, to the end of the transaction."""
    [finding] = lint("REASSIGN OWNED BY legacy, CURRENT_USER TO app;", RULE)
    assert "REASSIGN OWNED takes ACCESS EXCLUSIVE on every table role legacy owns" in finding.message


def test_statements_inside_do_blocks_count():
    sql = "DO $$\nBEGIN\n  ALTER TABLE users ADD COLUMN x int;\nEND $$;"
    [finding] = lint(sql, RULE)
    assert (finding.line, finding.column) == (3, 3)


@pytest.mark.parametrize("pg_version", [10, 18])
def test_every_version(pg_version):
    assert hits(ALTER, RULE, pg_version=pg_version) == 1


def test_inherits_locks_its_parents_without_blocking_writes():
    """CREATE TABLE ... INHERITS takes SHARE UPDATE EXCLUSIVE on each parent (mimeo's refresh_config_* tables):
    writers go on, so no timeout is needed for it."""
    from migrator.analyzer import Analyzer, Lock

    [statement] = Analyzer().analyze("CREATE TABLE c (LIKE p INCLUDING ALL) INHERITS (p, app.q);")
    assert {(str(t.relation), t.lock) for t in statement.locks} == {
        ("p", Lock.ACCESS_SHARE), ("p", Lock.SHARE_UPDATE_EXCLUSIVE), ("app.q", Lock.SHARE_UPDATE_EXCLUSIVE)}
    assert hits("CREATE TABLE c () INHERITS (p);", RULE) == 0


ORACLE = [  # run on a live server by tests/test_oracle.py
    "SET LOCAL lock_timeout = '1s';\nALTER TABLE t ADD COLUMN x int;",
    "CREATE TABLE child (LIKE t INCLUDING ALL) INHERITS (t);",
    "CREATE TABLE child2 () INHERITS (t, app.t);",
    "CREATE TABLE menu (id int PRIMARY KEY, parent int REFERENCES menu, owner bigint REFERENCES users);",
    ("DO $$ BEGIN CREATE ROLE oracle_old_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n"
     "ALTER TABLE events OWNER TO oracle_old_owner;", "REASSIGN OWNED BY oracle_old_owner TO CURRENT_USER;"),
]


def test_alembic_revision_is_told_about_migrator_apply_and_op_execute(tmp_path, pg_db):
    assert alembic_timeout_in_force(tmp_path, pg_db.dsn, RULE, "lock_timeout") == "5s"


def test_alembic_revision_applied_by_migrator_is_not_flagged(tmp_path):
    assert lint_alembic(tmp_path, 'op.add_column("users", sa.Column("nickname", sa.Text()))', RULE, runner="migrator") == []


def test_explain_shows_the_alembic_form():
    assert "op.execute(\"SET LOCAL lock_timeout" in get_rule(RULE).explain()
