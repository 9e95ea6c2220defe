from lint_rules import Rule

RULE = Rule(
    id="unused-ignore",
    severity="warning",
    summary="An ignore directive that suppressed nothing.",
    what="Flags `migrator:ignore` / `migrator:ignore-file` entries that matched no finding.",
    why="Stale ignores outlive the reason they were written for and will hide the next real finding.",
    instead="-- delete the directive",
)
