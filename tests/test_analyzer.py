"""The shared analyzer: statement facts (kind, targets, locks, rewrite/scan, transaction needs)."""

import psycopg
import pytest

from migrator.analyzer import Analyzer, Lock
from migrator.sqltext import Relation, SqlSyntaxError


def one(sql, pg_version=15):
    [statement] = Analyzer(pg_version).analyze(sql)
    return statement


def test_identifiers_fold_as_postgres_folds_them():
    assert one("ALTER TABLE Users ADD COLUMN a int").relation == Relation("users")
    assert one('ALTER TABLE "Users" ADD COLUMN a int').relation == Relation("Users")
    assert one("ALTER TABLE App.Users ADD COLUMN a int").relation == Relation("users", "app")


def test_positions_are_one_based_lines_and_columns():
    statements = Analyzer().analyze("-- header\n\nSELECT 1;\n  CREATE INDEX i\n  ON t (a);")
    assert [(s.line, s.column, s.end_line) for s in statements] == [(3, 1, 3), (4, 3, 5)]


@pytest.mark.parametrize("sql, relation, lock", [
    ("CREATE INDEX i ON t (a)", "t", Lock.SHARE),
    ("CREATE INDEX CONCURRENTLY i ON t (a)", "t", Lock.SHARE_UPDATE_EXCLUSIVE),
    ("ALTER TABLE t ADD COLUMN a int", "t", Lock.ACCESS_EXCLUSIVE),
    ("ALTER TABLE t VALIDATE CONSTRAINT c", "t", Lock.SHARE_UPDATE_EXCLUSIVE),
    ("ALTER TABLE t ENABLE TRIGGER x", "t", Lock.SHARE_ROW_EXCLUSIVE),
    ("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id) NOT VALID", "u", Lock.SHARE_ROW_EXCLUSIVE),
    ("ALTER TABLE t SET (fillfactor = 70)", "t", Lock.SHARE_UPDATE_EXCLUSIVE),
    ("ALTER TABLE t ATTACH PARTITION p FOR VALUES IN (1)", "p", Lock.ACCESS_EXCLUSIVE),
    ("CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", "t", Lock.SHARE_ROW_EXCLUSIVE),
    ("LOCK TABLE t", "t", Lock.ACCESS_EXCLUSIVE),
    ("LOCK t IN ROW EXCLUSIVE MODE NOWAIT", "t", Lock.ROW_EXCLUSIVE),
    ("REFRESH MATERIALIZED VIEW CONCURRENTLY mv", "mv", Lock.EXCLUSIVE),
    ("VACUUM (ANALYZE) t", "t", Lock.SHARE_UPDATE_EXCLUSIVE),
    ("TRUNCATE ONLY t", "t", Lock.ACCESS_EXCLUSIVE),
    ("UPDATE ONLY t SET a = 1", "t", Lock.ROW_EXCLUSIVE),
    ("DROP TRIGGER IF EXISTS x ON t", "t", Lock.ACCESS_EXCLUSIVE),
    ("CREATE TABLE c (p int REFERENCES parent (id))", "parent", Lock.SHARE_ROW_EXCLUSIVE),
])
def test_lock_levels_follow_the_postgres_docs(sql, relation, lock):
    statement = one(sql)
    assert statement.unanalyzable is None
    assert statement.lock_on(Relation(relation)) == lock


def test_attach_partition_locks_parent_strongly_before_pg12():
    assert one("ALTER TABLE t ATTACH PARTITION p DEFAULT", 11).lock_on(Relation("t")) == Lock.ACCESS_EXCLUSIVE
    assert one("ALTER TABLE t ATTACH PARTITION p DEFAULT", 12).lock_on(Relation("t")) == Lock.SHARE_UPDATE_EXCLUSIVE


