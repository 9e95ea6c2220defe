import pytest

from lint_rules._testing import lint, lint_alembic, rules_hit, run_alembic

RULE = "work-while-holding-lock"
ALTER = "ALTER TABLE users ADD COLUMN plan text;\n"


@pytest.mark.parametrize("follow_up", [
    "UPDATE users SET plan = 'free';",
    "CREATE INDEX users_plan ON users (plan);",
    "ALTER TABLE orders ADD COLUMN note text;",
    "INSERT INTO audit SELECT 1;",
])
def test_work_after_access_exclusive_in_the_same_transaction(follow_up):
    [finding] = lint(ALTER + follow_up, RULE)
    assert "still holds ACCESS EXCLUSIVE on users (taken on line 1)" in finding.message
    assert finding.line == 2


def test_commit_releases_the_lock():
    assert rules_hit("BEGIN;\n" + ALTER + "COMMIT;\nUPDATE users SET plan = 'free';", RULE, transaction="none") == []


def test_autocommit_statements_hold_nothing():
    assert rules_hit(ALTER + "UPDATE users SET plan = 'free';", RULE, transaction="none") == []


def test_harmless_follow_ups_pass():
    assert rules_hit(ALTER + "ALTER TABLE users ALTER COLUMN plan SET DEFAULT 'free';\nCOMMENT ON COLUMN users.plan IS 'x';", RULE) == []


def test_new_tables_do_not_count():
    assert rules_hit("CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int;\nINSERT INTO t VALUES (1);", RULE) == []


def test_building_on_a_table_created_here_that_holds_no_rows_is_no_work():
    """Alembic's autogenerate: a column on an existing table, then a new table with its index and keys."""
    new = "CREATE TABLE plans (id int PRIMARY KEY, name text);\n"
    built = "CREATE INDEX plans_name ON plans (name);\nALTER TABLE plans ADD CONSTRAINT plans_name_check CHECK (name <> '');\n"
    assert rules_hit(ALTER + new + built + "ALTER TABLE plans ADD COLUMN tier int NOT NULL;", RULE) == []


@pytest.mark.parametrize("filled", [
    "INSERT INTO plans SELECT id, email FROM users;",
    "COPY plans FROM STDIN;",
    "SELECT fill_plans();",  # a function may write to it
    "DO $$ BEGIN EXECUTE 'INSERT INTO plans VALUES (1)'; END $$;",  # dynamic SQL may too
])
def test_but_once_rows_may_have_been_written_to_it_building_on_it_is_work(filled):
    sql = ALTER + "CREATE TABLE plans (id int, name text);\n" + filled + "\nCREATE INDEX plans_name ON plans (name);"
    findings = [f for f in lint(sql, RULE) if "CREATE INDEX" in (f.statement or "")]
    assert len(findings) == 1 and "scans or writes data" in findings[0].message


def test_a_table_created_with_rows_is_not_empty():
    sql = ALTER + "CREATE TABLE plans AS SELECT id FROM users;\nCREATE INDEX plans_id ON plans (id);"
    assert [f.line for f in lint(sql, RULE)] == [2, 3]


@pytest.mark.parametrize("pg_version", [11, 18])
def test_every_version(pg_version):
    assert rules_hit(ALTER + "UPDATE users SET plan = 'x';", RULE, pg_version=pg_version) == [RULE]


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE users ADD COLUMN x int;\nUPDATE orders SET note = 'x';",
    "ALTER TABLE users ADD COLUMN x int;\nCREATE INDEX ON orders (note);",
]


