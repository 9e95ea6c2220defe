from lint_rules import Rule

RULE = Rule(
    id="syntax-error",
    severity="error",
    summary="The file could not be tokenized as SQL.",
    what="Reported when a file has an unterminated string, quoted identifier, comment or dollar-quoted body.",
    why="Nothing after the error can be analyzed, so nothing in the file can be called safe.",
    instead="-- close the string, identifier, comment or $$ body",
)
