"""threads: a reply's thread root, and the moment of a voice memo a reply answers

Revision ID: 0015
Revises: 0014

`messages.thread_root_id` (the first message of the thread a reply belongs to; None for
a message that is no reply) with an index to list a thread in order and count its
replies, and `messages.reply_to_offset_ms` (the place in the replied-to voice memo).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No foreign key (SQLite would rebuild the table, and its search triggers with it): a
    # message leaves only with its whole group, its thread's root included.
    op.add_column("messages", sa.Column("thread_root_id", sa.String(length=36), nullable=True))
    op.add_column("messages", sa.Column("reply_to_offset_ms", sa.Integer(), nullable=True))
    op.create_index("ix_messages_thread", "messages", ["thread_root_id", "seq"])
    # Replies made before threads: each joins the thread of what it replies to.
    op.execute(
        """
        WITH RECURSIVE chain(id, root) AS (
            SELECT id, id FROM messages WHERE reply_to_id IS NULL
            UNION ALL
            SELECT m.id, chain.root FROM messages m JOIN chain ON m.reply_to_id = chain.id
        )
        UPDATE messages SET thread_root_id = (SELECT root FROM chain WHERE chain.id = messages.id)
        WHERE reply_to_id IS NOT NULL
        """
    )


def downgrade() -> None:
    op.drop_index("ix_messages_thread", table_name="messages")
    op.drop_column("messages", "reply_to_offset_ms")
    op.drop_column("messages", "thread_root_id")