LIVE = [  # tests/test_oracle.py runs each on a live server: the rule's lines are those where the server shows the work or wait
    # DROP INDEX of an index of the table held: its ACCESS EXCLUSIVE on users is held already
    "ALTER TABLE users ADD COLUMN plan text;\nDROP INDEX users_email_idx;",
    # the indexes of a table created here (its primary key's, UNIQUE's, unnamed ones) are as new as it is
    "ALTER TABLE users ADD COLUMN plan text;\nCREATE TABLE plans (id int PRIMARY KEY, name text UNIQUE);\n"
    "ALTER INDEX plans_pkey RENAME TO plans_pk;\nALTER INDEX plans_name_key RENAME TO plans_name_uq;\n"
    "CREATE INDEX ON plans (name);\nALTER TABLE plans ADD CONSTRAINT plans_both UNIQUE (id, name);\n"
    "DROP INDEX plans_name_idx;\nALTER INDEX plans_both RENAME TO plans_both_key;",
    # so are the sequences of its serial and identity columns, and one CREATE SEQUENCE made
    "ALTER TABLE users ADD COLUMN plan text;\nCREATE TABLE plans (id serial PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY);\n"
    "ALTER SEQUENCE plans_id_seq RESTART WITH 100;\nALTER SEQUENCE plans_n_seq RESTART WITH 100;\n"
    "CREATE SEQUENCE plan_numbers;\nALTER SEQUENCE plan_numbers RESTART WITH 5;",
    # renaming an existing index takes SHARE UPDATE EXCLUSIVE on the index alone: no query waits for that
    "ALTER TABLE users ADD COLUMN plan text;\nALTER INDEX orders_pkey RENAME TO orders_pk;\n"
    "ALTER TABLE users RENAME CONSTRAINT users_pkey TO users_pk;\nALTER INDEX users_pk RENAME TO users_pkey2;",
    # locks held already at a mode that covers the new one
    "ALTER TABLE orders ADD CONSTRAINT o_fk FOREIGN KEY (user_id) REFERENCES users NOT VALID;\n"
    "ALTER TABLE orders ADD CONSTRAINT o_fk2 FOREIGN KEY (user_id) REFERENCES users NOT VALID;\n"
    "LOCK TABLE users IN ROW EXCLUSIVE MODE;",
    # a new wait on another table
    "ALTER TABLE users ADD COLUMN plan text;\nALTER TABLE orders ADD CONSTRAINT o_fk FOREIGN KEY (user_id) REFERENCES users NOT VALID;",
    "ALTER TABLE users ADD COLUMN plan text;\nALTER TABLE t SET (fillfactor = 70);",
    # upgrading a lock held below it waits for the table's readers, with the foreign key's locks held meanwhile
    "ALTER TABLE orders ADD CONSTRAINT o_fk FOREIGN KEY (user_id) REFERENCES users NOT VALID;\nALTER TABLE users ADD COLUMN plan text;",
    # work while a write-blocking lock below ACCESS EXCLUSIVE is held
    "CREATE INDEX users_name ON users (name);\nUPDATE orders SET note = 'x';\nCREATE INDEX users_age ON users (age);",
    "ALTER TABLE users ADD COLUMN plan text;\nUPDATE orders SET note = 'x';\nINSERT INTO t VALUES (100, 1, 'x');",
    # a SELECT that reads no table does no work; one that reads a table, or calls a function that may, does
    "ALTER TABLE users ADD COLUMN plan text;\nSELECT 1;\nSELECT set_config('work_mem', '64MB', true), now();\n"
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM orders);\nSELECT lower(b) FROM t;",
    # nor does it write to a table created here (mimeo registers each new config table, then builds on it)
    "ALTER TABLE users ADD COLUMN plan text;\nCREATE TABLE plans (id int, name text);\nSELECT 1;\n"
    "ALTER TABLE plans ADD CHECK (id > 0);\nINSERT INTO plans SELECT id, name FROM users;\nALTER TABLE plans ADD CHECK (id < 9);",
    # a function called before a table is created writes no row to it (pgstac calls one, then creates and indexes tables)
    "ALTER TABLE users ADD COLUMN plan text;\nSELECT count(*) FROM orders;\nCREATE TABLE plans (id int, name text);\n"
    "CREATE INDEX plans_name ON plans (name);",
    # a table truncated in the transaction holds no row to scan (powa truncates its staging table, then adds NOT NULL columns)
    "ALTER TABLE users ADD COLUMN plan text;\nTRUNCATE events;\nALTER TABLE events ADD COLUMN n int NOT NULL;\n"
    "ALTER TABLE events ALTER COLUMN seq TYPE bigint;\nINSERT INTO events VALUES (1, now(), 'x', 1, 1);\n"
    "ALTER TABLE events ADD CHECK (seq > 0);",
    # a dropped table's lock blocks nobody (Synapse drops its legacy tables one after another)
    "DROP TABLE events;\nDROP TABLE t CASCADE;\nUPDATE orders SET note = 'x';",
]


