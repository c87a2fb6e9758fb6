"""edits and listening positions: when a text was last edited, where each listener is in a memo

Revision ID: 0014
Revises: 0009

`messages.edited_at` (None: never edited) and `listening_positions` (one row per
listener and voice memo: how far they have listened, kept apart from the receipt).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(name: str, table: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        sa.String(length=36),
        sa.ForeignKey(f"{table}.id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    )


def upgrade() -> None:
    op.add_column("messages", sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "listening_positions",
        _fk("user_id", "users"),
        _fk("message_id", "messages"),
        sa.Column("position_ms", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_listening_positions_message_id", "listening_positions", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_listening_positions_message_id", table_name="listening_positions")
    op.drop_table("listening_positions")
    op.drop_column("messages", "edited_at")
