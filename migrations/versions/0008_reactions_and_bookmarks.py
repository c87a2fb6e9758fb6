"""reactions and bookmarks: emoji reactions on messages, private bookmarks with a note

Revision ID: 0008
Revises: 0007

`reactions` (one row per message, person and emoji) and `bookmarks` (one row per
person and message, with an optional note and a place in a voice memo).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
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


def _created_at() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "reactions",
        _fk("message_id", "messages"),
        _fk("user_id", "users"),
        sa.Column("emoji", sa.String(length=32), primary_key=True, nullable=False),
        _created_at(),
    )
    op.create_index("ix_reactions_user_id", "reactions", ["user_id"])
    op.create_table(
        "bookmarks",
        _fk("user_id", "users"),
        _fk("message_id", "messages"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("offset_ms", sa.Integer(), nullable=True),
        _created_at(),
    )
    op.create_index("ix_bookmarks_message_id", "bookmarks", ["message_id"])
    op.create_index("ix_bookmarks_user_created", "bookmarks", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_bookmarks_user_created", table_name="bookmarks")
    op.drop_index("ix_bookmarks_message_id", table_name="bookmarks")
    op.drop_table("bookmarks")
    op.drop_index("ix_reactions_user_id", table_name="reactions")
    op.drop_table("reactions")
