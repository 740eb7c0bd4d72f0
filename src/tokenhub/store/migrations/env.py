"""Alembic environment: always runs on the connection tokenhub hands it."""

from alembic import context
from sqlmodel import SQLModel

import tokenhub.store.tables  # noqa: F401  (registers the tables on the metadata)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
