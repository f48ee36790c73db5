"""The audit log: each entry's request id (the X-Request-ID of the request that made it) and OAuth client

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Additive: nullable columns, so a node of the previous release keeps writing entries during a rolling
    # upgrade (SQLite adds them with ALTER TABLE, no rebuild).
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('client_id', sa.String(length=255), nullable=True))
        batch_op.create_index('ix_audit_events_client_id', ['client_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_client_id')
        batch_op.drop_column('client_id')
        batch_op.drop_column('request_id')