@pytest.mark.parametrize("sql, rewrites, scans", [
    ("ALTER TABLE t ADD COLUMN a int", False, False),
    ("ALTER TABLE t ADD COLUMN a int DEFAULT 0", False, False),
    ("ALTER TABLE t ADD COLUMN a int NOT NULL DEFAULT 0", False, False),
    ("ALTER TABLE t ADD COLUMN a int NOT NULL", False, True),
    ("ALTER TABLE t ADD COLUMN a int DEFAULT NULL NOT NULL", False, True),
    ("ALTER TABLE t ADD COLUMN a float DEFAULT random()", True, False),
    ("ALTER TABLE t ADD COLUMN a bigserial", True, False),
    ("ALTER TABLE t ADD COLUMN a int GENERATED ALWAYS AS IDENTITY", True, False),
    ("ALTER TABLE t ADD COLUMN a int GENERATED ALWAYS AS (b + 1) STORED", True, False),
    ("ALTER TABLE t ALTER COLUMN a SET NOT NULL", False, True),
    ("ALTER TABLE t ADD CHECK (a > 0)", False, True),
    ("ALTER TABLE t ADD CHECK (a > 0) NOT VALID", False, False),
    ("ALTER TABLE t SET LOGGED", True, False),
    ("ALTER TABLE t SET TABLESPACE fast", True, False),
    ("VACUUM FULL t", True, True),
    ("CLUSTER t USING t_pkey", True, False),
    ("CREATE INDEX i ON t (a)", False, True),
])
def test_rewrite_and_scan(sql, rewrites, scans):
    statement = one(sql)
    assert (statement.rewrites, statement.scans) == (rewrites, scans)


def test_default_rewrites_before_pg11_only():
    assert one("ALTER TABLE t ADD COLUMN a int DEFAULT 0", 10).rewrites
    assert not one("ALTER TABLE t ADD COLUMN a int DEFAULT 0", 11).rewrites


def test_pg18_generated_columns_default_to_virtual():
    assert not one("ALTER TABLE t ADD COLUMN a int GENERATED ALWAYS AS (b + 1)", 18).rewrites
    assert one("ALTER TABLE t ADD COLUMN a int GENERATED ALWAYS AS (b + 1)", 17).rewrites


@pytest.mark.parametrize("sql", [
    "CREATE INDEX CONCURRENTLY i ON t (a)",
    "DROP INDEX CONCURRENTLY i",
    "REINDEX TABLE CONCURRENTLY t",
    "ALTER TABLE t DETACH PARTITION p CONCURRENTLY",
    "VACUUM t",
    "CREATE DATABASE x",
])
def test_statements_that_may_not_run_in_a_transaction(sql):
    assert one(sql).no_transaction


@pytest.mark.parametrize("sql, kind", [
    ("CREATE DATABASE never_made", "create_database"), ("DROP DATABASE IF EXISTS never_made", "drop_database"),
    ("CREATE TABLESPACE never_made LOCATION '/nowhere'", "create_tablespace"),
    ("DROP TABLESPACE IF EXISTS never_made", "drop_tablespace"),
])
def test_database_and_tablespace_statements_say_what_postgresql_says_in_a_transaction(sql, kind, pg_db):
    statement = one(sql)
    with psycopg.connect(pg_db.dsn) as connection, pytest.raises(psycopg.errors.ActiveSqlTransaction) as refused:
        connection.execute(sql)
    assert (statement.kind, statement.no_transaction) == (kind, str(refused.value))


def test_enum_add_value_needs_autocommit_only_before_pg12():
    assert one("ALTER TYPE mood ADD VALUE 'sad'", 11).no_transaction
    assert one("ALTER TYPE mood ADD VALUE 'sad'", 12).no_transaction is None


def test_rename_without_column_keyword_is_a_column_rename():
    [action] = one("ALTER TABLE t RENAME a TO b").actions
    assert (action.kind, action.column, action.new_name) == ("rename_column", "a", "b")
    [action] = one("ALTER TABLE t RENAME TO u").actions
    assert (action.kind, action.new_name) == ("rename_table", "u")


