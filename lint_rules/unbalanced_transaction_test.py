from lint_rules._testing import hits, lint, lint_alembic

RULE = "unbalanced-transaction"


def test_begin_without_commit():
    [finding] = lint("SELECT 1;\nBEGIN;\nALTER TABLE t ADD COLUMN a int;", RULE, transaction="none")
    assert "BEGIN without COMMIT" in finding.message and finding.line == 2


def test_a_commit_written_for_a_nested_begin(pg_db):
    nested = "BEGIN;\nBEGIN;\nINSERT INTO t VALUES (1);\nCOMMIT;\nINSERT INTO t VALUES (2);\nCOMMIT;"
    [finding] = lint(nested, RULE, transaction="none")
    assert (finding.line, finding.severity) == (6, "error") and "the BEGIN on line 2" in finding.message
    import psycopg

    pg_db.execute("CREATE TABLE t (a int)")
    with psycopg.connect(pg_db.dsn, autocommit=True) as psql:  # statement by statement, as psql sends them
        for sql in nested.split(";\n"):
            psql.execute(sql.rstrip(";"))
        assert psql.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert pg_db.execute("SELECT a FROM t ORDER BY a") == [(1,), (2,)]  # the second INSERT committed on its own


def test_a_lone_nested_begin_under_one_commit_is_harmless():
    assert hits("BEGIN;\nBEGIN;\nCOMMIT;", RULE, transaction="none") == 0


def test_begin_in_a_file_the_runner_wraps_is_flagged_where_a_commit_ends_the_runner_s_transaction(pg_db):
    """PostgreSQL ignores the BEGIN (a warning) and the runner commits at the end: harmless alone (pgstac's
    0.9.12-0.10.0 opens with one). A COMMIT after it ends the runner's transaction: what follows runs alone."""
    import psycopg

    [finding] = lint("BEGIN;\nINSERT INTO t VALUES (1);\nCOMMIT;\nINSERT INTO t VALUES (2);", RULE)
    assert "already wraps" in finding.message and "COMMIT on line 3" in finding.message and finding.line == 1
    assert hits("BEGIN;\nINSERT INTO t VALUES (1);", RULE) == 0
    pg_db.execute("CREATE TABLE t (a int)")
    with psycopg.connect(pg_db.dsn) as runner:  # a runner's transaction around the file, statement by statement
        runner.execute("BEGIN;")
        runner.execute("INSERT INTO t VALUES (1)")
        assert runner.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        runner.rollback()  # the runner's transaction still held it all: its rollback undoes the file
        runner.execute("BEGIN;")
        runner.execute("INSERT INTO t VALUES (1)")
        runner.execute("COMMIT")
        assert runner.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # the runner's transaction is over
        runner.execute("INSERT INTO t VALUES (2)")
        runner.rollback()  # the runner's rollback no longer undoes the first INSERT
    assert pg_db.execute("SELECT a FROM t") == [(1,)]


def test_begin_commit_in_a_file_sent_as_one_query_string(pg_db):
    """golang-migrate sends the file as one string: BEGIN turns PostgreSQL's implicit block into an explicit one."""
    import psycopg

    balanced = "BEGIN;\nINSERT INTO t VALUES (1);\nCOMMIT;\nINSERT INTO t VALUES (2);"
    assert hits(balanced, RULE, runner="golang-migrate") == 0
    [finding] = lint("BEGIN;\nINSERT INTO t VALUES (3);", RULE, runner="golang-migrate")
    assert "BEGIN without COMMIT" in finding.message
    pg_db.execute("CREATE TABLE t (a int)")
    with psycopg.connect(pg_db.dsn, autocommit=True) as connection:
        notices = []
        connection.add_notice_handler(notices.append)
        connection.execute(balanced)
        assert (connection.info.transaction_status, notices) == (psycopg.pq.TransactionStatus.IDLE, [])
        connection.execute("BEGIN;\nINSERT INTO t VALUES (3);")
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS  # left open, holding its locks
        connection.execute("ROLLBACK")
    assert pg_db.execute("SELECT a FROM t ORDER BY a") == [(1,), (2,)]


