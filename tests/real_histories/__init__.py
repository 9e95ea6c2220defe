"""Real Alembic histories from published packages (vendored unedited, see each NOTICE.md) and the harness that runs them."""
