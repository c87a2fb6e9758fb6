"""silences: the spans of each voice memo a listener may skip

Revision ID: 0016
Revises: 0015

`messages.silences`, JSON `[[start_ms, end_ms], ...]`, measured when a memo is converted;
memos converted before stay without (null).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("silences", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "silences")
