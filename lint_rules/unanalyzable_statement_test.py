import pytest

from lint_rules._testing import hits, lint

RULE = "unanalyzable-statement"


@pytest.mark.parametrize("sql, reason", [
    ("FROBNICATE t;", "not understood"),
    ("CALL do_things();", "CALL of a procedure this migration does not create"),
    ("DO $$ BEGIN EXECUTE 'ALTER TABLE ' || tbl || ' ADD c int'; END $$;", "dynamic SQL"),
    ("DO LANGUAGE plpython3u $$ plpy.execute('x') $$;", "language"),
    ("ALTER TABLE t FROB x;", "cannot analyze"),
    ("ALTER TABLE ALL IN TABLESPACE a SET TABLESPACE b;", "ALL IN TABLESPACE"),
    ("WITH RECURSIVE x AS (SELECT 1) CYCLE a SET c USING p SELECT 1;", "WITH query followed by CYCLE"),
])
def test_unclassifiable_statements_are_reported(sql, reason):
    [finding] = lint(sql, RULE)
    assert finding.severity == "error"
    assert reason in finding.message


@pytest.mark.parametrize("sql", [
    "ALTER TYPE mood ADD VALUE 'sad';",
    "ALTER TYPE mood RENAME VALUE 'a' TO 'b';",
    "ALTER TABLE t VALIDATE CONSTRAINT c;",
    "ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i;",
    "ALTER TABLE t RENAME CONSTRAINT a TO b;",
    "ALTER TABLE t DISABLE TRIGGER ALL;",
    "ALTER TABLE t ALTER CONSTRAINT fk DEFERRABLE INITIALLY DEFERRED;",
    "REINDEX INDEX i;",
    "LOCK TABLE t IN SHARE MODE;",
    "ALTER SEQUENCE s RESTART WITH 10;",
    "CREATE EXTENSION IF NOT EXISTS pgcrypto;",
    "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql;",
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1) THEN CREATE TYPE m AS ENUM ('a'); END IF; END $$;",
    "ALTER TABLE t NO INHERIT parent;",
    "DROP ROUTINE IF EXISTS r(integer);",
    "CREATE RECURSIVE VIEW rv (n) AS VALUES (1) UNION ALL SELECT n + 1 FROM rv WHERE n < 10;",
    "ALTER FOREIGN DATA WRAPPER fdw OWNER TO bob;",
    "IMPORT FOREIGN SCHEMA public FROM SERVER srv INTO app;",
    "LISTEN jobs;",
    "UNLISTEN *;",
    "CHECKPOINT;",
    "LOAD 'auto_explain';",
    "DEALLOCATE ALL;",
    "DO $$ <<outer>> DECLARE a int := 0; DECLARE b int; BEGIN <<scan>> FOR i IN 1..2 LOOP EXIT scan WHEN i > 1; "
    "END LOOP scan; ALTER TABLE t ADD COLUMN IF NOT EXISTS c int; END outer $$;",  # labelled blocks (mattermost)
    "DROP INDEX a, b;",
    "DROP FUNCTION f(a integer);",
    "DROP FUNCTION a, b;",
    "CREATE INDEX i ON ONLY parent (a);",
    "COMMENT ON TABLE t IS 'x';",
    "GRANT SELECT ON t TO reader;",
    "CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10);",
    "START TRANSACTION;",
])
def test_real_migration_forms_are_understood(sql):
    assert hits(sql, RULE) == 0


def test_ignore_with_reason_accepts_it():
    assert hits("-- migrator:ignore unanalyzable-statement -- reviewed\nCALL do_things();", RULE) == 0


PLACEHOLDERS = (
    "CREATE TABLE :schema.jobs (id bigint, queue text DEFAULT :'queue');\n"
    'CREATE INDEX jobs_queue_idx ON :"schema".jobs (queue);\n'
    "SELECT (ARRAY[1, 2, 3])[2:3];\n"
)