def test_alter_table_actions_keep_not_valid_anywhere():
    actions = one("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID, ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES u NOT VALID").actions
    assert [(a.kind, a.constraint, a.not_valid) for a in actions] == [
        ("add_constraint", "c", True), ("add_constraint", "f", True)]


def test_a_type_change_locks_the_tables_at_the_other_end_of_the_columns_foreign_keys():
    [statement] = Analyzer().analyze("ALTER TABLE orders ALTER COLUMN user_id TYPE bigint, ALTER COLUMN note SET DEFAULT ''")
    assert [(a.kind, a.partner_lock) for a in statement.actions] == [("alter_column_type", Lock.ACCESS_EXCLUSIVE),
                                                                     ("set_default", None)]


def test_using_index_and_unnamed_check():
    [using] = one("ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_idx").actions
    assert (using.constraint_type, using.using_index) == ("primary_key", "t_idx")
    [check] = one("ALTER TABLE t ADD CHECK ((email IS NOT NULL))").actions
    assert (check.constraint, check.check_not_null_column) == (None, "email")


def test_timeouts_set_are_recorded_in_milliseconds():
    statements = Analyzer().analyze(
        "SET LOCAL lock_timeout = '5s'; SET statement_timeout TO 250; SET lock_timeout = '1min';"
        "SELECT set_config('statement_timeout', '2s', false); RESET lock_timeout; SET lock_timeout = DEFAULT"
    )
    assert [(s.name, s.milliseconds, s.local) for st in statements for s in st.settings] == [
        ("lock_timeout", 5000, True), ("statement_timeout", 250, False), ("lock_timeout", 60000, False),
        ("statement_timeout", 2000, False), ("lock_timeout", None, False), ("lock_timeout", None, False)]


def test_do_block_statements_are_analyzed_with_file_positions():
    [do] = Analyzer().analyze("SELECT 1;\nDO $body$\nDECLARE n int := 0;\nBEGIN\n  PERFORM 1;\n  ALTER TABLE t ADD COLUMN c int;\n  EXECUTE format('DROP TABLE %I', n);\nEND\n$body$;")[1:]
    kinds = [(child.kind, child.line, child.column, bool(child.unanalyzable)) for child in do.children]
    assert kinds == [("alter_table", 6, 3, False), ("execute", 7, 3, True)]


@pytest.mark.parametrize("execute, analyzed", [
    # CKAN's revision 105: an unnamed foreign key dropped by the name read from the catalog
    ("EXECUTE format('ALTER TABLE resource DROP CONSTRAINT %I', fk_name)", ("alter_table", "resource")),
    ("EXECUTE format('ALTER TABLE t ALTER COLUMN %1$I SET DEFAULT %2$L', c, v)", ("alter_table", "t")),
    ("EXECUTE 'CREATE INDEX i ON t (a)'", ("create_index", "t")),
    ("EXECUTE format('DROP TABLE %I', n)", "names the table it changes at run time"),
    ("EXECUTE format('DROP TABLE %s', n)", "cannot be analyzed"),
    ("EXECUTE 'CREATE INDEX i ON ' || n", "cannot be analyzed"),
    ("EXECUTE format('ALTER TABLE t DROP CONSTRAINT %I', c) || ''", "cannot be analyzed"),
])
def test_execute_of_a_constant_or_a_format_template_is_analyzed_as_the_statement_it_runs(execute, analyzed):
    [do] = Analyzer().analyze(f"DO $$\nDECLARE c text;\nBEGIN\n  {execute};\nEND $$")
    [child] = do.children
    assert (child.line, child.column) == (4, 3)
    if isinstance(analyzed, str):
        assert analyzed in child.unanalyzable
    else:
        assert child.unanalyzable is None and (child.kind, str(child.locks[0].relation)) == analyzed


def test_start_transaction_is_a_transaction_not_a_select():
    assert one("START TRANSACTION ISOLATION LEVEL SERIALIZABLE").kind == "begin"


