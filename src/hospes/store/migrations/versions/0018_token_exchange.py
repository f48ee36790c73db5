"""Token exchange (RFC 8693): an access token's act claim, the chain of clients acting for its subject

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Additive: NULL for every token issued before, and for every token not obtained by an exchange. An exchanged
    # token lives under the subject token's grant (grant_id), so revoking that grant revokes it.
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('act', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_column('act')
