"""group trust: norms, the export policy, pinned messages, group exports

Revision ID: 0019
Revises: 0018

`groups.norms`: the group's own agreement, shown to new members beside its rules.
`groups.export_policy`: who may take a copy of the group ("nobody" or "owner").
`pins`: up to five pinned messages per group, in pin order (`position`).
`group_exports`: each group's latest export by its owner (app.services.exports).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, never a batch copy of `groups` (on SQLite that would cascade).
    op.add_column("groups", sa.Column("norms", sa.Text(), nullable=False, server_default=""))
    op.add_column(
        "groups",
        sa.Column("export_policy", sa.String(length=8), nullable=False, server_default="nobody"),
    )
    op.create_table(
        "pins",
        sa.Column(
            "group_id",
            sa.String(length=36),
            sa.ForeignKey("groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "message_id",
            sa.String(length=36),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "pinned_by",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pins_message_id", "pins", ["message_id"])
    op.create_table(
        "group_exports",
        sa.Column(
            "group_id",
            sa.String(length=36),
            sa.ForeignKey("groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "requested_by",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("from_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("to_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("group_exports")
    op.drop_index("ix_pins_message_id", "pins")
    op.drop_table("pins")
    op.drop_column("groups", "export_policy")
    op.drop_column("groups", "norms")
