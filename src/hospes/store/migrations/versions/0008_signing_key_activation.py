"""signing_keys.activates_at: when a key starts to sign (a rotated key is published first, signs later)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 03:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('activates_at', sa.DateTime(timezone=True), nullable=True))
    # Every key written before signed from the moment it was created.
    op.execute("UPDATE signing_keys SET activates_at = created_at")
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.alter_column('activates_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_column('activates_at')
