from lint_rules import Rule

RULE = Rule(
    id="invalid-directive",
    severity="error",
    summary="A migrator: comment directive that is malformed or names an unknown rule.",
    what=(
        "Flags `-- migrator:` comments that migrator cannot read: an unknown verb, an ignore naming no "
        "rule, or a rule id that does not exist."
    ),
    why="A misspelt ignore silently suppresses nothing, or (in other linters) everything. Both hide mistakes.",
    instead="-- migrator:ignore require-concurrent-index -- table has 12 rows",
)
