"""Back-channel logout: a credential's backchannel_logout_uri, and the logout tokens to deliver

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 07:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # table_kwargs: SQLite rebuilds the table, which must keep AUTOINCREMENT (ids are never reused).
    with op.batch_alter_table('oauth_credentials', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('backchannel_logout_uri', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('backchannel_logout_session_required', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        'backchannel_logouts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('credential_id', sa.Integer(), nullable=False),
        sa.Column('sub', sa.String(length=36), nullable=False),
        sa.Column('sid', sa.String(length=36), nullable=True),
        sa.Column('jti', sa.String(length=36), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['credential_id'], ['oauth_credentials.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('jti'),
    )
    op.create_index('ix_backchannel_logouts_credential_id', 'backchannel_logouts', ['credential_id'])
    op.create_index('ix_backchannel_logouts_due', 'backchannel_logouts', ['status', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('ix_backchannel_logouts_due', table_name='backchannel_logouts')
    op.drop_index('ix_backchannel_logouts_credential_id', table_name='backchannel_logouts')
    op.drop_table('backchannel_logouts')
    with op.batch_alter_table('oauth_credentials', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('backchannel_logout_session_required')
        batch_op.drop_column('backchannel_logout_uri')
