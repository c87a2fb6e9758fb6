"""safe groups: erasure by message id, bans, blocks, reports, the moderation log

Revision ID: 0004
Revises: 0003

`events.message_id` names the message a `message.*` event carries, so deleting a
message finds every stored copy of it by index. It is filled in for the events
already stored, and the events of messages deleted before this revision (which
still carried their content) are rewritten to the tombstone that their
`message.deleted` event holds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(name: str, table: str, *, cascade: bool = True, primary_key: bool = False) -> sa.Column:  # type: ignore[type-arg]
    """A reference to `table`.id: CASCADE (required) or SET NULL (optional)."""
    return sa.Column(
        name,
        sa.String(length=36),
        sa.ForeignKey(f"{table}.id", ondelete="CASCADE" if cascade else "SET NULL"),
        primary_key=primary_key,
        nullable=not cascade,
    )


def _when(name: str, *, required: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=not required)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "who_can_add_me",
                sa.String(length=16),
                nullable=False,
                server_default="shared_group",
            )
        )
    with op.batch_alter_table("invites") as batch:
        batch.add_column(_when("revoked_at", required=False))
        batch.add_column(sa.Column("revoked_by", sa.String(length=36), nullable=True))
        batch.create_foreign_key(
            "fk_invites_revoked_by_users", "users", ["revoked_by"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("message_id", sa.String(length=36), nullable=True))
        batch.create_index("ix_events_message_id", ["message_id"], unique=False)

    op.create_table(
        "bans",
        _fk("group_id", "groups", primary_key=True),
        _fk("user_id", "users", primary_key=True),
        _fk("banned_by", "users", cascade=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _when("created_at"),
    )
    op.create_table(
        "blocks",
        _fk("user_id", "users", primary_key=True),
        _fk("blocked_id", "users", primary_key=True),
        _when("created_at"),
    )
    op.create_index("ix_blocks_blocked_id", "blocks", ["blocked_id"])
    op.create_table(
        "reports",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _fk("group_id", "groups"),
        _fk("message_id", "messages"),
        _fk("reporter_id", "users"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("created_at"),
        _when("resolved_at", required=False),
        _fk("resolved_by", "users", cascade=False),
        sa.Column("resolution", sa.String(length=16), nullable=True),
    )
    op.create_index("ix_reports_group_status", "reports", ["group_id", "status", "created_at"])
    op.create_index("ix_reports_message_id", "reports", ["message_id"])
    op.create_index(
        "ux_reports_open",
        "reports",
        ["message_id", "reporter_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "moderation_log",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _fk("group_id", "groups"),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        _fk("actor_id", "users", cascade=False),
        _fk("target_id", "users", cascade=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        _when("created_at"),
        sa.UniqueConstraint("group_id", "seq"),
    )
    op.create_index("ix_moderation_log_target", "moderation_log", ["group_id", "target_id"])
    _backfill_and_scrub()


def _backfill_and_scrub() -> None:
    dialect = op.get_bind().dialect.name
    carried_id = "data->>'id'" if dialect == "postgresql" else "json_extract(data, '$.id')"
    op.execute(f"UPDATE events SET message_id = {carried_id} WHERE type LIKE 'message.%'")
    # Content that deleted messages left in older events: replace it with the tombstone.
    op.execute(
        "UPDATE events SET data = ("
        "  SELECT d.data FROM events AS d"
        "  WHERE d.message_id = events.message_id AND d.type = 'message.deleted'"
        "  ORDER BY d.seq DESC LIMIT 1"
        ") "
        "WHERE type <> 'message.deleted' AND message_id IN ("
        "  SELECT id FROM messages WHERE deleted_at IS NOT NULL"
        ") AND EXISTS ("
        "  SELECT 1 FROM events AS d"
        "  WHERE d.message_id = events.message_id AND d.type = 'message.deleted'"
        ")"
    )
    if dialect == "sqlite":  # drop deleted words still held by old index segments
        op.execute("INSERT INTO message_search(message_search) VALUES ('optimize')")


def downgrade() -> None:
    op.drop_index("ix_moderation_log_target", table_name="moderation_log")
    op.drop_table("moderation_log")
    op.drop_index("ux_reports_open", table_name="reports")
    op.drop_index("ix_reports_message_id", table_name="reports")
    op.drop_index("ix_reports_group_status", table_name="reports")
    op.drop_table("reports")
    op.drop_index("ix_blocks_blocked_id", table_name="blocks")
    op.drop_table("blocks")
    op.drop_table("bans")
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_message_id")
        batch.drop_column("message_id")
    with op.batch_alter_table("invites") as batch:
        batch.drop_constraint("fk_invites_revoked_by_users", type_="foreignkey")
        batch.drop_column("revoked_by")
        batch.drop_column("revoked_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("who_can_add_me")
