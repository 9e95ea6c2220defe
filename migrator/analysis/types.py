"""Types and domains: ALTER TYPE (enum values) and ALTER DOMAIN (constraints checked on every table using it)."""

from __future__ import annotations

from migrator.analysis.facts import Action, Lock, Statement, Unanalyzable
from migrator.analysis.reading import has_not_valid
from migrator.sqltext import Cursor


class Types:
    """ALTER TYPE and ALTER DOMAIN."""

    def _alter_domain(self, cursor: Cursor, statement: Statement) -> None:
        """ALTER DOMAIN: a new constraint is checked against every column of every table using the domain."""
        statement.kind = "alter_domain"
        statement.relation = cursor.relation()
        action = Action(kind="alter_domain_metadata", sql=cursor.rest_sql())
        if cursor.accept("ADD"):
            action.kind = "add_constraint"
            if cursor.accept("CONSTRAINT"):
                action.constraint = cursor.identifier()
            action.not_valid = has_not_valid(cursor)
            action.constraint_type = "not_null" if cursor.has_words("NOT", "NULL") else "check"
        elif cursor.accept("SET", "NOT", "NULL"):
            action.kind = "set_not_null"
        elif cursor.accept("VALIDATE", "CONSTRAINT"):
            action.kind = "validate_constraint"
            action.constraint = cursor.identifier()
        elif cursor.word() not in ("DROP", "RENAME", "OWNER", "SET"):
            raise Unanalyzable("ALTER DOMAIN form is not understood")
        statement.actions.append(action)
        if action.kind in ("set_not_null", "validate_constraint") or action.kind == "add_constraint" and not action.not_valid:
            statement.scans = True
            # PostgreSQL 18 validates an existing domain constraint under SHARE UPDATE EXCLUSIVE
            lock = Lock.SHARE_UPDATE_EXCLUSIVE if action.kind == "validate_constraint" and self.pg_version >= 18 else Lock.SHARE
            statement.add_lock(statement.relation, lock, "domain_users")

    def _alter_type(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "alter_type"
        statement.relation = cursor.relation()
        action = Action(kind="alter_type", sql=cursor.rest_sql())
        if cursor.accept("ADD", "VALUE"):
            action.kind = "add_enum_value"
            statement.if_not_exists = cursor.accept("IF", "NOT", "EXISTS")
            action.value = cursor.string()
            action.position = cursor.accept_any("BEFORE", "AFTER")
            if self.pg_version < 12:
                statement.no_transaction = "ALTER TYPE ... ADD VALUE cannot run inside a transaction block before PostgreSQL 12"
        elif cursor.accept("RENAME", "VALUE"):
            action.kind = "rename_enum_value"
            action.value = cursor.string()
            cursor.accept("TO")
            action.new_name = cursor.string()
        elif cursor.accept("RENAME", "TO"):
            action.kind = "rename_type"
            action.new_name = cursor.identifier()
        elif cursor.word() in ("RENAME", "OWNER", "SET", "ADD", "DROP", "ALTER"):
            action.kind = "alter_type_" + cursor.word().lower()
        else:
            raise Unanalyzable("ALTER TYPE form is not understood")
        statement.actions.append(action)