def test_names_a_tool_substitutes_are_read_as_names():
    """psql's variables (`psql -v schema=app`) and an extension script's @extschema@ keep a statement readable."""
    from migrator.analyzer import Analyzer
    from migrator.sqltext import Relation

    create, index, select = Analyzer().analyze(PLACEHOLDERS)
    assert (create.kind, create.relation, create.unanalyzable) == ("create_table", Relation("jobs", ":schema"), None)
    assert (index.kind, index.relation, index.unanalyzable) == ("create_index", Relation("jobs", ":schema"), None)
    assert select.unanalyzable is None  # an array slice keeps its colon
    [extension] = Analyzer().analyze("ALTER TABLE @extschema@.part_config ADD COLUMN jobmon boolean DEFAULT true;")
    assert (extension.kind, extension.relation, extension.unanalyzable) == ("alter_table", Relation("part_config", "@extschema@"), None)
    fizz = 'CREATE TABLE IF NOT EXISTS {{ index .Options "Namespace" }}.sessions (id uuid);\nGRANT SELECT ON t TO {{ .User }};'
    create, grant = Analyzer().analyze(fizz)
    assert (create.relation, create.unanalyzable, grant.unanalyzable) == (Relation("sessions", "{{index . Options Namespace}}"), None, None)
    conditional = "{{- if .Postgres }}\nALTER TABLE {{ .Ns }}.t ADD COLUMN c int;\n{{ else }}\nSELECT 1;\n{{ end -}}\n"
    assert [(s.kind, s.unanalyzable) for s in Analyzer().analyze(conditional)] == [("alter_table", None), ("select", None)]
    flyway = "CREATE TABLE ${schema}.${table} (id text, note text DEFAULT '${table}');\nALTER TABLE ${table} ADD CONSTRAINT pk PRIMARY KEY (id);"
    create, alter = Analyzer().analyze(flyway)
    assert (create.relation, create.unanalyzable) == (Relation("${table}", "${schema}"), None)
    assert (alter.relation, alter.unanalyzable) == (Relation("${table}"), None)
    synapse = ("CREATE TABLE state_groups_pending_deletion (\n    sequence_number $%AUTO_INCREMENT_PRIMARY_KEY%$,\n"
               "    note TEXT DEFAULT '$%X%$'\n);\nCREATE INDEX t_idx ON t (a);")  # Synapse's delta 89/01
    create, index = Analyzer().analyze(synapse)
    assert (create.kind, create.relation, create.unanalyzable) == ("create_table", Relation("state_groups_pending_deletion"), None)
    assert (index.kind, index.relation, index.line) == ("create_index", Relation("t"), 5)
    assert hits(PLACEHOLDERS, RULE) == 0


def test_psql_substitutes_the_variables_the_analyzer_reads_as_names(pg_db, tmp_path):
    import subprocess

    from migrator.sandbox import find_pg_bin

    pg_db.execute("CREATE SCHEMA app")
    migration = tmp_path / "placeholders.sql"
    migration.write_text(PLACEHOLDERS)
    subprocess.run([str(find_pg_bin() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "schema=app", "-v", "queue=default",
                    "-f", str(migration), pg_db.dsn], check=True, capture_output=True)
    assert pg_db.execute("SELECT column_default FROM information_schema.columns WHERE table_schema = 'app' "
                         "AND column_name = 'queue'") == [("'default'::text",)]


PSQL_SCRIPT = (
    "\\set ON_ERROR_STOP 1\n"
    "-- psql reads a meta-command to the end of its line, no semicolon\n"
    "CREATE INDEX users_email_idx ON users (email);\n"
    "\\echo Use \"CREATE EXTENSION x\" to load this file. \\quit\n"
    "\\unset ON_ERROR_STOP\n"
    "ALTER TABLE users ADD COLUMN note text;\n"
)


def test_psql_meta_commands_are_statements_of_their_own_line():
    """GNUmed's upgrade scripts and every extension script (`\\echo ... \\quit`): the statement after a
    `\\set` line is read on its own, not swallowed into an unanalyzable `\\set ... CREATE INDEX`."""
    from migrator.analyzer import Analyzer

    statements = Analyzer().analyze(PSQL_SCRIPT)
    assert [(s.kind, s.line, s.unanalyzable) for s in statements] == [
        ("psql", 1, None), ("create_index", 3, None), ("psql", 4, None), ("psql", 5, None), ("alter_table", 6, None)]
    assert hits(PSQL_SCRIPT, RULE) == 0
    assert [f.line for f in lint(PSQL_SCRIPT, "require-concurrent-index")] == [3]


@pytest.mark.parametrize("sql, command", [
    ("\\i 002_tables.sql\n", "\\i"),
    ("\\ir helpers.sql\n", "\\ir"),
    ("SELECT format('DROP TABLE %I', tablename) FROM pg_tables WHERE schemaname = 'old' \\gexec\n", "\\gexec"),
    ("\\if :is_prod\nDROP TABLE t;\n\\endif\n", "\\if"),
    ("\\connect other\n", "\\connect"),
])
def test_psql_meta_commands_that_run_sql_of_their_own_are_reported(sql, command):
    finding = lint(sql, RULE)[0]
    assert f"psql meta-command {command} " in finding.message
