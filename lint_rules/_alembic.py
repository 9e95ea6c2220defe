"""Help in an Alembic revision's terms: the `op.*` calls its upgrade() writes instead of the SQL.

Every call uses only the keyword arguments Alembic and SQLAlchemy's PostgreSQL dialect accept
(postgresql_concurrently on Index, postgresql_not_valid on CHECK and FOREIGN KEY constraints);
the rule tests run them against PostgreSQL.
"""

from __future__ import annotations

import json

EXPRESSION = "(expression)"  # what the analyzer records for an index column that is an expression


def literal(text: str) -> str:
    """A Python string literal of text."""
    return json.dumps(text)


def names(columns) -> str:
    return "[" + ", ".join(literal(column) for column in columns) + "]"


def schema(relation, keyword: str = "schema") -> str:
    """The `, schema="..."` argument of an op on relation, if it names a schema."""
    return f", {keyword}={literal(relation.schema)}" if relation.schema else ""


def execute(sql: str) -> str:
    return f"op.execute({literal(sql)})"


def autocommit(*calls: str) -> str:
    """calls inside Alembic's way out of the revision's transaction (it commits what ran before)."""
    return AUTOCOMMIT + "\n" + "\n".join(f"    {call}" for call in calls)


AUTOCOMMIT = "with op.get_context().autocommit_block():"


def outside_transaction(sql: str) -> str:
    """SQL that may not run in a transaction block, as a revision sends it: op.execute in autocommit_block()."""
    return autocommit(execute(sql))


def directive(text: str) -> str:
    """A `-- migrator:...` comment as a revision writes it (a Python comment above the op call)."""
    return f"# migrator:{text}"


def one_line(help: str) -> str:
    """The help's first step on one line (apply's refusals): its first line, with the body of a leading
    `with ...:` block joined onto it (`with X: a; b`, still Python)."""
    head, *rest = help.splitlines() or [""]
    if head != AUTOCOMMIT:
        return head
    body = []
    for line in rest:
        if not line.startswith("    "):
            break
        body.append(line.strip())
    return f"{head} {'; '.join(body)}"


def create_index(name: str | None, table, columns, unique: bool = False) -> str | None:
    """op.create_index(...) building the index CONCURRENTLY, or None when its columns are expressions."""
    if name is None or not columns or EXPRESSION in columns:
        return None
    return (f"op.create_index({literal(name)}, {literal(table.name)}, {names(columns)}"
            f"{', unique=True' if unique else ''}{schema(table)}, postgresql_concurrently=True)")


def validate(table, name: str) -> str:
    """VALIDATE CONSTRAINT in a transaction of its own, after the NOT VALID constraint is committed."""
    return autocommit(execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}"))


def create_foreign_key(name: str, table, columns, references, referenced_columns) -> str:
    """op.create_foreign_key(...) adding it NOT VALID; op.execute of the SQL when the referenced columns are
    not named (Alembic needs them)."""
    if not referenced_columns:
        return execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({', '.join(columns)}) "
                       f"REFERENCES {references} NOT VALID")
    return (f"op.create_foreign_key({literal(name)}, {literal(table.name)}, {literal(references.name)}, "
            f"{names(columns)}, {names(referenced_columns)}{schema(table, 'source_schema')}"
            f"{schema(references, 'referent_schema')}, postgresql_not_valid=True)")


def create_check_constraint(name: str, table, condition: str) -> str:
    """op.create_check_constraint(...) adding it NOT VALID."""
    return (f"op.create_check_constraint({literal(name)}, {literal(table.name)}, {literal(condition)}"
            f"{schema(table)}, postgresql_not_valid=True)")
