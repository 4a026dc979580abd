"""privacy and the public record: hash chain, retained tallies, retention marks, forgotten participants

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recordentry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("text_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("prev", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "seq", name="uq_record_entry_event_seq"),
    )
    op.create_table(
        "retainedtally",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("agree", sa.Integer(), nullable=False),
        sa.Column("disagree", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answer.id"]),
        sa.PrimaryKeyConstraint("answer_id", "segment"),
    )
    op.create_table(
        "retention",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("applied_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "forgottenparticipant",
        sa.Column("id_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.PrimaryKeyConstraint("id_sha256"),
    )
    op.create_index(
        op.f("ix_forgottenparticipant_event_id"), "forgottenparticipant", ["event_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_forgottenparticipant_event_id"), table_name="forgottenparticipant")
    op.drop_table("forgottenparticipant")
    op.drop_table("retention")
    op.drop_table("retainedtally")
    op.drop_table("recordentry")
