"""Storage: the database engine, the models, and the migrations (Alembic)."""
