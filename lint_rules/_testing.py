"""Helpers for the rule tests that sit beside each rule."""

from __future__ import annotations

from migrator.config import Config
from migrator.lint import Linter

TIMEOUTS = "SET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '5s';\n"


def lint(sql: str, rule: str | None = None, pg_version: int = 15, transaction: str | None = None, file=None, **options):
    """Findings for a SQL text (read from `file`, a Path, when given), with only `rule` selected when given."""
    config = Config(
        pg_version=pg_version, transaction=transaction,
        select=frozenset({rule}) if rule else None, **options,
    )
    return Linter(config).lint_text(sql, str(file or "test.sql"), file=file).findings


def rules_hit(sql: str, rule: str | None = None, **options) -> list[str]:
    return [finding.rule for finding in lint(sql, rule, **options)]


def hits(sql: str, rule: str, **options) -> int:
    """How many times `rule` fires on the SQL."""
    return rules_hit(sql, rule, **options).count(rule)


# The world the oracle runs rule fixtures in (tests/test_oracle.py): these tables exist, each with a few
# rows, before a fixture's migration runs. A rule test module lists its fixtures as ORACLE = [sql, ...]
# (or (setup, sql) pairs); the oracle fails on any fact the analyzer states differently from the server.
ORACLE_SCHEMA = """
CREATE SCHEMA app;
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE DOMAIN email AS text;
CREATE TABLE teams (id bigint PRIMARY KEY, name text);
CREATE TABLE users (
    id bigint PRIMARY KEY, email varchar(100), name text, handle varchar(255), age int, score numeric(10,2),
    flag boolean, born timestamp, doc json, team_id bigint, contact email, ratio float, code char(10), state mood
);
CREATE INDEX users_email_idx ON users (email);
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users, total numeric(10,2), note text);
CREATE TABLE events (id bigint, at timestamptz, kind text, seq int);
CREATE TABLE t (id bigint PRIMARY KEY, a int, b text);
CREATE TABLE app.t (id bigint, a int);
CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
CREATE UNIQUE INDEX mv_id ON mv (id);
"""


def oracle_fixtures() -> list[tuple[str, str, str]]:
    """(module, setup, migration) for every ORACLE fixture of the rule and analyzer test modules."""
    import importlib
    import pkgutil

    import lint_rules

    names = [f"lint_rules.{m.name}" for m in pkgutil.iter_modules(lint_rules.__path__) if m.name.endswith("_test")]
    found = []
    for name in [*names, "tests.test_analyzer"]:
        for fixture in getattr(importlib.import_module(name), "ORACLE", []):
            setup, sql = fixture if isinstance(fixture, tuple) else ("", fixture)
            found.append((name.rsplit(".", 1)[-1], setup, sql))
    return found


ALEMBIC_REVISION = '''from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
{body}

def downgrade():
    pass
'''


def lint_alembic(folder, body: str, rule: str | None = None, **options):
    """Findings for an Alembic revision in folder whose upgrade() is body (Python, not indented)."""
    import textwrap
    from pathlib import Path

    path = Path(folder) / "r1_revision.py"
    path.write_text(ALEMBIC_REVISION.format(body=textwrap.indent(textwrap.dedent(body).strip(), "    ")))
    config = Config(select=frozenset({rule}) if rule else None, **options)
    return Linter(config).lint_file(path).findings


def run_alembic(dsn: str, setup: str, body: str) -> dict:
    """Run setup (SQL) then body as an Alembic upgrade() would, in one transaction, on the database at dsn:
    a help's op.* calls must work when pasted into a revision. The names body set, by name."""
    import textwrap

    import sqlalchemy as sa
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    engine = sa.create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(setup)
            connection.commit()
            context = MigrationContext.configure(connection)
            names = {"op": Operations(context), "sa": sa}
            with context.begin_transaction():
                exec(textwrap.dedent(body), names)
    finally:
        engine.dispose()
    return names


def alembic_timeout_in_force(folder, dsn: str, rule: str, setting: str) -> str:
    """The setting in force after a revision's op, with the op.execute(SET ...) the rule's help on it gives."""
    op = 'op.add_column("users", sa.Column("nickname", sa.Text()))'
    [finding] = lint_alembic(folder, op, rule)
    assert "--runner migrator" in finding.help and "SET" not in finding.help.splitlines()[0]
    code = finding.help.splitlines()[-1]
    assert code.startswith(f'op.execute("SET LOCAL {setting} = ')
    body = f"{code}\n{op}\nin_force = op.get_bind().exec_driver_sql('SHOW {setting}').scalar()"
    return run_alembic(dsn, "CREATE TABLE users (id int)", body)["in_force"]
