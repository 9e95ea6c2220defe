from lint_rules._testing import hits, lint, lint_alembic, run_alembic

RULE = "fk-needs-index"


def test_foreign_key_without_an_index_warns():
    assert hits("ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users;", RULE) == 1


def test_unique_on_the_same_column_is_the_index():
    """Several constraints on one column are all kept: the UNIQUE builds the index the key needs."""
    assert hits("ALTER TABLE orders ADD COLUMN user_id bigint UNIQUE REFERENCES users;", RULE) == 0
    assert hits("ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users PRIMARY KEY;", RULE) == 0


def test_create_table_column_and_table_constraints():
    assert hits("CREATE TABLE o (id bigint, user_id bigint REFERENCES users);", RULE) == 1
    assert hits("CREATE TABLE o (user_id bigint UNIQUE REFERENCES users);", RULE) == 0
    assert hits("CREATE TABLE o (a int, b int, FOREIGN KEY (a, b) REFERENCES p, PRIMARY KEY (a, b));", RULE) == 0
    assert hits("CREATE TABLE o (a int, b bit varying(3), FOREIGN KEY (a) REFERENCES p);\nCREATE INDEX ON o (a);", RULE) == 0


def test_an_index_leading_with_the_key_columns_in_another_order_serves_it(pg_db):
    """The key's lookups are equalities on every column: PostgreSQL uses (b, a) for a key on (a, b)."""
    assert hits("CREATE TABLE o (a int, b int, c int, FOREIGN KEY (a, b) REFERENCES p, PRIMARY KEY (b, a, c));", RULE) == 0
    assert hits("CREATE TABLE o (a int, b int, c int, FOREIGN KEY (a, b) REFERENCES p, PRIMARY KEY (b, c, a));", RULE) == 1
    pg_db.execute("CREATE TABLE p (a int, b int, PRIMARY KEY (a, b)); CREATE TABLE o (a int, b int, c int, "
                  "FOREIGN KEY (a, b) REFERENCES p, PRIMARY KEY (b, a, c)); SET enable_seqscan = off")
    plan = pg_db.execute("EXPLAIN SELECT 1 FROM o WHERE a = 1 AND b = 2")
    assert "o_pkey" in " ".join(row[0] for row in plan)


def test_an_index_on_a_table_of_the_same_name_in_another_schema_does_not_serve_it():
    assert hits("CREATE TABLE app.o (a int REFERENCES p);\nCREATE INDEX ON o (a);", RULE) == 1
    assert hits("CREATE TABLE app.o (a int REFERENCES p);\nCREATE INDEX ON app.o (a);", RULE) == 0
    assert hits("SET search_path = app;\nCREATE TABLE o (a int REFERENCES p);\nCREATE INDEX ON app.o (a);", RULE) == 0


def test_on_a_table_the_migration_creates_the_index_is_built_plainly():
    """CONCURRENTLY is for tables others use; in the migration's transaction it would fail."""
    [finding] = lint("CREATE TABLE o (id int, user_id int REFERENCES users);", RULE)
    assert finding.help == "CREATE INDEX o_user_id_idx ON o (user_id);"
    [finding] = lint("ALTER TABLE orders ADD COLUMN user_id int REFERENCES users;", RULE)
    assert finding.help == "CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);"


ORACLE = [  # run on a live server by tests/test_oracle.py
    "ALTER TABLE orders ADD COLUMN team_id bigint UNIQUE REFERENCES teams;",
    "CREATE TABLE o (a bigint, b bit varying(3), FOREIGN KEY (a) REFERENCES teams);\nCREATE INDEX ON o (a);",
]


def test_alembic_revision_gets_create_index_concurrently_and_it_runs(tmp_path, pg_db):
    body = 'op.create_foreign_key("orders_user_id_fkey", "orders", "users", ["user_id"], ["id"], postgresql_not_valid=True)'
    [finding] = lint_alembic(tmp_path, body, RULE)
    assert finding.help == ('with op.get_context().autocommit_block():\n'
                            '    op.create_index("orders_user_id_idx", "orders", ["user_id"], postgresql_concurrently=True)')
    run_alembic(pg_db.dsn, "CREATE TABLE orders (user_id bigint)", finding.help)
    assert pg_db.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'") == [("orders_user_id_idx",)]
