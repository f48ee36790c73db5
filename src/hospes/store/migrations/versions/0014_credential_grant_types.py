"""Credentials: several grant types, how a client authenticates (its keys), DPoP and PAR; seen JWT ids;
grants and access tokens without a person (client_credentials)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 09:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Additive only (a rolling upgrade: the previous release keeps reading grant_type, whose old values
    # are single names and stay valid lists of one). table_kwargs: SQLite rebuilds the table, which must
    # keep AUTOINCREMENT (ids are never reused).
    with op.batch_alter_table('oauth_credentials', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.alter_column('grant_type', existing_type=sa.String(length=32), type_=sa.String(length=512),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('token_endpoint_auth_method', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('jwks', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('jwks_uri', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('dpop_bound', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('require_par', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('secret_sealed', sa.LargeBinary(length=128), nullable=True))
    # A client_credentials grant and its tokens act for no person (RFC 6749 §4.4): user_id NULL. Earlier
    # releases join users to every token, so they simply never find such a token.
    for table in ('grants', 'access_tokens'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=True)
    op.create_table(
        'seen_jtis',
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'digest'),
    )
    op.create_index('ix_seen_jtis_expires_at', 'seen_jtis', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_seen_jtis_expires_at', table_name='seen_jtis')
    op.drop_table('seen_jtis')
    # A person-less grant cannot go back: it goes, with its tokens.
    op.execute("DELETE FROM access_tokens WHERE user_id IS NULL")
    op.execute("DELETE FROM grants WHERE user_id IS NULL")
    for table in ('access_tokens', 'grants'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('oauth_credentials', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('secret_sealed')
        batch_op.drop_column('require_par')
        batch_op.drop_column('dpop_bound')
        batch_op.drop_column('jwks_uri')
        batch_op.drop_column('jwks')
        batch_op.drop_column('token_endpoint_auth_method')
        batch_op.alter_column('grant_type', existing_type=sa.String(length=512), type_=sa.String(length=32),
                              existing_nullable=False)
