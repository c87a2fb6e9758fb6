"""profiles: a bio and an avatar on each account

Revision ID: 0020
Revises: 0019

`users.bio`: a short plain-text bio others see ("" for none). `users.avatar_id`: the
current avatar's random id, which names its blob (`avatars/<user id>/<id>.webp`) and
its URL, so a new avatar has a new URL; null: no avatar.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("bio", sa.String(length=280), nullable=False, server_default="")
    )
    op.add_column("users", sa.Column("avatar_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "avatar_id")
    op.drop_column("users", "bio")