def test_unknown_statement_is_unanalyzable_never_safe():
    assert "FROBNICATE" in one("FROBNICATE everything").unanalyzable


def test_unterminated_string_is_a_syntax_error_with_a_line():
    with pytest.raises(SqlSyntaxError) as error:
        Analyzer().analyze("SELECT 1;\nSELECT 'oops;\n")
    assert error.value.line >= 1


def kinds_and_locks(sql):
    return [(s.kind, [(str(t.relation), t.lock) for t in s.locks]) for top in Analyzer().analyze(sql) for s in top.walk()]


@pytest.mark.parametrize("elsif", ["ELSIF", "ELSEIF"])
def test_plpgsql_elsif_and_its_elseif_spelling_are_read(elsif):
    body = f"DO $$\nBEGIN\n  IF a THEN\n    NULL;\n  {elsif} b THEN\n    ALTER TABLE u ADD COLUMN y int;\n  END IF;\nEND $$;"
    assert kinds_and_locks(body) == [("do", []), ("alter_table", [("u", Lock.ACCESS_EXCLUSIVE)])]


WITH_QUERIES = [
    ("WITH moved AS (DELETE FROM a WHERE x > 0 RETURNING *) INSERT INTO b SELECT * FROM moved",
     [("with", []), ("delete", [("a", Lock.ROW_EXCLUSIVE)]), ("insert", [("b", Lock.ROW_EXCLUSIVE)])]),
    ("WITH u AS (UPDATE a SET x = 1 RETURNING x) SELECT count(*) FROM u",
     [("with", []), ("update", [("a", Lock.ROW_EXCLUSIVE)])]),
    ("WITH s (v) AS MATERIALIZED (SELECT 1), t AS NOT MATERIALIZED (SELECT 2) UPDATE a SET x = s.v FROM s",
     [("with", []), ("update", [("a", Lock.ROW_EXCLUSIVE)])]),
    ("WITH RECURSIVE s AS (SELECT 1) SELECT * FROM s", [("with", [])]),
]


@pytest.mark.parametrize("sql, expected", WITH_QUERIES)
def test_data_modifying_with_queries_are_analyzed_part_by_part(sql, expected, pg_db):
    assert kinds_and_locks(sql) == expected
    # PostgreSQL is the judge: the locks this backend holds on a and b after the statement
    pg_db.execute("CREATE TABLE a (x int); CREATE TABLE b (x int)")
    with psycopg.connect(pg_db.dsn) as connection:
        connection.execute(sql)
        held = connection.execute(
            "SELECT relation::regclass::text, mode FROM pg_locks WHERE pid = pg_backend_pid() "
            "AND relation IN ('a'::regclass, 'b'::regclass) AND mode <> 'AccessShareLock' ORDER BY 1"
        ).fetchall()
    stated = sorted({(relation, lock.name.title().replace("_", "") + "Lock") for _, locks in expected for relation, lock in locks})
    assert held == stated


def test_a_with_query_we_cannot_read_is_reported():
    [statement] = Analyzer().analyze("WITH RECURSIVE s AS (SELECT 1) SEARCH DEPTH FIRST BY a SET o SELECT * FROM s")
    assert statement.unanalyzable == "WITH query followed by SEARCH is not understood"


def test_a_rule_is_on_the_table_after_its_event():
    """CREATE RULE r AS ON INSERT TO t: the table follows TO (mimeo's rules were read as locking a table 'insert')."""
    [rule] = Analyzer().analyze("CREATE OR REPLACE RULE r AS ON UPDATE TO app.t WHERE old.a > 0 DO ALSO NOTIFY t")
    assert (rule.kind, rule.relation, rule.max_lock) == ("create_rule", Relation("t", "app"), Lock.ACCESS_EXCLUSIVE)


