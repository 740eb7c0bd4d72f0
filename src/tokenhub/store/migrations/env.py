"""Alembic environment: always runs on the connection tokenhub hands it.

No ``target_metadata``: the migrations are self-contained, so applying them does not
import the table models (a tenth of the migration child's start-up).
tests/store/test_migrate.py compares the migrated schema with the models instead.
"""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
