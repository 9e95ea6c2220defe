"""int to bigint, expand/contract: add the new column now (the application writes both,
`migrator backfill` copies old rows); a later release switches reads and drops sender_id

Revision ID: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade():
    op.add_column("messages", sa.Column("sender_id_big", sa.BigInteger, nullable=True))


def downgrade():
    op.drop_column("messages", "sender_id_big")