# Run on a live server by tests/test_oracle.py (tables of lint_rules._testing.ORACLE_SCHEMA, with rows).
ORACLE = [
    # ALTER SEQUENCE: its options take SHARE ROW EXCLUSIVE; RENAME, SET SCHEMA and OWNER TO, ACCESS EXCLUSIVE
    ("CREATE SEQUENCE sq; CREATE SEQUENCE sr; CREATE SEQUENCE ss",
     "ALTER SEQUENCE sq RESTART WITH 5;\nALTER SEQUENCE sq OWNED BY t.a;\nALTER SEQUENCE IF EXISTS sq OWNER TO CURRENT_USER;\n"
     "ALTER SEQUENCE sr RENAME TO sr2;\nALTER SEQUENCE ss SET SCHEMA app"),
    "CREATE INDEX i ON t (a)",
    "CREATE UNIQUE INDEX i ON users (lower(email))",
    "CREATE INDEX CONCURRENTLY i ON t (a)",
    "ALTER TABLE t ADD COLUMN x int",
    "ALTER TABLE t ADD COLUMN x int DEFAULT 0",
    "ALTER TABLE t ADD COLUMN x float DEFAULT random()",
    "ALTER TABLE t ADD COLUMN x bigserial",
    "ALTER TABLE t ADD COLUMN x int GENERATED ALWAYS AS IDENTITY",
    "ALTER TABLE t ADD COLUMN x int GENERATED ALWAYS AS (a + 1) STORED",
    "ALTER TABLE t ALTER COLUMN a SET NOT NULL",
    # SET NOT NULL on a column NOT NULL already checks nothing; after DROP NOT NULL it scans again
    "ALTER TABLE t ADD COLUMN m int NOT NULL DEFAULT 0;\nALTER TABLE t ALTER COLUMN m SET NOT NULL;\n"
    "ALTER TABLE t ALTER COLUMN m DROP NOT NULL;\nALTER TABLE t ALTER COLUMN m SET NOT NULL",
    "ALTER TABLE t ADD CONSTRAINT a_pos CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT a_pos",
    "ALTER TABLE t ADD CHECK (a > 0)",
    "ALTER TABLE t SET UNLOGGED",
    "ALTER TABLE t SET (fillfactor = 70)",
    "ALTER TABLE t ALTER COLUMN b SET STATISTICS 200",
    "ALTER TABLE t RENAME COLUMN a TO a2",
    "ALTER TABLE t RENAME TO t2",
    "ALTER TABLE t DROP COLUMN b",
    "ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID",
    "ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (user_id) REFERENCES users (id)",
    "ALTER TABLE orders ADD COLUMN team_id bigint REFERENCES teams",
    "ALTER TABLE orders ADD COLUMN team_id bigint DEFAULT 1 REFERENCES teams",
    "ALTER TABLE orders ADD COLUMN team_id bigint UNIQUE REFERENCES teams",
    "ALTER TABLE orders ADD COLUMN flags bit varying(8), ADD COLUMN tags varchar(50)[3][4]",
    "ALTER TABLE users ALTER COLUMN handle TYPE text",
    "ALTER TABLE users ALTER COLUMN handle TYPE varchar(50)",
    "ALTER TABLE users ALTER COLUMN age TYPE bigint USING age::bigint",
    "ALTER TABLE users ALTER COLUMN handle TYPE text USING handle || ''",
    # NOT NULL with no value to fill it with: PostgreSQL reads the table (an empty one: any row fails it)
    "CREATE TABLE e (id int); ALTER TABLE e ADD COLUMN x int NOT NULL, ADD COLUMN y int DEFAULT NULL NOT NULL",
    "ALTER TABLE t ADD COLUMN x int NOT NULL DEFAULT 0",
    # a column in a foreign key, at either end: PostgreSQL rebuilds the key, locking the other table too
    "ALTER TABLE orders ALTER COLUMN user_id TYPE bigint",
    "ALTER TABLE users ALTER COLUMN id TYPE bigint",
    ("CREATE TABLE parent (id int PRIMARY KEY, code varchar(10) UNIQUE); "
     "CREATE TABLE child (id int, code varchar(10) REFERENCES parent (code), up int REFERENCES parent)",
     "ALTER TABLE parent ALTER COLUMN code TYPE varchar(50); ALTER TABLE child ALTER COLUMN up TYPE bigint"),
    "ALTER TABLE t DISABLE TRIGGER USER",
    "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
    # a rule names its table after its event (ON INSERT TO t): ACCESS EXCLUSIVE on t
    "CREATE RULE t_nodata AS ON INSERT TO t DO INSTEAD NOTHING",
    "LOCK TABLE t",
    "LOCK t IN ROW EXCLUSIVE MODE NOWAIT",
    "REFRESH MATERIALIZED VIEW mv",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
    "VACUUM (ANALYZE) t",
    "VACUUM (FULL false) t",
    "TRUNCATE t",
    "DROP INDEX users_email_idx",
    "DROP TABLE events",
    "REINDEX INDEX users_email_idx",
    "REINDEX (CONCURRENTLY false) TABLE t",
    "REINDEX TABLE CONCURRENTLY t",
    "CLUSTER t USING t_pkey",
    "CREATE TABLE c (p bigint REFERENCES users (id), flags bit varying)",
    "CREATE TABLE c AS SELECT users.id, email FROM users JOIN teams USING (id)",
    "CREATE TEMP TABLE c AS SELECT id FROM users WITH NO DATA",
    "SELECT id, email INTO c FROM users",
    "CREATE TABLE app.users (id bigint);\nCREATE INDEX ON users (email)",
    "SET search_path = app, public;\nCREATE INDEX ON t (a)",
    "DO $$ BEGIN ALTER TABLE t ADD COLUMN x int; CREATE INDEX ON t (a); END $$",
    ("CREATE TABLE dyn (a int CHECK (a > 0))", "DO $$ DECLARE c text; BEGIN SELECT conname INTO c FROM pg_constraint "
     "WHERE conrelid = 'dyn'::regclass; EXECUTE format('ALTER TABLE dyn DROP CONSTRAINT %I', c); END $$"),
    "ALTER DOMAIN email ADD CONSTRAINT has_at CHECK (VALUE LIKE '%')",
    "ALTER DOMAIN email ADD CONSTRAINT has_at CHECK (VALUE LIKE '%') NOT VALID;\nALTER DOMAIN email VALIDATE CONSTRAINT has_at",
    "ALTER DOMAIN email SET NOT NULL",
    "CREATE DATABASE x",
    # a routine the migration creates runs its body where it is called (PL/pgSQL, SQL, a procedure, nested)
    "CREATE FUNCTION add_index() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE INDEX i ON t (a); END $$;\nSELECT add_index()",
    "CREATE FUNCTION fill() RETURNS void LANGUAGE sql AS 'UPDATE t SET a = a; ALTER TABLE users ADD COLUMN x int';\n"
    "CREATE PROCEDURE run() LANGUAGE plpgsql AS $$ BEGIN PERFORM fill(); END $$;\nCALL run()",
]


