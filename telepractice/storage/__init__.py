"""Database engine, models and migrations glue."""