def test_an_existing_index_s_table_is_not_in_the_sql_so_dropping_it_is_the_drop_index_rule_s_finding():
    """DROP INDEX takes ACCESS EXCLUSIVE on the index's table (no new wait when that is the table held here,
    a second table locked when it is another): lint cannot tell which, and require-concurrent-drop-index names it."""
    sql = ALTER + "DROP INDEX mv_id;"
    assert rules_hit(sql, RULE) == []
    assert "require-concurrent-drop-index" in rules_hit(sql)


def test_upgrading_a_lock_names_the_other_table_kept_blocked():
    sql = "ALTER TABLE orders ADD CONSTRAINT o_fk FOREIGN KEY (user_id) REFERENCES users NOT VALID;\nALTER TABLE users ADD COLUMN plan text;"
    [finding] = lint(sql, RULE)
    assert finding.message.startswith("this statement takes ACCESS EXCLUSIVE on users too while the transaction still "
                                      "holds SHARE ROW EXCLUSIVE on orders (taken on line 1): orders stays blocked for writes")


def test_work_while_a_write_blocking_lock_is_held():
    [finding] = lint("CREATE INDEX users_name ON users (name);\nSELECT count(*) FROM orders;", RULE)
    assert "holds SHARE on users (taken on line 1): users stays blocked for writes" in finding.message


def test_a_table_dropped_here_keeps_nobody_waiting():
    """Synapse's legacy tables dropped one after another: a query waiting for one gets no table, whatever we do."""
    sql = "DROP TABLE IF EXISTS old_a;\nDROP TABLE IF EXISTS old_b;\nDELETE FROM background_updates WHERE name = 'a';"
    assert rules_hit(sql, RULE) == []


def test_a_drop_rolled_back_gives_the_table_back():
    sql = "BEGIN;\nDROP TABLE users;\nROLLBACK;\nBEGIN;\nALTER TABLE users ADD COLUMN plan text;\nUPDATE orders SET note = 'x';\nCOMMIT;"
    assert [f.line for f in lint(sql, RULE, transaction="none")] == [6]


def test_dropping_a_table_while_a_live_one_is_held_is_a_wait_and_the_live_one_stays_held():
    sql = ALTER + "DROP TABLE events;\nUPDATE orders SET note = 'x';"
    assert [f.line for f in lint(sql, RULE)] == [2, 3]


def test_registering_an_extension_s_table_is_catalog_work():
    """pg_extension_config_dump writes pg_extension's row (it runs only inside CREATE EXTENSION: no live fixture)."""
    sql = ALTER + "SELECT pg_catalog.pg_extension_config_dump('refresh_config', '');\nSELECT my_schema.set_config('a', 'b');"
    assert [f.line for f in lint(sql, RULE)] == [3]


def test_alembic_revision_gets_the_work_in_autocommit_block_which_commits_the_lock_first(tmp_path, pg_db):
    add = 'op.add_column("users", sa.Column("plan", sa.Text()))'
    [finding] = lint_alembic(tmp_path, f'{add}\nop.execute("UPDATE users SET plan = email")', RULE)
    intro, code = finding.help.split(":\n", 1)
    assert "ACCESS EXCLUSIVE on users" in intro and "COMMIT" not in finding.help
    assert code == 'with op.get_context().autocommit_block():\n    op.execute("UPDATE users SET plan = email")'
    held = ("\n    held = op.get_bind().exec_driver_sql(\"SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() "
            "AND relation = 'users'::regclass AND mode = 'AccessExclusiveLock'\").scalar()")
    names = run_alembic(pg_db.dsn, "CREATE TABLE users (email text); INSERT INTO users VALUES ('a')", f"{add}\n{code}{held}")
    assert names["held"] == 0, "the ADD COLUMN's lock was committed before the UPDATE"
    assert pg_db.execute("SELECT plan FROM users") == [("a",)]


def test_a_temporary_table_is_no_new_wait():
    """Its locks conflict with no other session: DROP TABLE IF EXISTS pg_temp.x, re-created as a scratch table."""
    assert lint(ALTER + "DROP TABLE IF EXISTS pg_temp.scratch;\nCREATE TEMP TABLE scratch (a int);", RULE) == []


