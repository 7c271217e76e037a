"""Alembic migrations, shipped inside the package as bot.migrations."""
