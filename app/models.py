"""The tables: typed SQLAlchemy 2 models shared by SQLite and PostgreSQL.

Every durable change a member should see is an `Event` row with the next
per-group `seq`, allocated from `Group.last_seq` in the same transaction.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy import text as sql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


MAX_SEQ = 2**31 - 1  # seq and last_seq are 32-bit columns: no cursor goes beyond


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC and always gives back an aware datetime (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    handle: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Who may add this person to a group directly: "shared_group" (someone who already
    # shares a group with them) or "anyone". Everyone else sends an invite link.
    who_can_add_me: Mapped[str] = mapped_column(
        String(16), default="shared_group", server_default="shared_group"
    )
    # Notifications (app.services.notify): message text and transcripts in pushes and
    # the podcast feed only if this is on; quiet hours as minutes after midnight in
    # `quiet_time_zone` (start == None: none), live memos let through if `quiet_allow_live`.
    notification_previews: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    quiet_start: Mapped[int | None] = mapped_column(Integer)
    quiet_end: Mapped[int | None] = mapped_column(Integer)
    quiet_time_zone: Mapped[str | None] = mapped_column(String(64))
    quiet_allow_live: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # An optional address (lower-cased), for password resets and later digests; it is
    # used for resets only once verified (`email_verified_at`), and a new one is not.
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the account was deleted (app.services.deletion): the row stays, shown as
    # "Deleted user", so tombstones keep a sender; the handle is freed after a grace period.
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # An instance admin (app.services.admin) manages accounts; it reads no group it is not
    # in. An account an admin disabled (`disabled_at`, with the admin's reason) has no
    # tokens and cannot sign in until an admin enables it again.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    # The catch-up digest (app.services.digest): "off", "daily" or "weekly", mailed in the
    # local morning of `timezone` (IANA; None: UTC), the person's one time zone (quiet
    # hours follow it). `digest_slot_at`: the morning whose digest was last queued.
    digest: Mapped[str] = mapped_column(String(8), default="off", server_default="off")
    timezone: Mapped[str | None] = mapped_column(String(64))
    digest_slot_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The profile others see (app.services.avatars): a short plain-text bio, and the
    # avatar's version (a random id naming its blob and its URL; None: no avatar).
    bio: Mapped[str] = mapped_column(String(280), default="", server_default="")
    avatar_id: Mapped[str | None] = mapped_column(String(32))

    @property
    def email_verified(self) -> bool:
        return self.email is not None and self.email_verified_at is not None


class Token(Base):
    __tablename__ = "tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Tokens issued through SSO stop working then (EARSHOT_OIDC_SESSION_HOURS); None: never.
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OidcSubject(Base):
    """An account's identity at an OpenID Connect provider: (provider, `sub`), never the
    email alone. One per provider and account."""

    __tablename__ = "oidc_subjects"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OidcPending(Base):
    """A step of an SSO sign-in, found by the SHA-256 of its one-time secret and deleted
    when used or expired: "flow" (state -> nonce, PKCE verifier, invite code), "exchange"
    (the code the browser brings back -> the verified identity) and "link" (the code that,
    with the existing account's password, links the identity to it)."""

    __tablename__ = "oidc_pending"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)  # JSON
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class EmailToken(Base):
    """A one-time token mailed to someone: "verify" (that `email` is theirs) or "reset"
    (a new password). Only its SHA-256 is stored; it is deleted when used."""

    __tablename__ = "email_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(8))
    email: Mapped[str] = mapped_column(String(254))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("created_by", "client_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(String(64))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retention_days: Mapped[int | None] = mapped_column(Integer)  # None: kept until deleted
    transcripts: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The group's own agreement (plain text), shown to new members beside its rules.
    norms: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Who may take a copy of the group (app.services.exports): "nobody" or "owner".
    export_policy: Mapped[str] = mapped_column(String(8), default="nobody", server_default="nobody")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("group_id", "added_by", "client_id"),)

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    added_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(String(64))
    # Which pushes this member gets from the group: "all", "replies" (to them) or "none".
    notify: Mapped[str] = mapped_column(String(8), default="all", server_default="all")

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class Invite(Base):
    __tablename__ = "invites"
    __table_args__ = (UniqueConstraint("group_id", "created_by", "client_id"),)

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    client_id: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    creator: Mapped[User | None] = relationship(foreign_keys=[created_by], lazy="joined")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("group_id", "seq"),
        UniqueConstraint("group_id", "sender_id", "client_id"),
        Index("ix_messages_voice_status", "voice_status"),
        Index("ix_messages_thread", "thread_root_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    text: Mapped[str | None] = mapped_column(Text)
    reply_to_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    # A reply's thread: the first message of the chain of replies it is in (None: no reply),
    # and for a reply to a voice memo, the moment of the memo it answers.
    thread_root_id: Mapped[str | None] = mapped_column(String(36))
    reply_to_offset_ms: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When its sender last changed the text (None: never); see app.services.messages.
    edited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    voice_status: Mapped[str | None] = mapped_column(String(16))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    waveform: Mapped[list[int] | None] = mapped_column(JSON)
    silences: Mapped[list[list[int]] | None] = mapped_column(JSON)
    mime: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    voice_error: Mapped[str | None] = mapped_column(Text)
    # Which server process is working on a live or processing memo, and until when.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Speech-to-text of a voice memo: None (never asked), pending, ready, failed or off.
    transcript_status: Mapped[str | None] = mapped_column(String(16))
    transcript_text: Mapped[str | None] = mapped_column(Text)
    transcript_language: Mapped[str | None] = mapped_column(String(16))
    # Recorded live (push-to-talk), whatever its status now: a digest names live memos missed.
    live: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    sender: Mapped[User] = relationship(lazy="joined")


class Receipt(Base):
    __tablename__ = "receipts"

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    listened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    position_ms: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship(lazy="joined")


class Reaction(Base):
    """`user_id` reacted to a message with `emoji` (one row per person and emoji)."""

    __tablename__ = "reactions"

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    emoji: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Bookmark(Base):
    """A message `user_id` keeps for later, with their own note: private to them."""

    __tablename__ = "bookmarks"
    __table_args__ = (Index("ix_bookmarks_user_created", "user_id", "created_at"),)

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    note: Mapped[str | None] = mapped_column(Text)
    offset_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ListeningPosition(Base):
    """How far `user_id` has listened into a voice memo: private to them, kept apart from
    the receipt (which says they listened at all), so any of their devices resumes there."""

    __tablename__ = "listening_positions"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position_ms: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Event(Base):
    __tablename__ = "events"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The message a `message.*` event carries, so erasure finds every copy of its
    # content by index instead of by reading every payload.
    message_id: Mapped[str | None] = mapped_column(String(36), index=True)


class Ban(Base):
    """A person kept out of a group: removed, and refused by every invite and every add."""

    __tablename__ = "bans"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    banned_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    banner: Mapped[User | None] = relationship(foreign_keys=[banned_by], lazy="joined")


class Block(Base):
    """`user_id` blocked `blocked_id`: no adding them to groups, their messages flagged."""

    __tablename__ = "blocks"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    blocked: Mapped[User] = relationship(foreign_keys=[blocked_id], lazy="joined")


class Report(Base):
    """A member's report of a message, seen by the group's moderators only."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_group_status", "group_id", "status", "created_at"),
        # One open report per reporter and message (a resolved one may be followed by another).
        Index(
            "ux_reports_open",
            "message_id",
            "reporter_id",
            unique=True,
            sqlite_where=sql("status = 'open'"),
            postgresql_where=sql("status = 'open'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    reporter_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, resolved
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(String(16))  # dismiss, delete, ban

    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id], lazy="joined")
    resolver: Mapped[User | None] = relationship(foreign_keys=[resolved_by], lazy="joined")


class ModerationEntry(Base):
    """One line of a group's moderation log: who did what to whom, when; never content.

    `seq` is the seq of the `moderation.logged` event that announced it."""

    __tablename__ = "moderation_log"
    __table_args__ = (
        UniqueConstraint("group_id", "seq"),
        Index("ix_moderation_log_target", "group_id", "target_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message_id: Mapped[str | None] = mapped_column(String(36))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id], lazy="joined")
    target: Mapped[User | None] = relationship(foreign_keys=[target_id], lazy="joined")


class PushSubscription(Base):
    """A browser's Web Push subscription (RFC 8030): where to POST, and its keys (RFC 8291).

    One row per endpoint: a browser that subscribes again, for whichever account, replaces it."""

    __tablename__ = "push_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of endpoint
    endpoint: Mapped[str] = mapped_column(Text)
    p256dh: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OutboxItem(Base):
    """Something to send outside the server (a push, later an email), durable until sent.

    Written in the transaction of the change that causes it; a worker of any process
    claims it (`claimed_by` until `claimed_until`), sends it and deletes it, or puts
    it off to `next_attempt_at`. See app.services.outbox."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # given up: kept a while
    last_error: Mapped[str | None] = mapped_column(Text)


class Feed(Base):
    """A person's private podcast feed; only the SHA-256 of its secret token is stored."""

    __tablename__ = "feeds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class _ExportState:
    """How an export is going: `status` pending (being made), ready (its zip is in the
    store), failed."""

    id: Mapped[str] = mapped_column(String(36), default=new_id)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class Export(_ExportState, Base):
    """A person's data export (app.services.exports): one per person, the latest."""

    __tablename__ = "exports"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class GroupExport(_ExportState, Base):
    """A group's export by its owner, of the messages sent in [from_at, to_at): the latest."""

    __tablename__ = "group_exports"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    requested_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_at: Mapped[datetime] = mapped_column(UtcDateTime)
    to_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Pin(Base):
    """A message pinned at the top of its group; `position` orders them (pin order)."""

    __tablename__ = "pins"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    pinned_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    pinned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
