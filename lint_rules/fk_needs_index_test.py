from lint_rules._testing import hits, lint_alembic, run_alembic

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
