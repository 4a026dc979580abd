"""event lifecycle, join code, retention and privacy contact; thread timers

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default="open"
            )
        )
        batch_op.add_column(sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True))
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=False, server_default="180"))
        batch_op.add_column(sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "responsible", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column(
                "contact", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False, server_default=""
            )
        )
        batch_op.create_index(batch_op.f("ix_event_code"), ["code"], unique=False)
    with op.batch_alter_table("thread", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timer_ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("timer_auto_close", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("thread", schema=None) as batch_op:
        batch_op.drop_column("timer_auto_close")
        batch_op.drop_column("timer_ends_at")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_code"))
        batch_op.drop_column("contact")
        batch_op.drop_column("responsible")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("retention_days")
        batch_op.drop_column("code")
        batch_op.drop_column("status")
