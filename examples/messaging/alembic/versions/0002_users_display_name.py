"""a nullable column: instant

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    op.add_column("users", sa.Column("display_name", sa.Text, nullable=True))


def downgrade():
    op.drop_column("users", "display_name")
