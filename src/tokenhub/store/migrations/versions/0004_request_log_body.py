"""Request log: an optional column for redacted bodies (request_log.log_bodies).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add request_log.body."""
    with op.batch_alter_table("request_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop request_log.body."""
    with op.batch_alter_table("request_log", schema=None) as batch_op:
        batch_op.drop_column("body")
