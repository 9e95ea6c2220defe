"""Transactions and settings: BEGIN/COMMIT/ROLLBACK, SAVEPOINT/RELEASE/ROLLBACK TO, SET/RESET, set_config() and SELECT (INTO)."""

from __future__ import annotations

from sqlglot.tokens import Token, TokenType

from migrator.analysis.facts import Action, Setting, Statement, Unanalyzable
from migrator.analysis.reading import read_options
from migrator.durations import parse_pg_duration
from migrator.sqltext import STRING_TOKENS, Cursor, Relation, split_top_level


# psql meta-commands that only change psql itself: no SQL reaches the server, nothing else is skipped
PSQL_CLIENT_COMMANDS = {
    "set", "unset", "echo", "qecho", "warn", "quit", "q", "timing", "pset", "a", "t", "x", "o", "out", "encoding",
    "prompt", "setenv", "cd", "conninfo", "r", "reset", "p", "print",
}


class Transactions:
    """Transaction control, run-time settings, psql's meta-commands and SELECT."""

    def _psql_meta(self, cursor: Cursor, statement: Statement) -> None:
        """A psql meta-command line: the client-side ones send nothing; the others (`\\i` runs another file,
        `\\gexec` runs query results as SQL, `\\if` skips statements, `\\connect`) are not known here."""
        statement.kind = "psql"
        command = cursor.peek(1).text.lower() if cursor.peek(1) is not None else ""
        if command == "copy":  # COPY with the rows on psql's side: a client file, or the script's lines after it
            cursor.advance()
            self._copy(cursor, statement)
            if not statement.actions:  # not FROM STDIN: a file on psql's side
                statement.actions.append(Action(kind="copy_from_client", sql=statement.sql))
            return
        if command not in PSQL_CLIENT_COMMANDS:
            raise Unanalyzable(f"psql meta-command \\{command} does what this statement does not show")

    def _savepoint_name(self, cursor: Cursor, statement: Statement) -> None:
        """[SAVEPOINT] name: the savepoint a SAVEPOINT, RELEASE or ROLLBACK TO names, as the action's value."""
        cursor.accept("SAVEPOINT")
        name = cursor.relation()
        if name is None or name.schema is not None:
            raise Unanalyzable("a savepoint statement without a savepoint name")
        statement.actions.append(Action(statement.kind, value=name.name))

    def _set(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "set"
        cursor.advance()
        local = cursor.accept_any("LOCAL", "SESSION") == "LOCAL"
        if cursor.word() in ("TIME", "ROLE", "CONSTRAINTS", "TRANSACTION", "SESSION"):
            return
        name = cursor.relation()
        if name is None:
            raise Unanalyzable("SET of what is not understood")
        cursor.accept_any("TO") or (cursor.is_type(TokenType.EQ) and cursor.advance())
        self._record_setting(statement, str(name), cursor.rest(), local)

    def _reset(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "set"
        cursor.advance()
        if cursor.accept("ALL"):
            for name in ("lock_timeout", "statement_timeout"):
                statement.settings.append(Setting(name, None, None, False))
            return
        name = cursor.relation()
        if name is not None:
            statement.settings.append(Setting(str(name), None, None, False))

    def _record_setting(self, statement: Statement, name: str, value: list[Token], local: bool) -> None:
        raw = " ".join(token.text for token in value)
        milliseconds = None
        if len(value) == 1 and value[0].token_type != TokenType.DEFAULT and raw.upper() != "DEFAULT":
            milliseconds = parse_pg_duration(value[0].text)
        statement.settings.append(Setting(name, raw, milliseconds, local))

    def _select(self, cursor: Cursor, statement: Statement) -> None:
        statement.kind = "select"
        into = cursor.find_word("INTO")
        if into is not None:  # SELECT ... INTO new_table: CREATE TABLE ... AS by another name
            target = Cursor(cursor.statement, cursor.rest()[into + 1 :])
            temporary = target.accept_any("TEMPORARY", "TEMP", "UNLOGGED") in ("TEMPORARY", "TEMP")
            target.accept("TABLE")
            statement.relation = target.relation()
            if temporary and statement.relation is not None and statement.relation.schema is None:
                statement.relation = Relation(statement.relation.name, "pg_temp")
            self._table_from_query(cursor, statement)
            return
        tokens = cursor.rest()
        for position, token in enumerate(tokens[:-5]):
            if token.text.lower() == "set_config" and tokens[position + 1].token_type == TokenType.L_PAREN:
                inner = Cursor(cursor.statement, tokens[position + 1 :])
                arguments = split_top_level(inner.skip_group())
                if len(arguments) == 3 and arguments[0][0].token_type in STRING_TOKENS:
                    local = arguments[2][0].text.lower() in ("true", "t", "on", "yes")
                    self._record_setting(statement, arguments[0][0].text.lower(), arguments[1], local)

    def _explain(self, cursor: Cursor, statement: Statement) -> None:
        """EXPLAIN plans a statement without running it; EXPLAIN ANALYZE runs it, which is not read here."""
        statement.kind = "explain"
        cursor.advance()
        options = read_options(cursor) if cursor.is_type(TokenType.L_PAREN) else {}
        if cursor.accept_any("ANALYZE", "ANALYSE") or options.get("ANALYZE") is True or options.get("ANALYSE") is True:
            raise Unanalyzable("EXPLAIN ANALYZE runs the statement it explains, which migrator does not read in it")

    def _transaction(self, cursor: Cursor, statement: Statement) -> None:
        word = cursor.word()
        if word in ("BEGIN", "START"):
            statement.kind = "begin"
        elif word in ("COMMIT", "END"):
            statement.kind = "commit"
        elif word in ("ROLLBACK", "ABORT"):
            to = cursor.find_word("TO")
            statement.kind = "rollback" if to is None else "rollback_to_savepoint"
            if to is not None:
                self._savepoint_name(Cursor(cursor.statement, cursor.rest()[to + 1 :]), statement)
        else:
            statement.kind = "savepoint" if word == "SAVEPOINT" else "release_savepoint"
            self._savepoint_name(Cursor(cursor.statement, cursor.rest()[1:]), statement)
        if word == "START" and cursor.word(1) != "TRANSACTION":
            raise Unanalyzable("START must be START TRANSACTION")
        if word == "ROLLBACK" and cursor.has_words("ROLLBACK", "PREPARED") or word == "COMMIT" and cursor.has_words("COMMIT", "PREPARED"):
            raise Unanalyzable("two-phase commit statements are not supported in migrations")
        words = cursor.rest_words()
        if statement.kind in ("commit", "rollback") and words[-2:] == ["AND", "CHAIN"] and words[-3:-2] != ["NO"]:
            statement.actions.append(Action(kind="chain"))  # a new transaction, like the one it ended, starts at once
