"""DPoP (RFC 9449): the key thumbprint a token is bound to, and the one an authorization request named

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 09:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# RFC 7638 SHA-256 thumbprints, base64url without padding: 43 characters. Nullable, no default: a token without
# one is a bearer token, as every token an earlier release issued (a rolling upgrade keeps them working).
_COLUMNS = (('access_tokens', 'jkt'), ('refresh_tokens', 'jkt'), ('authorization_codes', 'dpop_jkt'))


def upgrade() -> None:
    for table, column in _COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.String(length=43), nullable=True))


def downgrade() -> None:
    for table, column in reversed(_COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
