"""Alembic migrations of the order database (see docs/operations/database.md)."""
