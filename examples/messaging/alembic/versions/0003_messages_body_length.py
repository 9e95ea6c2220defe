"""a column filled afterwards by `migrator backfill` (see examples/messaging/backfill)

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    op.add_column("messages", sa.Column("body_length", sa.Integer, nullable=True))


def downgrade():
    op.drop_column("messages", "body_length")
