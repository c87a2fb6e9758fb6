"""transcripts of voice memos; per-group transcription switch; full-text search

Revision ID: 0003
Revises: 0002

Search covers a message's text and its transcript, for messages not deleted.
PostgreSQL: a GIN index on the same `to_tsvector` expression the search query
uses (`app.services.search`). SQLite: an FTS5 table kept by triggers, with the
message's rowid as its rowid.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_DOCUMENT = "to_tsvector('english', coalesce(text, '') || ' ' || coalesce(transcript_text, ''))"
SQLITE_BODY = "coalesce({row}.text, '') || ' ' || coalesce({row}.transcript_text, '')"


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("transcript_status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("transcript_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("transcript_language", sa.String(length=16), nullable=True))
    with op.batch_alter_table("groups") as batch:
        batch.add_column(
            sa.Column("transcripts", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_messages_search ON messages USING gin (({PG_DOCUMENT}))")
    else:
        _sqlite_fts()


def _sqlite_fts() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE message_search USING fts5("
        "body, message_id UNINDEXED, group_id UNINDEXED, tokenize='porter unicode61')"
    )
    insert = (
        "INSERT INTO message_search(rowid, body, message_id, group_id) "
        f"SELECT new.rowid, {SQLITE_BODY.format(row='new')}, new.id, new.group_id "
        "WHERE new.deleted_at IS NULL;"
    )
    op.execute(f"CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN {insert} END")
    op.execute(
        "CREATE TRIGGER message_search_update AFTER UPDATE OF text, transcript_text, deleted_at "
        "ON messages BEGIN "
        f"DELETE FROM message_search WHERE rowid = old.rowid; {insert} END"
    )
    op.execute(
        "CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN "
        "DELETE FROM message_search WHERE rowid = old.rowid; END"
    )
    op.execute(
        "INSERT INTO message_search(rowid, body, message_id, group_id) "
        f"SELECT rowid, {SQLITE_BODY.format(row='messages')}, id, group_id FROM messages "
        "WHERE deleted_at IS NULL"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_messages_search")
    else:
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER message_search_{trigger}")
        op.execute("DROP TABLE message_search")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("transcripts")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("transcript_language")
        batch.drop_column("transcript_text")
        batch.drop_column("transcript_status")
