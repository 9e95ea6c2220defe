"""A rule that declares action_kinds is skipped on statements with none of those actions: it must report
nothing on them, or the linter would lose its findings."""

from dataclasses import replace

from lint_rules import all_rules
from lint_rules._testing import TIMEOUTS, oracle_fixtures
from migrator.config import Config
from migrator.lint import Linter

# every ALTER TABLE action kind next to others, on existing tables and on new ones, in and out of a transaction
MIXED = [
    "ALTER TABLE t ADD COLUMN c int NOT NULL, DROP COLUMN a, RENAME TO t2;",
    "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0), VALIDATE CONSTRAINT d, ALTER COLUMN b TYPE int;",
    "ALTER TABLE t ALTER COLUMN a SET NOT NULL, ALTER COLUMN b DROP NOT NULL, DROP CONSTRAINT a_not_null;",
    "ALTER TABLE t ADD COLUMN u bigint UNIQUE REFERENCES users CHECK (u > 0) DEFAULT 1, SET LOGGED;",
    "ALTER TABLE p ATTACH PARTITION p1 FOR VALUES IN (1);\nALTER TABLE p DETACH PARTITION p2;",
    "CREATE TABLE n (id int);\nALTER TABLE n ADD COLUMN c int NOT NULL, ADD PRIMARY KEY (id), RENAME c TO d;",
    "-- migrator:no-transaction\nALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES users, RENAME COLUMN b TO c;",
    TIMEOUTS + "ALTER TABLE t ADD EXCLUDE USING gist (a WITH =), ALTER COLUMN a TYPE bigint USING a::bigint;",
]


def test_rules_skipped_by_action_kind_report_nothing_there():
    every_rule = Config(select=frozenset(all_rules()))
    filtered = Linter(every_rule)
    unfiltered = Linter(every_rule)
    unfiltered.rules = [replace(rule, action_kinds=None) for rule in unfiltered.rules]
    assert any(rule.action_kinds for rule in filtered.rules)
    for sql in MIXED + [setup + migration for _, setup, migration in oracle_fixtures()]:
        found = [(f.line, f.rule, f.message) for f in filtered.lint_text(sql, "test.sql").findings]
        assert found == [(f.line, f.rule, f.message) for f in unfiltered.lint_text(sql, "test.sql").findings], sql
