"""accounts: a deleted account keeps its row as "Deleted user"

Revision ID: 0007
Revises: 0006

`users.deleted_at`: when the person deleted their account (app.services.deletion).
The row stays so their tombstones keep a sender; its handle stays taken for
EARSHOT_DELETED_HANDLE_GRACE_DAYS, then is freed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, never a batch copy of `users` (on SQLite that would cascade).
    op.add_column("users", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "deleted_at")