def test_commit_without_begin_is_a_warning():
    [finding] = lint("COMMIT;", RULE, transaction="none")
    assert finding.severity == "warning"


def test_balanced_transactions_pass():
    assert hits("BEGIN;\nSELECT 1;\nCOMMIT;\nSTART TRANSACTION;\nSELECT 2;\nROLLBACK;", RULE, transaction="none") == 0
    assert hits("ALTER TABLE t ADD COLUMN a int;", RULE) == 0


def test_every_version():
    for pg_version in (11, 18):
        assert hits("BEGIN;\nBEGIN;\nCOMMIT;\nCOMMIT;", RULE, transaction="none", pg_version=pg_version) == 1


def test_rollback_in_a_one_transaction_migration_is_an_error():
    [finding] = lint("ALTER TABLE t ADD COLUMN a int;\nROLLBACK;", RULE)
    assert finding.severity == "error" and "undoes everything before it" in finding.message


def test_rollback_of_an_explicit_block_in_an_autocommit_file_passes():
    assert hits("-- migrator:no-transaction\nBEGIN;\nALTER TABLE t ADD COLUMN a int;\nROLLBACK;", RULE) == 0


def test_rollback_to_savepoint_is_not_this_rule_s():
    assert hits("SAVEPOINT s;\nALTER TABLE t ADD COLUMN a int;\nROLLBACK TO SAVEPOINT s;", RULE) == 0


ORACLE = [  # tests/test_oracle.py: transaction control is the harness's own, the rest is compared
    "ALTER TABLE t ADD COLUMN x int;\nSAVEPOINT s;\nALTER TABLE t ADD COLUMN y int;",
]


def test_begin_without_commit_in_an_alembic_autocommit_block(tmp_path, pg_db):
    """The block's end commits nothing of the revision's own: the transaction its BEGIN opened holds the locks of
    the block's statements until the block ends (psycopg 3 commits there) or, with psycopg2, past it, to the end
    of the revision. Alembic's own COMMIT and BEGIN around the block are not the revision's."""
    import sqlalchemy as sa
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    block = 'with op.get_context().autocommit_block():\n    op.execute("BEGIN")\n    op.execute("LOCK TABLE t IN SHARE MODE")\n'
    [finding] = lint_alembic(tmp_path, block + 'op.execute("SELECT 1")', RULE)
    assert (finding.line, finding.severity) == (10, "error") and "autocommit_block() of line 9" in finding.message, finding
    assert lint_alembic(tmp_path, block + '    op.execute("COMMIT")\nop.execute("SELECT 1")', RULE) == []
    assert lint_alembic(tmp_path, 'with op.get_context().autocommit_block():\n    op.execute("SELECT 1")', RULE) == []
    pg_db.execute("CREATE TABLE t (a int)")
    held = "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND relation = 't'::regclass AND mode = 'ShareLock'"
    for driver, held_after_the_block in (("psycopg", 0), ("psycopg2", 1)):
        engine = sa.create_engine(pg_db.dsn.replace("postgresql://", f"postgresql+{driver}://", 1))
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(connection)
                op = Operations(context)
                with context.begin_transaction():
                    with context.autocommit_block():
                        op.execute("BEGIN")
                        op.execute("LOCK TABLE t IN SHARE MODE")
                        assert op.get_bind().exec_driver_sql(held).scalar() == 1
                    assert op.get_bind().exec_driver_sql(held).scalar() == held_after_the_block, driver
        finally:
            engine.dispose()


def test_commit_and_chain_opens_the_next_transaction():
    """COMMIT AND CHAIN (and ROLLBACK AND CHAIN) start a new transaction at once: the COMMIT after it has one to end,
    and the locks taken before it are released."""
    chained = "BEGIN;\nALTER TABLE users ADD COLUMN a int;\nCOMMIT AND CHAIN;\nUPDATE users SET a = 1;\nCOMMIT;\n"
    rules = [f.rule for f in lint(chained, None, runner="psql")]
    assert "unbalanced-transaction" not in rules and "work-while-holding-lock" not in rules
    assert "unbalanced-transaction" in [f.rule for f in lint("BEGIN;\nCOMMIT AND CHAIN;\n", RULE, runner="psql")]
