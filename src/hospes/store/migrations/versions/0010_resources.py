"""resources and resource_scopes: the operator's own resource servers (RFC 8707); grants.resource;
access_tokens.audience and access_tokens.acr

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 06:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'resources',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('identifier', sa.String(length=2000), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('token_format', sa.String(length=16), nullable=False),
        sa.Column('require_acr', sa.String(length=16), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('identifier', name='uq_resources_identifier'),
        sqlite_autoincrement=True,
    )
    op.create_table(
        'resource_scopes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('resource_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name='fk_resource_scopes_resource_id',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name', name='uq_resource_scopes_name'),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table('resource_scopes', schema=None) as batch_op:
        batch_op.create_index('ix_resource_scopes_resource_id', ['resource_id'], unique=False)
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resource', sa.String(length=2000), nullable=True))
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('acr', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_column('acr')
        batch_op.drop_column('audience')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_column('resource')
    with op.batch_alter_table('resource_scopes', schema=None) as batch_op:
        batch_op.drop_index('ix_resource_scopes_resource_id')
    op.drop_table('resource_scopes')
    op.drop_table('resources')
