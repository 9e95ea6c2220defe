"""an index built CONCURRENTLY, outside the transaction

Revision ID: 0005
"""
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("messages_conversation_id_idx", "messages", ["conversation_id", "sent_at"],
                        postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("messages_conversation_id_idx", postgresql_concurrently=True)
