"""reach people: Web Push subscriptions, notification preferences, the outbox, podcast feeds

Revision ID: 0005
Revises: 0004

`outbox` is the durable queue of things sent outside the server (pushes now, email
later); `push_subscriptions` where to push; `feeds` the private podcast feeds (only
their token's hash). People get notification preferences; memberships a level.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, required: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=not required)


def _owner() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "user_id",
        sa.String(length=36),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    # Plain ADD COLUMNs, never a batch copy of the table: on SQLite, dropping the old
    # `users` table would cascade to every row that references it.
    op.add_column(
        "users",
        sa.Column("notification_previews", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("users", sa.Column("quiet_start", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("quiet_end", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("quiet_time_zone", sa.String(length=64), nullable=True))
    op.add_column(
        "users",
        sa.Column("quiet_allow_live", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "memberships",
        sa.Column("notify", sa.String(length=8), nullable=False, server_default="all"),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _owner(),
        sa.Column("endpoint_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("p256dh", sa.String(length=100), nullable=False),
        sa.Column("auth", sa.String(length=32), nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_push_subscriptions_user_id", "push_subscriptions", ["user_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        _when("claimed_until", required=False),
        _when("created_at"),
        _when("failed_at", required=False),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_outbox_due", "outbox", ["next_attempt_at"])
    op.create_table(
        "feeds",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _owner(),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        _when("created_at"),
    )
    op.create_index("ix_feeds_user_id", "feeds", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_feeds_user_id", table_name="feeds")
    op.drop_table("feeds")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_push_subscriptions_user_id", table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    # SQLite 3.35+ drops a column in place (a batch copy would cascade, as above).
    op.drop_column("memberships", "notify")
    for column in (
        "quiet_allow_live",
        "quiet_time_zone",
        "quiet_end",
        "quiet_start",
        "notification_previews",
    ):
        op.drop_column("users", column)
