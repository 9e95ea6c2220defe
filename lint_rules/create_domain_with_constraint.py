from lint_rules import Rule
from migrator.sqltext import tokenize, word_of


def check(statement, ctx):
    words = [word_of(token) for token in tokenize(statement.sql)]
    pairs = set(zip(words, words[1:]))
    if "CHECK" in words or ("NOT", "NULL") in pairs:
        ctx.report(
            f"domain {statement.relation} carries a constraint: changing it later checks every column of every table "
            "that uses the domain at once, with no way to do it table by table",
            "Create the domain without constraints and put CHECK constraints on the tables, where they can be added "
            "NOT VALID and validated online.",
        )


RULE = Rule(
    id="create-domain-with-constraint",
    severity="warning",
    summary="Policy: CREATE DOMAIN with a CHECK or NOT NULL constraint.",
    what="Flags `CREATE DOMAIN` with a CHECK or NOT NULL constraint. Off by default.",
    why=(
        "A domain constraint is checked on every column of that domain. Adding or tightening it later "
        "(`ALTER DOMAIN ... ADD CONSTRAINT`, `SET NOT NULL`) scans every such table under a SHARE lock, blocking "
        "their writes, all in one statement; a table's own CHECK constraint can be added NOT VALID and validated "
        "under SHARE UPDATE EXCLUSIVE, one table at a time."
    ),
    instead="CREATE DOMAIN email AS text;\nALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email LIKE '%@%') NOT VALID;",
    check=check,
    kinds=frozenset({"create_domain"}),
    default_enabled=False,
)
