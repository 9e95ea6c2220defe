"""Alembic environment of the example messaging service."""

import os

from alembic import context
from sqlalchemy import create_engine

config = context.config


def url() -> str:
    return os.environ.get("DATABASE_URL", config.get_main_option("sqlalchemy.url")).replace(
        "postgresql://", "postgresql+psycopg://", 1)


if context.is_offline_mode():
    context.configure(url=url(), literal_binds=True, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(url()).connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
