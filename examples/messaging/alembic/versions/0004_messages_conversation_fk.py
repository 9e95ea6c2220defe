"""a foreign key: NOT VALID now, validated in its own transaction

Revision ID: 0004
"""
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade():
    # migrator:ignore fk-needs-index -- 0005 adds the index
    op.execute("ALTER TABLE messages ADD CONSTRAINT messages_conversation_id_fkey "
               "FOREIGN KEY (conversation_id) REFERENCES conversations (id) NOT VALID")
    op.execute("COMMIT")
    op.execute("BEGIN")
    op.execute("ALTER TABLE messages VALIDATE CONSTRAINT messages_conversation_id_fkey")


def downgrade():
    op.drop_constraint("messages_conversation_id_fkey", "messages")
