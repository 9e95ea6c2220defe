"""Every rule's help on an Alembic revision is in the revision's terms: op.* calls (raw SQL only inside
op.execute), `# migrator:` comments, or prose that holds for any runner; never SQL to paste into a revision."""

import ast
import re

import pytest

from lint_rules import all_rules
from lint_rules._testing import lint_alembic
from migrator.analyzer import Analyzer
from migrator.gates import KnownBackfill

ANALYZER = Analyzer()

AUTOCOMMIT = "with op.get_context().autocommit_block():\n    "
# For each rule, revisions (upgrade() bodies) that trigger it, on PostgreSQL 15 unless a version is given.
TRIGGERS = {
    "add-column-identity": ['op.add_column("users", sa.Column("n", sa.BigInteger(), sa.Identity()))'],
    "add-column-required": ['op.add_column("users", sa.Column("plan", sa.Text(), nullable=False))'],
    "add-column-serial": ['op.execute("ALTER TABLE users ADD COLUMN n bigserial")'],
    "add-column-stored-generated": ['op.add_column("users", sa.Column("e", sa.Text(), sa.Computed("lower(email)", persisted=True)))'],
    "add-column-volatile-default": [
        'op.add_column("users", sa.Column("t", sa.Text(), server_default=sa.text("gen_random_uuid()::text")))',
        ('op.add_column("users", sa.Column("n", sa.Integer(), server_default="0"))', 10)],
    "add-exclusion-constraint": ['op.create_exclude_constraint("no_overlap", "rooms", ("during", "&&"), using="gist")'],
    "add-foreign-key": ['op.create_foreign_key("orders_user_id_fkey", "orders", "users", ["user_id"], ["id"])',
                        'op.add_column("orders", sa.Column("team_id", sa.BigInteger(), sa.ForeignKey("teams.id"), server_default="1"))'],
    "add-primary-key": ['op.create_primary_key("users_pkey", "users", ["id"])'],
    "add-unique-constraint": ['op.create_unique_constraint("users_email_key", "users", ["email"])'],
    "alter-domain-constraint": ['op.execute("ALTER DOMAIN email ADD CONSTRAINT email_at CHECK (VALUE LIKE \'%@%\')")'],
    "attach-partition-scan": ['op.execute("ALTER TABLE events ATTACH PARTITION events_2023 '
                              'FOR VALUES FROM (\'2023-01-01\') TO (\'2024-01-01\')")'],
    "ban-create-table": ['op.create_table("x", sa.Column("id", sa.BigInteger()))'],
    "ban-truncate": ['op.execute("TRUNCATE users")'],
    "changing-column-type": ['op.alter_column("users", "age", type_=sa.BigInteger(), existing_type=sa.Integer())',
                             'op.alter_column("users", "email", type_=sa.Text())',
                             'op.alter_column("users", "email", type_=sa.Integer(), postgresql_using="length(email)")',
                             'op.execute("ALTER TABLE users ADD COLUMN born timestamp")\n'
                             'op.alter_column("users", "born", type_=sa.DateTime(timezone=True))',
                             'op.execute("ALTER TABLE users ADD COLUMN d mood")\nop.alter_column("users", "d", type_=sa.Text())'],
    "concurrent-index-if-not-exists": [AUTOCOMMIT + 'op.create_index("users_email_idx", "users", ["email"], '
                                                    'postgresql_concurrently=True, if_not_exists=True)'],
    "concurrently-in-transaction": ['op.create_index("users_email_idx", "users", ["email"], postgresql_concurrently=True)'],
    "constraint-missing-not-valid": ['op.create_check_constraint("users_age", "users", "age > 0")',
                                     'op.add_column("users", sa.Column("n", sa.Integer(), sa.CheckConstraint("n > 0")))'],
    "create-domain-with-constraint": ['op.execute("CREATE DOMAIN d AS text CHECK (VALUE <> \'\')")'],
    "drop-column": ['op.drop_column("users", "name")'],
    "drop-database": [AUTOCOMMIT + 'op.execute("DROP DATABASE x")'],
    "drop-not-null": ['op.alter_column("users", "email", nullable=True)'],
    "drop-table": ['op.drop_table("users")'],
    "duplicate-column-assignment": ['op.execute("UPDATE users SET name = \'a\', name = \'b\'")'],
    "enum-value-in-transaction": ['op.execute("ALTER TYPE mood ADD VALUE \'happy\'")\nop.execute("UPDATE users SET state = \'happy\'")',
                                  ('op.execute("ALTER TYPE mood ADD VALUE \'happy\'")', 11)],
    "fk-needs-index": ['op.create_foreign_key("orders_user_id_fkey", "orders", "users", ["user_id"], ["id"], postgresql_not_valid=True)'],
    "identifier-too-long": ['op.add_column("users", sa.Column("' + "x" * 70 + '", sa.Text()))'],
    "lock-table": ['op.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")'],
    "prefer-bigint": ['op.add_column("users", sa.Column("n", sa.Integer()))'],
    "prefer-identity": ['op.execute("ALTER TABLE users ADD COLUMN n bigserial")'],
    "prefer-jsonb": ['op.add_column("users", sa.Column("d", sa.JSON()))'],
    "prefer-robust-stmts": [AUTOCOMMIT + call for call in (
        'op.create_index("users_email_idx", "users", ["email"], postgresql_concurrently=True)',
        'op.create_table("x", sa.Column("id", sa.BigInteger()))', 'op.create_index("i", "users", ["email"])',
        'op.drop_table("x")', 'op.drop_index("i")', 'op.execute("DROP VIEW v")',
        'op.add_column("users", sa.Column("n", sa.Text()))', 'op.drop_column("users", "n")',
        'op.drop_constraint("c", "users")', 'op.create_check_constraint("c", "users", "age > 0")',
        'op.execute("ALTER TYPE mood ADD VALUE \'x\'")')],
    "prefer-text": ['op.add_column("users", sa.Column("n", sa.String(20)))'],
    "prefer-timestamptz": ['op.add_column("users", sa.Column("at", sa.DateTime()))'],
    "refresh-matview-concurrently": ['op.execute("REFRESH MATERIALIZED VIEW mv")'],
    "reindex-system": [AUTOCOMMIT + 'op.execute("REINDEX SYSTEM")'],
    "rename-column": ['op.alter_column("users", "name", new_column_name="full_name")'],
    "rename-table": ['op.rename_table("users", "members")'],
    "require-concurrent-detach": ['op.execute("ALTER TABLE events DETACH PARTITION events_2023")'],
    "require-concurrent-drop-index": ['op.drop_index("users_email_idx", table_name="users")'],
    "require-concurrent-index": ['op.create_index("users_email_idx", "users", ["email"])'],
    "require-concurrent-reindex": ['op.execute("REINDEX INDEX users_email_idx")', ('op.execute("REINDEX TABLE users")', 11)],
    "require-enum-value-ordering": ['op.execute("ALTER TYPE mood ADD VALUE \'happy\'")'],
    "require-lock-timeout": ['op.add_column("users", sa.Column("n", sa.Text()))'],
    "require-statement-timeout": ['op.add_column("users", sa.Column("n", sa.Text()))'],
    "require-table-schema": ['op.add_column("users", sa.Column("n", sa.Text()))'],
    "rollback-to-savepoint": ['op.execute("SAVEPOINT s")\nop.execute("ROLLBACK TO SAVEPOINT s")',
                              'op.execute("ROLLBACK TO SAVEPOINT s")', AUTOCOMMIT + 'op.execute("ROLLBACK TO SAVEPOINT s")'],
    "set-not-null": ['op.alter_column("users", "email", nullable=False)', ('op.alter_column("users", "email", nullable=False)', 11)],
    "syntax-error": ['op.execute("SELECT (1))")'],
    "table-rewrite-command": ['op.execute("ALTER TABLE users SET LOGGED")', AUTOCOMMIT + 'op.execute("VACUUM FULL users")',
                              AUTOCOMMIT + 'op.execute("VACUUM FULL")', (AUTOCOMMIT + 'op.execute("CLUSTER users")', 19),
                              (AUTOCOMMIT + 'op.execute("VACUUM FULL")', 19)],
    "timeout-exceeds-limit": ['op.execute("SET LOCAL lock_timeout = \'1min\'")\nop.add_column("users", sa.Column("n", sa.Text()))',
                              AUTOCOMMIT + 'op.execute("SET statement_timeout = 0")\n    op.execute("ALTER TABLE users ADD n text")'],
    "unanalyzable-statement": ['op.execute("DO $$ BEGIN EXECUTE \'DROP TABLE \' || \'users\'; END $$")'],
    "unbalanced-transaction": ['op.execute("BEGIN")\nop.execute("COMMIT")', 'op.execute("ROLLBACK")',
                               'op.execute("COMMIT")\nop.execute("COMMIT")',
                               'op.execute("BEGIN")\nop.execute("BEGIN")\nop.execute("COMMIT")\nop.execute("COMMIT")'],
    "unbatched-dml": ['op.execute("UPDATE users SET name = email")'],
    "unfinished-backfill": ['op.alter_column("users", "handle", nullable=False)'],
    "validate-in-same-transaction": ['op.create_check_constraint("users_age", "users", "age > 0", postgresql_not_valid=True)\n'
                                     'op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_age")'],
    "work-while-holding-lock": ['op.add_column("users", sa.Column("n", sa.Text()))\nop.execute("UPDATE users SET n = email")'],
}
# Rules no revision's upgrade() triggers through the rules' check (findings about comments or rendering).
NOT_FROM_A_STATEMENT = {"invalid-directive", "unused-ignore", "unrenderable-revision"}
BACKFILLS = (KnownBackfill("fill-handle", "running", "public", "users", frozenset({"handle"}), frozenset()),)