def test_a_renamed_table_keeps_its_lock_under_its_new_name(pg_db):
    """CKAN's 047 renames package_group to member, then alters member: the same table, whose lock the transaction
    holds already (no new wait), named by the name it has now."""
    import psycopg

    renamed = "ALTER TABLE package_group RENAME TO member;\nALTER TABLE member ADD COLUMN a int;\nUPDATE member SET a = 1;"
    [finding] = lint(renamed, RULE)
    assert finding.line == 3 and "holds ACCESS EXCLUSIVE on member (taken on line 1): member stays blocked" in finding.message
    pg_db.execute("CREATE TABLE package_group (id int)")
    locked = "SELECT relation::regclass::text, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' " \
             "AND relation = 'member'::regclass"
    with psycopg.connect(pg_db.dsn) as connection:
        connection.execute("ALTER TABLE package_group RENAME TO member")
        held = connection.execute(locked).fetchall()
        connection.execute("ALTER TABLE member ADD COLUMN a int")
        assert held == [("member", "AccessExclusiveLock")] and connection.execute(locked).fetchall() == held


def test_a_stronger_lock_on_the_table_the_transaction_holds_is_an_upgrade_that_queues_readers(pg_db):
    """DBOS' job_queue revision: CREATE TABLE referencing workflow_status (SHARE ROW EXCLUSIVE on it), then ADD COLUMN
    to it. On the server: the ALTER waits for a reader, and a new reader queues behind it."""
    import threading

    import psycopg

    from tests.test_sandbox import poll

    [finding] = lint("CREATE TABLE job (id int REFERENCES workflow (id));\nALTER TABLE workflow ADD COLUMN queue text;", RULE)
    assert finding.line == 2 and finding.message.startswith(
        "this statement upgrades the transaction's SHARE ROW EXCLUSIVE on workflow (taken on line 1) to ACCESS EXCLUSIVE"), finding
    pg_db.execute("CREATE TABLE workflow (id int PRIMARY KEY)")
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s"
    with psycopg.connect(pg_db.dsn) as reader, psycopg.connect(pg_db.dsn) as migration, \
            psycopg.connect(pg_db.dsn) as later, psycopg.connect(pg_db.dsn, autocommit=True) as watcher:
        reader.execute("SELECT * FROM workflow")
        migration.execute("CREATE TABLE job (id int REFERENCES workflow (id))")
        alter = threading.Thread(target=migration.execute, args=("ALTER TABLE workflow ADD COLUMN queue text",))
        alter.start()
        poll(lambda: watcher.execute(waiting, ("ALTER TABLE workflow%",)).fetchone()[0] == 1)
        read = threading.Thread(target=later.execute, args=("SELECT * FROM workflow",))
        read.start()
        poll(lambda: watcher.execute(waiting, ("SELECT * FROM workflow",)).fetchone()[0] == 1)  # queued behind the ALTER
        reader.commit()
        alter.join()
        migration.commit()
        read.join()


def test_a_type_change_from_a_type_the_migration_does_not_show_may_rewrite_or_not(pg_db):
    """Optuna's v2.6.0.a turns four VARCHAR(2048) columns into TEXT, which PostgreSQL does without a rewrite; from an
    integer it rewrites. The migration shows neither: the finding says the statement may rewrite, not that it does."""
    [finding] = lint("ALTER TABLE a ADD COLUMN n int;\nALTER TABLE b ALTER COLUMN v TYPE text;", RULE)
    assert finding.line == 2 and finding.message.startswith(
        "this statement may rewrite the table (its column's current type is not known to this migration) while the "
        "transaction still holds ACCESS EXCLUSIVE on a (taken on line 1)"), finding.message
    pg_db.execute("CREATE TABLE b (v varchar(2048), w int)")
    files = "SELECT pg_relation_filenode('b')"
    before = pg_db.execute(files)
    pg_db.execute("ALTER TABLE b ALTER COLUMN v TYPE text")
    assert pg_db.execute(files) == before
    pg_db.execute("ALTER TABLE b ALTER COLUMN w TYPE text")
    assert pg_db.execute(files) != before


def test_a_held_lock_on_an_index_is_named_as_one():
    """Kinto's DROP INDEX IF EXISTS i, then CREATE INDEX i again: the lock held is on an index (and its table)."""
    [finding] = lint("DROP INDEX IF EXISTS users_email_idx;\nCREATE INDEX users_email_idx ON users (email);", RULE)
    assert "holds ACCESS EXCLUSIVE on index users_email_idx (taken on line 1)" in finding.message
