"""instance admins: who runs the server, and accounts an admin disabled

Revision ID: 0017
Revises: 0016

`users.is_admin`: may manage accounts (`earshot admin`, /api/v1/admin); reads no
group it is not in. `users.disabled_at` / `disabled_reason`: an admin disabled the
account (its tokens are gone and it cannot sign in) until one enables it again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, never a batch copy of `users` (on SQLite that would cascade).
    op.add_column(
        "users", sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("users", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("disabled_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "disabled_reason")
    op.drop_column("users", "disabled_at")
    op.drop_column("users", "is_admin")
