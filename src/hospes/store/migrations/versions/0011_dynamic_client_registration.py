"""oauth_credentials.kind and the registration columns (RFC 7591/7592); registration_tokens (initial access
tokens)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('oauth_credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=24), server_default='admin', nullable=False))
        batch_op.add_column(sa.Column('registration_token_hash', sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column('registration_metadata', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('registered_from', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'registration_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('uses_left', sa.Integer(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table('registration_tokens')
    with op.batch_alter_table('oauth_credentials', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('registered_from')
        batch_op.drop_column('registration_metadata')
        batch_op.drop_column('registration_token_hash')
        batch_op.drop_column('kind')
