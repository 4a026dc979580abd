"""Alembic environment: runs on the connection that `Database.upgrade` hands over."""

from alembic import context
from sqlmodel import SQLModel

from board import models  # noqa: F401  (registers the tables on the metadata)

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `board db upgrade`, which provides the connection.")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
