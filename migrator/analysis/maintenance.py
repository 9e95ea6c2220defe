"""Maintenance commands: LOCK, VACUUM, ANALYZE, CLUSTER, REPACK and REFRESH MATERIALIZED VIEW."""

from __future__ import annotations

from sqlglot.tokens import TokenType

from migrator.analysis.facts import Action, Lock, Statement, Unanalyzable
from migrator.analysis.reading import read_options
from migrator.sqltext import Cursor, split_top_level


class Maintenance:
    """LOCK, VACUUM, ANALYZE, CLUSTER, REPACK and REFRESH."""

    def _lock(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "lock_table"
        cursor.accept("LOCK")
        cursor.accept("TABLE")
        cursor.accept("ONLY")
        in_at = cursor.find_word("IN")
        tables = cursor.rest() if in_at is None else cursor.rest()[:in_at]
        lock = Lock.ACCESS_EXCLUSIVE
        if in_at is not None:
            cursor.advance(in_at + 1)
            mode_words = []
            while not cursor.at_end and cursor.word() != "MODE":
                mode_words.append(cursor.word())
                cursor.advance()
            try:
                lock = Lock["_".join(mode_words)]
            except KeyError:
                raise Unanalyzable(f"unknown lock mode {' '.join(mode_words)!r}") from None
        for part in split_top_level(tables):
            name = Cursor(cursor.statement, [t for t in part if t.token_type != TokenType.STAR]).relation()
            statement.add_lock(name, lock)
            statement.relation = statement.relation or name

    def _vacuum(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "vacuum"
        cursor.advance()
        options = read_options(cursor)
        while cursor.accept_any("FULL", "FREEZE", "VERBOSE", "ANALYZE", "ANALYSE"):
            options[cursor.tokens[cursor.index - 1].text.upper()] = True
        full = options.get("FULL") is True
        statement.no_transaction = "VACUUM cannot run inside a transaction block"
        for part in split_top_level(cursor.rest()):
            name = Cursor(cursor.statement, part).relation()
            statement.add_lock(name, Lock.ACCESS_EXCLUSIVE if full else Lock.SHARE_UPDATE_EXCLUSIVE)
            statement.relation = statement.relation or name
        statement.rewrites = full
        statement.scans = True
        statement.actions.append(Action(kind="vacuum_full" if full else "vacuum", sql=statement.sql))

    def _analyze_stmt(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "analyze"
        cursor.advance()
        cursor.skip_group()
        cursor.accept("VERBOSE")
        for part in split_top_level(cursor.rest()):
            statement.add_lock(Cursor(cursor.statement, part).relation(), Lock.SHARE_UPDATE_EXCLUSIVE)

    def _cluster(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "cluster"
        cursor.advance()
        cursor.skip_group()
        cursor.accept("VERBOSE")
        statement.relation = cursor.relation()
        statement.rewrites = True
        statement.actions.append(Action(kind="cluster", sql=statement.sql))
        if statement.relation is None:
            statement.no_transaction = "CLUSTER without a table cannot run inside a transaction block"
        statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE)

    def _repack(self, cursor: Cursor, statement: Statement) -> None:
        """REPACK (PostgreSQL 19): VACUUM FULL and CLUSTER in one command, online with CONCURRENTLY."""
        if self.pg_version < 19:
            raise Unanalyzable(f"REPACK needs PostgreSQL 19 (target is {self.pg_version})")
        statement.kind = "repack"
        cursor.advance()
        statement.concurrently = read_options(cursor).get("CONCURRENTLY") is True
        statement.relation = cursor.relation()
        statement.rewrites = True
        statement.actions.append(Action(kind="repack", sql=statement.sql, concurrently=statement.concurrently))
        if statement.concurrently:
            # SHARE UPDATE EXCLUSIVE while it copies; ACCESS EXCLUSIVE only for the final swap
            statement.no_transaction = "REPACK (CONCURRENTLY) cannot run inside a transaction block"
            statement.add_lock(statement.relation, Lock.SHARE_UPDATE_EXCLUSIVE)
        else:
            if statement.relation is None:
                statement.no_transaction = "REPACK without a table cannot run inside a transaction block"
            statement.add_lock(statement.relation, Lock.ACCESS_EXCLUSIVE)

    def _refresh(self, cursor: Cursor, statement: Statement) -> None:
        cursor.advance()
        if not cursor.accept("MATERIALIZED", "VIEW"):
            raise Unanalyzable("REFRESH form is not understood")
        statement.kind = "refresh_materialized_view"
        statement.concurrently = bool(cursor.accept("CONCURRENTLY"))
        statement.relation = cursor.relation()
        statement.scans = True
        statement.rewrites = not statement.concurrently  # a new heap is filled and swapped in
        statement.add_lock(statement.relation, Lock.EXCLUSIVE if statement.concurrently else Lock.ACCESS_EXCLUSIVE, "materialized_view")
