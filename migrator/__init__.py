"""migrator: safe schema migrations and backfills for PostgreSQL."""

__version__ = "0.1.0"
