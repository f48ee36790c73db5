"""Pushed authorization requests (RFC 9126)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pushed_authorization_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uri_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('credential_id', sa.Integer(), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['credential_id'], ['oauth_credentials.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('uri_hash'),
    )
    op.create_index('ix_pushed_authorization_requests_credential_id', 'pushed_authorization_requests',
                    ['credential_id'])


def downgrade() -> None:
    op.drop_index('ix_pushed_authorization_requests_credential_id', table_name='pushed_authorization_requests')
    op.drop_table('pushed_authorization_requests')