SQL_BODIES = (
    "CREATE TABLE t (x int);\n"
    "CREATE FUNCTION add_one(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n"
    "  SELECT CASE WHEN a > 0 THEN a + 1 ELSE (CASE a WHEN 0 THEN 1 END) END;\nEND;\n"
    "create or replace procedure touch() language sql begin atomic update t set x = x; insert into t values (1); end;\n"
    "CREATE OR REPLACE FUNCTION f(begin int) RETURNS int LANGUAGE sql RETURN (SELECT CASE WHEN begin > 0 THEN begin END);\n"
    "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION g();\n"
)


def test_a_routine_body_in_sql_is_one_statement_as_psql_and_postgresql_read_it(pg_db):
    """BEGIN ATOMIC ... END (PostgreSQL 14+): psql sends the CREATE FUNCTION with every semicolon of
    its body; cut there, the statements PostgreSQL gets are refused (and apply sends them one by one)."""
    statements = Analyzer().analyze(SQL_BODIES)
    assert [(s.line, s.kind) for s in statements] == [
        (1, "create_table"), (2, "create_function"), (6, "create_procedure"), (7, "create_function"), (8, "create_trigger")]
    assert "insert into t values (1); end" in statements[2].sql
    pg_db.execute("CREATE FUNCTION g() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$")
    with psycopg.connect(pg_db.dsn, autocommit=True) as connection:
        for statement in statements:  # each as apply sends it: PostgreSQL accepts every one
            connection.execute(statement.sql)
        connection.execute("CALL touch()")
        assert connection.execute("SELECT add_one(1), add_one(0), f(7), count(*) FROM t").fetchone() == (2, 1, 7, 1)


