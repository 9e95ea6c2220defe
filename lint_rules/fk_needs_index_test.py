from lint_rules._testing import hits

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
