"""the safe version of unsafe/0008_messages_sent_at_index_unsafe.py

Revision ID: 0008
"""
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("messages_sent_at_idx", "messages", ["sent_at"], postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("messages_sent_at_idx", postgresql_concurrently=True)