ROUTINE = "CREATE FUNCTION app.add_index() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n  CREATE INDEX i ON users (email);\nEND $$;\n"


@pytest.mark.parametrize("call", [
    "SELECT add_index();", "SELECT app.add_index();", "SELECT count(*), add_index() FROM t;", "INSERT INTO t SELECT add_index();",
    "DO $$ BEGIN PERFORM add_index(); END $$;", "WITH x AS (SELECT add_index()) SELECT * FROM x;",
])
def test_a_call_of_a_routine_the_migration_created_runs_its_body_there(call):
    """Its statements become the call's children, at the call's position (where the hazard happens)."""
    created, calling = Analyzer().analyze(ROUTINE + call)
    assert created.kind == "create_function" and created.children == []
    [index] = [s for s in calling.walk() if s.kind == "create_index"]
    assert (index.line, index.column, str(index.locks[0].relation), index.locks[0].lock) == (5, 1, "users", Lock.SHARE)
    assert calling.unanalyzable is None


@pytest.mark.parametrize("statement", [
    "SELECT other.add_index();",  # another schema's routine of that name
    "SELECT add_indexes();",
    "DROP FUNCTION add_index();", "GRANT EXECUTE ON FUNCTION add_index() TO public;", "COMMENT ON FUNCTION add_index() IS 'x';",
    "ALTER FUNCTION add_index() OWNER TO CURRENT_USER;",
    "CREATE TABLE u (a int DEFAULT add_index());",  # a new table's DEFAULT runs on no rows
    "SELECT 'add_index()';",
])
def test_naming_a_routine_without_running_it_adds_nothing(statement):
    created, other = Analyzer().analyze(ROUTINE + statement)
    assert other.children == []


@pytest.mark.parametrize("routine", [
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC UPDATE t SET a = 1; SELECT 1; END;",
    "CREATE OR REPLACE FUNCTION f() RETURNS void AS 'UPDATE t SET a = 1; SELECT 1' LANGUAGE 'sql';",
    "CREATE PROCEDURE f() LANGUAGE plpgsql AS $$ BEGIN UPDATE t SET a = 1; EXECUTE 'DROP TABLE ' || now(); END $$;",
    # a routine calling another, and itself: each body once per call
    "CREATE FUNCTION g() RETURNS void LANGUAGE plpgsql AS $$ BEGIN UPDATE t SET a = 1; PERFORM g(); END $$;\n"
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM g(); PERFORM f(); END $$;",
])
def test_what_a_body_runs_is_read_in_either_language_and_what_cannot_be_read_adds_nothing(routine):
    """A SQL body's SELECTs compute its result; dynamic EXECUTE stays as unknown as a routine the migration did not create."""
    call = "CALL f();" if "PROCEDURE" in routine else "SELECT f();"
    *_, calling = Analyzer().analyze(routine + "\n" + call)
    assert [(s.kind, s.unanalyzable) for s in calling.walk()] == [(calling.kind, None), ("update", None)]


def test_a_routine_in_another_language_or_a_procedure_the_migration_did_not_create_is_not_read():
    c_function, select, call = Analyzer().analyze(
        "CREATE FUNCTION f() RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'f';\nSELECT f();\nCALL p();")
    assert select.children == [] and select.unanalyzable is None
    assert "procedure this migration does not create" in call.unanalyzable


