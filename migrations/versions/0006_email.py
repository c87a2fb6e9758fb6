"""email: an optional address on the account, and one-time tokens mailed to it

Revision ID: 0006
Revises: 0005

`users.email` (+ when it was verified) and `email_tokens` (verification and
password-reset tokens, only their SHA-256 stored).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, never a batch copy of the table: on SQLite, dropping the old
    # `users` table would cascade to every row that references it.
    op.add_column("users", sa.Column("email", sa.String(length=254), nullable=True))
    op.add_column(
        "users", sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_users_email", "users", ["email"])
    op.create_table(
        "email_tokens",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_email_tokens_user_id", "email_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_email_tokens_user_id", table_name="email_tokens")
    op.drop_table("email_tokens")
    op.drop_index("ix_users_email", table_name="users")
    # SQLite 3.35+ drops a column in place (a batch copy would cascade, as above).
    op.drop_column("users", "email_verified_at")
    op.drop_column("users", "email")
