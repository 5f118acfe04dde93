"""security and import hardening: session generations, token hints, frame fingerprints

- users.session_generation: every signed session cookie names the generation it was issued
  under; logging out, a new password or disabling the account bumps it, which ends those
  sessions on the server side (a signed cookie alone cannot be taken back).
- api_tokens.hint: the last characters of a token, so `onset user tokens` can tell tokens
  apart (the token itself is still stored only as its SHA-256).
- frames.file_size / frames.file_mtime_ns: what a re-import compares to notice a frame file
  changed in place, whose cached face detections and crops must then be dropped.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('session_generation', sa.Integer(), nullable=False,
                                   server_default='0'))
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('hint', sa.String(length=16), nullable=True))
    with op.batch_alter_table('frames') as batch:
        batch.add_column(sa.Column('file_size', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('file_mtime_ns', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('frames') as batch:
        batch.drop_column('file_mtime_ns')
        batch.drop_column('file_size')
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('hint')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('session_generation')
