"""Client ID metadata documents: oauth_credentials.identifier wide enough for a URL; metadata_expires_at

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 07:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # table_kwargs: SQLite rebuilds the table, which must keep AUTOINCREMENT (ids are never reused).
    with op.batch_alter_table('oauth_credentials', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.alter_column('identifier', existing_type=sa.String(length=80), type_=sa.String(length=255),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('metadata_expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM oauth_credentials WHERE kind = 'metadata_document'")
    with op.batch_alter_table('oauth_credentials', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('metadata_expires_at')
        batch_op.alter_column('identifier', existing_type=sa.String(length=255), type_=sa.String(length=80),
                              existing_nullable=False)
