"""DELIBERATELY UNSAFE: a plain CREATE INDEX blocks every write to messages for the whole build.
`migrator lint` rejects it; alembic/versions/0008_messages_sent_at_index.py is the safe version.

Revision ID: 0008
"""
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade():
    op.create_index("messages_sent_at_idx", "messages", ["sent_at"])


def downgrade():
    op.drop_index("messages_sent_at_idx")
