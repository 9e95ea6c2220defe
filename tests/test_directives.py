"""Ignore directives and the transaction-model directive."""

from lint_rules._testing import lint, rules_hit

UNSAFE = "CREATE INDEX i ON t (a);"


def test_ignore_on_the_line_above():
    assert rules_hit(f"-- migrator:ignore require-concurrent-index -- tiny table\n{UNSAFE}", "require-concurrent-index") == []


def test_ignore_as_trailing_comment_on_the_statement_line():
    assert rules_hit(f"{UNSAFE} -- migrator:ignore require-concurrent-index", "require-concurrent-index") == []


def test_ignore_applies_to_its_statement_only():
    sql = f"-- migrator:ignore require-concurrent-index\n{UNSAFE}\nCREATE INDEX j ON t (b);"
    assert [f.line for f in lint(sql, "require-concurrent-index")] == [3]


def test_ignore_several_rules_at_once():
    sql = f"-- migrator:ignore require-concurrent-index, require-lock-timeout,require-statement-timeout -- ok\n{UNSAFE}"
    assert rules_hit(sql) == []


def test_ignore_file_anywhere():
    sql = f"{UNSAFE}\nCREATE INDEX j ON t (b);\n-- migrator:ignore-file require-concurrent-index"
    assert rules_hit(sql, "require-concurrent-index") == []


def test_block_comment_directive():
    assert rules_hit(f"/* migrator:ignore require-concurrent-index */ {UNSAFE}", "require-concurrent-index") == []


def test_ignore_covers_statements_inside_a_do_block():
    sql = "-- migrator:ignore require-lock-timeout\nDO $$ BEGIN ALTER TABLE t ADD COLUMN c int; END $$;"
    assert rules_hit(sql, "require-lock-timeout") == []


def test_unknown_rule_in_directive_is_reported_and_suppresses_nothing():
    findings = lint(f"-- migrator:ignore require-concurent-index\n{UNSAFE}")
    rules = [f.rule for f in findings]
    assert "invalid-directive" in rules and "require-concurrent-index" in rules
    [invalid] = [f for f in findings if f.rule == "invalid-directive"]
    assert "require-concurent-index" in invalid.message and invalid.line == 1


def test_directive_naming_no_rule_is_invalid_not_a_blanket_ignore():
    findings = lint(f"-- migrator:ignore\n{UNSAFE}")
    assert {"invalid-directive", "require-concurrent-index"} <= {f.rule for f in findings}


def test_unknown_directive_verb_is_reported():
    assert "invalid-directive" in rules_hit("-- migrator:ignroe require-concurrent-index\nSELECT 1;")


def test_unused_ignore_is_a_warning():
    [finding] = lint("-- migrator:ignore require-concurrent-index\nCREATE INDEX CONCURRENTLY i ON t (a);", transaction="none")
    assert (finding.rule, finding.severity, finding.line) == ("unused-ignore", "warning", 1)


def test_directive_text_inside_a_string_is_not_a_directive():
    sql = "COMMENT ON TABLE t IS '-- migrator:ignore-file require-concurrent-index';\n" + UNSAFE
    assert "require-concurrent-index" in rules_hit(sql)


def test_no_transaction_directive_switches_the_model():
    sql = "CREATE INDEX CONCURRENTLY i ON t (a);"
    assert "concurrently-in-transaction" in rules_hit(sql)
    assert "concurrently-in-transaction" not in rules_hit("-- migrator:no-transaction\n" + sql)
