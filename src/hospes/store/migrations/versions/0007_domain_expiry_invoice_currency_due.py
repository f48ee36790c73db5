"""domains.expires_on, invoices.currency and invoices.due_on: what a customer (and the customer API) is
shown of a domain and an invoice

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_on', sa.Date(), nullable=True))
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=False, server_default='USD'))
        batch_op.add_column(sa.Column('due_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('due_on')
        batch_op.drop_column('currency')
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.drop_column('expires_on')
