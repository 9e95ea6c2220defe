"""Indexes: CREATE INDEX, ALTER INDEX and REINDEX."""

from __future__ import annotations

from migrator.analysis.facts import Action, Lock, Statement, Unanalyzable
from migrator.analysis.reading import first_identifier, read_options
from migrator.sqltext import Cursor, split_top_level


class Indexes:
    """CREATE INDEX, ALTER INDEX and REINDEX."""

    def _create_index(self, cursor: Cursor, statement: Statement, unique: bool) -> None:
        statement.kind = "create_index"
        statement.concurrently = bool(cursor.accept("CONCURRENTLY"))
        statement.if_not_exists = bool(cursor.accept("IF", "NOT", "EXISTS"))
        index_name = None if cursor.word() == "ON" else cursor.relation()
        if not cursor.accept("ON"):
            raise Unanalyzable("expected ON table")
        only = bool(cursor.accept("ONLY"))
        table = cursor.relation()
        if table is None:
            raise Unanalyzable("expected a table name")
        if cursor.accept("USING"):
            cursor.identifier()
        columns = tuple(first_identifier(part) for part in split_top_level(cursor.skip_group()))
        statement.relation = table
        statement.actions.append(
            Action(
                kind="create_index",
                sql=statement.sql,
                constraint=index_name.name if index_name else None,
                constraint_type="unique" if unique else None,
                columns=columns,
                concurrently=statement.concurrently,
                value="only" if only else None,
            )
        )
        if statement.concurrently:
            statement.no_transaction = "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"
            statement.add_lock(table, Lock.SHARE_UPDATE_EXCLUSIVE)
        else:
            statement.add_lock(table, Lock.SHARE)
        statement.scans = not only

    def _alter_index(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "alter_index"
        if cursor.has_words("ALL", "IN", "TABLESPACE"):
            raise Unanalyzable("ALTER INDEX ALL IN TABLESPACE is not analyzable per index")
        cursor.accept("IF", "EXISTS")
        statement.relation = cursor.relation()
        action = Action(kind="alter_index", sql=cursor.rest_sql())
        if cursor.accept("SET", "TABLESPACE"):
            action.kind = "set_tablespace"
            statement.rewrites = True
            statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE, "index")
        elif cursor.accept("ATTACH", "PARTITION"):
            action.kind = "attach_partition"
            action.partition = cursor.relation()
            statement.add_lock(statement.relation, Lock.SHARE_UPDATE_EXCLUSIVE, "index")
        elif cursor.word() in ("RENAME", "SET", "RESET", "ALTER", "DEPENDS", "NO"):
            action.kind = "alter_index_" + cursor.word().lower()
            lock = Lock.SHARE_UPDATE_EXCLUSIVE if self.pg_version >= 12 or action.kind != "alter_index_rename" else Lock.ACCESS_EXCLUSIVE
            statement.add_lock(statement.relation, lock, "index")
        else:
            raise Unanalyzable("ALTER INDEX form is not understood")
        statement.actions.append(action)

    # -- other statements ------------------------------------------------------------------
    def _reindex(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "reindex"
        cursor.accept("REINDEX")
        options = read_options(cursor)
        target = cursor.accept_any("INDEX", "TABLE", "SCHEMA", "DATABASE", "SYSTEM")
        if target is None:
            raise Unanalyzable("REINDEX target is not understood")
        statement.concurrently = bool(cursor.accept("CONCURRENTLY")) or options.get("CONCURRENTLY") is True
        statement.relation = cursor.relation()
        statement.scans = True
        statement.actions.append(Action(kind="reindex_" + target.lower(), sql=statement.sql, concurrently=statement.concurrently))
        if statement.concurrently:
            statement.no_transaction = "REINDEX CONCURRENTLY cannot run inside a transaction block"
            statement.add_lock(statement.relation, Lock.SHARE_UPDATE_EXCLUSIVE, target.lower())
        elif target in ("INDEX", "TABLE"):
            statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE if target == "INDEX" else Lock.SHARE, target.lower())
        else:
            statement.no_transaction = f"REINDEX {target} cannot run inside a transaction block"
            statement.add_lock(statement.relation, Lock.SHARE, target.lower())
