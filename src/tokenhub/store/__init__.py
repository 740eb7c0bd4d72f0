"""Persistence: SQLModel tables, the async engine, Alembic migrations, the background writer."""