# A line of SQL (or of a SQL comment, or a migrator directive as a SQL file writes it), outside Python code.
SQL_LINE = re.compile(r"^\s*(--|(ALTER|CREATE|DROP|SET|REINDEX|REFRESH|VACUUM|CLUSTER|REPACK|COMMIT|BEGIN|ROLLBACK|"
                      r"SAVEPOINT|UPDATE|DELETE|INSERT|SELECT|LOCK|TRUNCATE)\b)|-- migrator:|\bno-transaction\b|"
                      r"\b(bigint|bigserial|jsonb|timestamptz)\b")
PYTHON_LINE = re.compile(r"^(op\.|sa\.|with |#|    |from |import )")


def cases() -> list:
    """(rule, body, pg_version) of every trigger."""
    return [pytest.param(rule, *(trigger if isinstance(trigger, tuple) else (trigger, 15)), id=f"{rule}-{number}")
            for rule, triggers in TRIGGERS.items() for number, trigger in enumerate(triggers)]


def test_every_rule_that_reports_on_statements_has_a_revision_that_triggers_it():
    assert set(all_rules()) - NOT_FROM_A_STATEMENT == set(TRIGGERS)


@pytest.mark.parametrize("rule, body, pg_version", cases())
def test_help_on_a_revision_is_alembic_not_sql(tmp_path, rule, body, pg_version):
    findings = [f for f in lint_alembic(tmp_path, body, rule, pg_version=pg_version, backfills=BACKFILLS) if f.rule == rule]
    assert findings, f"{rule} does not fire on the revision"
    for finding in findings:
        assert finding.help, f"{rule}: no help"
        lines = finding.help.splitlines()
        code = [line for line in lines if PYTHON_LINE.match(line)]
        prose = [line for line in lines if not PYTHON_LINE.match(line)]
        assert not [line for line in prose if SQL_LINE.search(line)], f"{rule} gives SQL on a revision:\n{finding.help}"
        in_transaction = _sql_in_the_revisions_transaction(ast.parse("\n".join(code)))  # pastes into upgrade() as it is
        assert not [s.sql for sql in in_transaction for s in ANALYZER.analyze(sql) if s.no_transaction], \
            f"{rule}: SQL that may not run in a transaction block, outside autocommit_block():\n{finding.help}"


def _sql_in_the_revisions_transaction(node, in_block: bool = False) -> list[str]:
    """The SQL of the op.execute calls outside any `with` block (autocommit_block())."""
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "op.execute" and not in_block:
        return [node.args[0].value] if node.args and isinstance(node.args[0], ast.Constant) else []
    inside = in_block or isinstance(node, ast.With)
    return [sql for child in ast.iter_child_nodes(node) for sql in _sql_in_the_revisions_transaction(child, inside)]


@pytest.mark.parametrize("rule", [rule for rule in all_rules().values() if rule.instead_alembic], ids=lambda rule: rule.id)
def test_the_alembic_recipe_migrator_explain_shows_is_python(rule):
    ast.parse(rule.instead_alembic)
    assert "```python" in rule.explain()
