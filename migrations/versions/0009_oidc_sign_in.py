"""oidc sign-in: identities at OpenID Connect providers, pending SSO steps, token expiry

Revision ID: 0009
Revises: 0008

`oidc_subjects`: an account's (provider, sub) — the identity, never the email alone.
`oidc_pending`: one-time steps of an SSO sign-in (state, exchange and link codes),
by the SHA-256 of their secret. `tokens.expires_at`: SSO tokens stop working then.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "oidc_subjects",
        sa.Column("provider", sa.String(length=32), primary_key=True),
        sa.Column("subject", sa.String(length=255), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oidc_subjects_user_id", "oidc_subjects", ["user_id"])
    op.create_table(
        "oidc_pending",
        sa.Column("key_hash", sa.String(length=64), primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oidc_pending_expires_at", "oidc_pending", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_oidc_pending_expires_at", "oidc_pending")
    op.drop_table("oidc_pending")
    op.drop_index("ix_oidc_subjects_user_id", "oidc_subjects")
    op.drop_table("oidc_subjects")
    op.drop_column("tokens", "expires_at")
