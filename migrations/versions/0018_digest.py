"""digest: the catch-up email, the person's time zone, and which digest went last

Revision ID: 0018
Revises: 0017

`users.digest` ("off", "daily" or "weekly"), `users.timezone` (IANA; filled from the
quiet hours' zone where there was one: a person has one time zone) and
`users.digest_slot_at`, the local morning whose digest was last queued, so each is
queued once across processes and restarts. `messages.live`: the memo was heard live
while recorded (a digest names the live memos one missed).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, never a batch copy (on SQLite it would cascade, see 0006).
    op.add_column(
        "users", sa.Column("digest", sa.String(length=8), nullable=False, server_default="off")
    )
    op.add_column("users", sa.Column("timezone", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("digest_slot_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "messages",
        sa.Column("live", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute("UPDATE users SET timezone = quiet_time_zone WHERE quiet_time_zone IS NOT NULL")


def downgrade() -> None:
    op.drop_column("messages", "live")
    op.drop_column("users", "digest_slot_at")
    op.drop_column("users", "timezone")
    op.drop_column("users", "digest")
