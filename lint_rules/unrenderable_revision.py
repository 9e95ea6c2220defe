from lint_rules import Rule

RULE = Rule(
    id="unrenderable-revision",
    severity="error",
    summary="An Alembic revision whose upgrade() cannot be rendered to SQL offline.",
    what=(
        "Reported at the line where rendering failed: the revision reads from the database "
        "(`op.get_bind()`, results of queries), imports application code that is not importable, "
        "takes arguments its env.py passes to run_migrations() (`def upgrade(config)`), or raises. The "
        "message says which. Statements rendered before that line are still linted."
    ),
    why="What cannot be rendered cannot be checked; such a revision needs review by hand or a live plan.",
    instead="-- move data-dependent work into `migrator backfill`, keep upgrade() to schema operations",
)
