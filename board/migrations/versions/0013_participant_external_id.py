"""participant external id (the voter id of an imported Pol.is conversation)

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-02 00:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True)
        )
        batch_op.create_unique_constraint("uq_participant_event_external_id", ["event_id", "external_id"])


def downgrade() -> None:
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_constraint("uq_participant_event_external_id", type_="unique")
        batch_op.drop_column("external_id")
