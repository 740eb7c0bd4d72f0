"""Alembic migration scripts (package so they ship inside the wheel)."""
