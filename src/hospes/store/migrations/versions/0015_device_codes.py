"""Device authorization grant (RFC 8628): device_codes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 09:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'device_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('user_code', sa.String(length=16), nullable=False),
        sa.Column('credential_id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('resource', sa.String(length=2000), nullable=True),
        sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('grant_id', sa.Integer(), nullable=True),
        sa.Column('auth_time', sa.Integer(), nullable=True),
        sa.Column('acr', sa.String(length=64), nullable=True),
        sa.Column('amr', sa.JSON(), nullable=True),
        sa.Column('poll_interval', sa.Integer(), server_default='5', nullable=False),
        sa.Column('last_polled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['credential_id'], ['oauth_credentials.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['grant_id'], ['grants.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_hash'),
        sa.UniqueConstraint('user_code'),
    )
    op.create_index('ix_device_codes_expires_at', 'device_codes', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_device_codes_expires_at', table_name='device_codes')
    op.drop_table('device_codes')
