"""Constraints: ADD CONSTRAINT and table constraints (CHECK, UNIQUE, PRIMARY KEY, FOREIGN KEY, EXCLUDE, NOT NULL)."""

from __future__ import annotations

from migrator.analysis.facts import Action
from migrator.analysis.reading import column_list, has_not_valid, is_not_null_check
from migrator.sqltext import Cursor


class Constraints:
    """Table constraints, as ALTER TABLE ADD and CREATE TABLE write them."""

    def _add_constraint(self, cursor: Cursor, action: Action) -> Action:
        if cursor.accept("CONSTRAINT"):
            action.constraint = cursor.identifier()
        action.not_valid = has_not_valid(cursor)
        if cursor.accept("NOT", "NULL"):  # PostgreSQL 18's NOT NULL constraint: SET NOT NULL, or NOT VALID to scan later
            action.column = cursor.identifier()
            action.columns = (action.column,)
            action.constraint_type = "not_null"
            action.kind = "add_constraint" if action.not_valid else "set_not_null"
            return action
        kind = cursor.accept_any("CHECK", "UNIQUE", "PRIMARY KEY", "FOREIGN KEY", "EXCLUDE")
        if kind is None:
            return action
        action.kind = "add_constraint"
        if kind == "CHECK":
            action.constraint_type = "check"
            inner = cursor.skip_group()
            action.check_not_null_column = is_not_null_check(Cursor(cursor.statement, inner))
        elif kind == "EXCLUDE":
            action.constraint_type = "exclude"
        elif kind == "FOREIGN KEY":
            action.constraint_type = "foreign_key"
            action.columns = column_list(cursor)
            if cursor.accept("REFERENCES"):
                action.references = cursor.relation()
                action.referenced_columns = column_list(cursor)
        else:
            action.constraint_type = "unique" if kind == "UNIQUE" else "primary_key"
            cursor.accept("NULLS", "NOT", "DISTINCT") or cursor.accept("NULLS", "DISTINCT")
            if cursor.accept("USING", "INDEX"):
                action.using_index = cursor.identifier()
            else:
                action.columns = column_list(cursor)
        return action


def skip_index_parameters(cursor: Cursor) -> None:
    """INCLUDE (...), WITH (...), USING INDEX TABLESPACE name after a UNIQUE or PRIMARY KEY."""
    while True:
        if cursor.accept("INCLUDE") or cursor.accept("WITH"):
            cursor.skip_group()
        elif cursor.accept("USING", "INDEX", "TABLESPACE"):
            cursor.advance()
        else:
            return


def skip_reference_options(cursor: Cursor) -> None:
    """MATCH ... and ON DELETE / ON UPDATE actions after REFERENCES table (cols)."""
    while True:
        if cursor.accept("MATCH"):
            cursor.advance()
        elif cursor.accept("ON"):
            cursor.accept_any("DELETE", "UPDATE")
            if cursor.accept("SET"):
                cursor.accept_any("NULL", "DEFAULT")
                cursor.skip_group()
            elif not cursor.accept("NO", "ACTION"):
                cursor.accept_any("CASCADE", "RESTRICT")
        else:
            return
