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
    """SQL run apart from the revision's transaction: op.execute in autocommit_block(), which commits what ran
    before it (for SQL that may not run in a transaction block, or must not hold the locks taken before it)."""
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


def create_index(name: str | None, table, columns, unique: bool = False, concurrently: bool = True) -> str | None:
    """op.create_index(...) building the index CONCURRENTLY (unless not), or None when its columns are expressions."""
    if name is None or not columns or EXPRESSION in columns:
        return None
    return (f"op.create_index({literal(name)}, {literal(table.name)}, {names(columns)}{', unique=True' if unique else ''}"
            f"{schema(table)}{', postgresql_concurrently=True' if concurrently else ''})")


def validate(table, name: str, kind: str = "TABLE") -> str:
    """VALIDATE CONSTRAINT in a transaction of its own, after the NOT VALID constraint is committed (kind: DOMAIN)."""
    return outside_transaction(f"ALTER {kind} {table} VALIDATE CONSTRAINT {name}")


def drop_index(name: str, schema_of=None) -> str:
    """op.drop_index(...) dropping it CONCURRENTLY, if it exists (in the schema of the relation schema_of)."""
    where = schema(schema_of) if schema_of is not None else ""
    return f"op.drop_index({literal(name)}{where}, if_exists=True, postgresql_concurrently=True)"


# SQLAlchemy's generic types that PostgreSQL's dialect renders as these types (without modifiers)
SA_TYPES = {
    "bigint": "sa.BigInteger()", "integer": "sa.Integer()", "smallint": "sa.SmallInteger()", "text": "sa.Text()",
    "boolean": "sa.Boolean()", "date": "sa.Date()", "uuid": "sa.Uuid()", "double precision": "sa.Double()",
    "timestamp with time zone": "sa.DateTime(timezone=True)", "timestamp without time zone": "sa.DateTime()",
}


def sa_type(pg_type) -> str | None:
    """The SQLAlchemy type of a column of this PostgreSQL type (a PgType), or None when there is no plain one."""
    if pg_type is None or pg_type.is_array or pg_type.serial:
        return None
    if pg_type.name == "character varying" and len(pg_type.modifiers) == 1:
        return f"sa.String({pg_type.modifiers[0]})"
    if pg_type.name == "numeric" and pg_type.modifiers:
        return f"sa.Numeric({', '.join(str(m) for m in pg_type.modifiers)})"
    return None if pg_type.modifiers else SA_TYPES.get(pg_type.name)


def add_column(table, column: str, pg_type) -> str:
    """op.add_column(...) of a plain nullable column; op.execute of the SQL for a type with no plain SQLAlchemy type."""
    sa = sa_type(pg_type)
    if sa is None:
        return execute(f"ALTER TABLE {table} ADD COLUMN {column} {pg_type.declared()}")
    return f"op.add_column({literal(table.name)}, sa.Column({literal(column)}, {sa}){schema(table)})"


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