@pytest.mark.parametrize("sql", ["SET check_function_bodies TO on", "set standard_conforming_strings = on",
                                 "ALTER ROLE r SET x TO on", "ALTER DATABASE d SET x = off"])
def test_a_setting_whose_value_is_a_keyword_is_no_syntax_error(sql):
    assert one(sql).syntax_error is None and one(sql).unanalyzable is None


def test_the_rows_of_copy_from_stdin_are_psqls_data_not_sql():
    """pg_dump's and psql scripts' COPY ... FROM stdin: the lines up to `\\.` are rows (quotes and semicolons
    included), then SQL goes on; \\copy is the same COPY, run by psql."""
    sql = ("COPY users (id, name) FROM stdin;\n1\tO'Brien; x\n2\t\\N\n\\.\n"
           "\\copy teams (id) from stdin\n7\n\\.\nALTER TABLE users ADD COLUMN a int;\n")
    statements = Analyzer().analyze(sql)
    assert [(s.kind, s.line, str(s.relation), s.unanalyzable) for s in statements] == [
        ("copy", 1, "users", None), ("copy", 5, "teams", None), ("alter_table", 8, "users", None)]
    assert [s.lock_on(s.relation) for s in statements[:2]] == [Lock.ROW_EXCLUSIVE, Lock.ROW_EXCLUSIVE]
    assert all(a.kind == "copy_from_client" for s in statements[:2] for a in s.actions)
    [from_file] = Analyzer().analyze("\\copy users FROM 'users.csv' CSV\n")  # rows from a file on psql's side
    assert (from_file.kind, from_file.unanalyzable, [a.kind for a in from_file.actions]) == ("copy", None, ["copy_from_client"])
    assert from_file.lock_on(Relation("users")) == Lock.ROW_EXCLUSIVE


@pytest.mark.parametrize("sql, kind, scans", [
    ("ALTER TABLE t ADD CONSTRAINT t_c_nn NOT NULL c", "set_not_null", True),
    ("ALTER TABLE t ADD NOT NULL c", "set_not_null", True),
    ("ALTER TABLE t ADD CONSTRAINT t_c_nn NOT NULL c NOT VALID", "add_constraint", False),  # VALIDATE scans later
])
def test_postgresql_18_not_null_constraints_are_set_not_null_or_not_valid(sql, kind, scans):
    statement = one(sql, 18)
    assert statement.unanalyzable is None
    assert [(a.kind, a.column, a.constraint_type) for a in statement.actions] == [(kind, "c", "not_null")]
    assert (statement.scans, statement.lock_on(Relation("t"))) == (scans, Lock.ACCESS_EXCLUSIVE)


def test_table_is_a_query():
    """TABLE t is SELECT * FROM t: it reads the table, and holding a lock while it runs is work."""
    statement = one("TABLE users")
    assert (statement.kind, statement.unanalyzable) == ("select", None)


@pytest.mark.parametrize("sql, kind", [
    ("EXPLAIN SELECT * FROM users", "explain"),
    ("EXPLAIN (ANALYZE false, COSTS off) DELETE FROM users", "explain"),  # planned, not run
    ("DECLARE c CURSOR FOR SELECT * FROM users", "select"),
    ("FETCH 10 FROM c", "fetch"),
    ("MOVE NEXT IN c", "move"),
    ("CLOSE c", "close"),
    ("PREPARE p (int) AS SELECT $1", "prepare"),
])
def test_plans_cursors_and_prepared_statements_are_read(sql, kind):
    statement = one(sql)
    assert (statement.kind, statement.unanalyzable, statement.locks) == (kind, None, [])


@pytest.mark.parametrize("sql", ["EXPLAIN ANALYZE DELETE FROM users", "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM users"])
def test_explain_analyze_runs_what_it_explains(sql):
    assert "EXPLAIN ANALYZE runs the statement" in one(sql).unanalyzable
