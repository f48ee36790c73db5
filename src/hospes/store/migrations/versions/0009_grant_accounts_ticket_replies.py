"""grants.accounts and consents.accounts: the client accounts a person chose for an application (the customer
API's reach); ticket_replies: the replies to a support ticket

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accounts', sa.Text(), nullable=True))
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accounts', sa.JSON(), nullable=True))
    op.create_table(
        'ticket_replies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name='fk_ticket_replies_ticket_id', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_ticket_replies_user_id', ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table('ticket_replies', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_replies_ticket_id', ['ticket_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ticket_replies', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_replies_ticket_id')
    op.drop_table('ticket_replies')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('accounts')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_column('accounts')
