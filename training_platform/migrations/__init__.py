"""Alembic migrations of the platform database; run them with `practicum db upgrade`."""
