"""Models: no foreign key to the providers table.

A model added through the API may belong to a provider declared in the config file,
which the store does not hold; the registry checks that a model's provider exists and
drops (with a warning) stored models whose provider is gone.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite keeps 0001's foreign key unnamed; batch mode names it by this convention.
_CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_SQLITE_FK = "fk_models_provider_id_providers"


def upgrade() -> None:
    """Drop models.provider_id's foreign key."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("models", naming_convention=_CONVENTION) as batch_op:
            batch_op.drop_constraint(_SQLITE_FK, type_="foreignkey")
        return
    for fk in sa.inspect(bind).get_foreign_keys("models"):
        if fk["referred_table"] == "providers" and fk["name"]:
            op.drop_constraint(fk["name"], "models", type_="foreignkey")


def downgrade() -> None:
    """Restore the foreign key (fails if a model names a provider the store lacks)."""
    with op.batch_alter_table("models", naming_convention=_CONVENTION) as batch_op:
        batch_op.create_foreign_key(_SQLITE_FK, "providers", ["provider_id"], ["id"])
