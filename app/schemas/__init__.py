"""The shapes of the API contract (shared/API.md), used for validation, responses,
event payloads and the generated OpenAPI alike, so there is one definition of each.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_iso_z, return_type=str)]
Role = Literal["member", "moderator", "owner"]
# Every string we store or look up: no NUL (PostgreSQL refuses it) and, because a
# pattern is checked on the UTF-8 text, no lone surrogate either.
STORABLE = r"^[^\x00]*$"


def storable(text: str) -> bool:
    """The STORABLE rule, for text checked outside a schema: no NUL, no lone surrogate."""
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=STORABLE)]
Handle = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_.-]{3,32}$"),
    AfterValidator(str.lower),
]
_SPACE = " \t\n\r\f\v"
# Checked as sent (so the published schema says exactly what is accepted), then trimmed.
Name = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=100, pattern=f"^[^\\x00]*[^\\x00{_SPACE}][^\\x00]*$"
    ),
    AfterValidator(lambda v: v.strip(_SPACE)),
]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# Accounts


# An address as people type it: one @, no spaces or control characters (so no header
# injection), a dot in the domain; whether it works is what verification checks.
EMAIL = r'^[^@\s\x00-\x1f\x7f<>,;:"()\[\]\\]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$'
Email = Annotated[str, StringConstraints(max_length=254, pattern=EMAIL)]


class RegisterIn(BaseModel):
    handle: Handle = Field(description="3–32 of a-z 0-9 _ . - (stored lower-cased)")
    display_name: Name
    password: str = Field(min_length=10, max_length=1024, pattern=STORABLE)
    email: Email | None = Field(
        default=None, description="optional; a verification link is mailed to it"
    )
    invite_code: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="a group invite code: needed when the server's registration is `invite`; "
        "the new account joins that group",
    )


class ServerOut(Out):
    """What a client needs before anyone signs in, to show the right sign-up form."""

    registration: Literal["open", "invite", "closed"] = Field(
        description="open: anyone signs up; invite: only with a group invite code; closed: nobody"
    )
    email_domains: list[str] = Field(
        description="posting needs a verified address in one of these domains ([]: no rule)"
    )
    password_login: bool = Field(
        default=True, description="false: sign-in only through the providers (SSO-only)"
    )


class ProviderOut(Out):
    name: str = Field(description="in the sign-in URLs: /api/v1/auth/oidc/{name}/start")
    display_name: str = Field(description='for the button: "Sign in with <display_name>"')


class OidcCodeIn(BaseModel):
    code: str = Field(max_length=128, pattern=r"^[A-Za-z0-9_-]+$")


class OidcLinkIn(BaseModel):
    code: str = Field(max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    password: str = Field(max_length=1024, pattern=STORABLE)


class LoginIn(BaseModel):
    handle: str = Field(max_length=64, pattern=STORABLE)
    password: str = Field(max_length=1024, pattern=STORABLE)


class VerifyEmailIn(BaseModel):
    token: str = Field(max_length=128, pattern=r"^[A-Za-z0-9_-]+$")


class PasswordResetIn(BaseModel):
    login: str = Field(max_length=254, pattern=STORABLE, description="a handle or an address")


class PasswordResetConfirmIn(BaseModel):
    token: str = Field(max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    new_password: str = Field(min_length=10, max_length=1024, pattern=STORABLE)


class PasswordIn(BaseModel):
    current_password: str = Field(max_length=1024, pattern=STORABLE)
    new_password: str = Field(min_length=10, max_length=1024, pattern=STORABLE)


DELETED_NAME = "Deleted user"


# Where an avatar is served (app.api.avatars): the random id in it changes with the
# avatar, so the URL can be cached for good, and only those shown the user learn it.
AVATAR_PATH = "/api/v1/avatars/{user_id}/{avatar_id}"


def avatar_url(user_id: str, avatar_id: str | None) -> str | None:
    return None if avatar_id is None else AVATAR_PATH.format(user_id=user_id, avatar_id=avatar_id)


# A bio: plain text, line breaks allowed, no other control character (C0, DEL, C1),
# no bidirectional override or isolate (which could make it read as something else).
BIO_MAX = 280
BIO = r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*$"
Bio = Annotated[
    str,
    StringConstraints(max_length=BIO_MAX, pattern=BIO),
    AfterValidator(lambda v: v.strip(_SPACE)),
]


class UserOut(Out):
    """A person as others see them; a deleted account has no handle, name, bio or avatar."""

    id: str
    handle: str | None = Field(description="null once the account is deleted")
    display_name: str = Field(description='"Deleted user" once the account is deleted')
    created_at: Timestamp
    deleted: bool = Field(default=False, description="the account was deleted")
    bio: str = Field(default="", description='a short plain-text bio ("" for none)')
    avatar_url: str | None = Field(
        default=None,
        description="the avatar (256 px square WebP); a new avatar has a new URL; null: none",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_user(cls, data: Any) -> Any:
        if getattr(data, "deleted_at", None) is not None:
            return {
                "id": data.id,
                "handle": None,
                "display_name": DELETED_NAME,
                "created_at": data.created_at,
                "deleted": True,
            }
        if not isinstance(data, dict) and hasattr(data, "avatar_id"):  # a users row
            values = {name: getattr(data, name) for name in cls.model_fields if hasattr(data, name)}
            values["avatar_url"] = avatar_url(data.id, data.avatar_id)
            return values
        return data


class AuthOut(Out):
    user: UserOut
    token: str


WhoCanAddMe = Literal["shared_group", "anyone"]


ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


TimeZone = Annotated[
    str,
    StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_+/-]+$"),
    AfterValidator(_known_zone),
    Field(description="an IANA zone: America/Chicago"),
]
Digest = Literal["off", "daily", "weekly"]


class QuietHours(BaseModel):
    """No pushes from `start` to `end` (local times, HH:MM) in `time_zone`, except live
    memos when `allow_live`; an interval that passes midnight (22:00 to 07:00) is fine.
    In a PATCH, `time_zone` may be left out: the account's `timezone` (else UTC)."""

    start: ClockTime
    end: ClockTime
    time_zone: TimeZone | None = None
    allow_live: StrictBool = False

    @model_validator(mode="after")
    def _check(self) -> "QuietHours":
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class MeOut(UserOut):
    """The caller's own account: what everyone sees, and the caller's own settings."""

    who_can_add_me: WhoCanAddMe = Field(
        description="who may add you to a group directly: someone who already shares a group "
        "with you (default), or anyone"
    )
    notification_previews: bool = Field(
        default=False, description="message text and transcripts in pushes and the podcast feed"
    )
    quiet_hours: QuietHours | None = None
    email: str | None = Field(default=None, description="your address, if you gave one")
    email_verified: bool = Field(
        default=False, description="whether you opened the link mailed to `email`"
    )
    has_password: bool = Field(
        default=True, description="false: an account made through SSO, which signs in there only"
    )
    is_admin: bool = Field(
        default=False, description="an instance admin (may use /api/v1/admin; shown to you only)"
    )
    digest: Digest = Field(
        default="off",
        description="the catch-up email of what you have not heard: off, daily or weekly",
    )
    timezone: str | None = Field(
        default=None, description="your IANA time zone (digest mornings, quiet hours); null: UTC"
    )


class DeleteMeIn(BaseModel):
    password: str = Field(max_length=1024, pattern=STORABLE, description="your current password")


class ExportOut(Out):
    """The caller's data export: being made, ready to download, or failed."""

    status: Literal["pending", "ready", "failed"]
    created_at: Timestamp
    finished_at: Timestamp | None = None
    expires_at: Timestamp | None = Field(
        default=None, description="when a ready zip is deleted (download it before)"
    )
    size_bytes: int | None = None
    error: str | None = None


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 at +01:00 is before the calendar begins
        raise ValueError("a time the calendar can hold") from None


# A moment with its zone offset, stored as UTC.
UtcMoment = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class GroupExportIn(BaseModel):
    """A group export's range: the messages sent from `from` (inclusive) to `to` (exclusive)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: UtcMoment = Field(alias="from")
    to: UtcMoment


class GroupExportOut(ExportOut):
    """The group's latest export by its owner."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    from_: Timestamp = Field(alias="from")
    to: Timestamp


class MePatch(BaseModel):
    display_name: Name | None = None
    bio: Bio | None = Field(
        default=None,
        description=f'plain text, at most {BIO_MAX} characters, line breaks allowed; "" removes it',
    )
    email: Email | None = Field(
        default=None,
        description="a new address is unverified and mailed a link; an explicit null removes it",
    )
    who_can_add_me: WhoCanAddMe | None = None
    notification_previews: StrictBool | None = None
    quiet_hours: QuietHours | None = Field(
        default=None, description="an explicit null turns quiet hours off; left out: unchanged"
    )
    digest: Digest | None = None
    timezone: TimeZone | None = Field(
        default=None, description="your IANA zone; quiet hours move to it; explicit null: UTC"
    )


class BlockIn(BaseModel):
    user_id: str = Field(max_length=36, pattern=STORABLE)


class BlockOut(Out):
    user: UserOut
    created_at: Timestamp


class BlocksOut(Out):
    blocks: list[BlockOut]


# Groups, members, invites


class GroupCreate(BaseModel):
    name: Name
    description: str = Field(default="", max_length=1000, pattern=STORABLE)
    client_id: ClientId | None = None


RetentionDays = Annotated[int, Field(ge=1, le=3650)]
MAX_NORMS_CHARS = 2000
# Who may take a copy of a group: nobody, or its owner (POST /groups/{gid}/export).
ExportPolicy = Literal["nobody", "owner"]


class GroupPatch(BaseModel):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=1000, pattern=STORABLE)
    # Beyond the contract: delete messages older than this many days; null keeps them all.
    retention_days: RetentionDays | None = None
    # Beyond the contract: transcribe this group's new voice memos (off for privacy).
    transcripts: bool | None = None
    norms: str | None = Field(
        default=None,
        max_length=MAX_NORMS_CHARS,
        pattern=STORABLE,
        description="the group's own agreement, plain text; an empty string removes it",
    )
    export_policy: ExportPolicy | None = Field(
        default=None, description="who may export the group; only the owner may change it"
    )


class MemberAdd(BaseModel):
    handle: Handle
    role: Literal["member", "moderator"] = "member"
    client_id: ClientId | None = None


class MemberPatch(BaseModel):
    role: Role


class InviteCreate(BaseModel):
    max_uses: int | None = Field(default=None, ge=1, le=10_000)
    expires_in_s: int | None = Field(default=None, ge=60, le=90 * 24 * 3600)
    client_id: ClientId | None = None


class MemberOut(Out):
    user: UserOut
    role: Role
    joined_at: Timestamp
    group_id: str  # beyond the contract: tells an invite's acceptor which group they joined


class MembersOut(Out):
    members: list[MemberOut]


InviteStatus = Literal["active", "expired", "used_up", "creator_not_moderator", "revoked"]


class InviteOut(Out):
    code: str
    group_id: str
    expires_at: Timestamp | None
    max_uses: int | None
    uses: int
    created_at: Timestamp
    creator: UserOut | None = None  # None once the creator's account is gone
    status: InviteStatus = Field(
        description="whether accepting it works now; an invite stops working when its "
        "creator is no longer a moderator or owner of the group"
    )


class InvitesOut(Out):
    invites: list[InviteOut]
    has_more: bool


class BanIn(BaseModel):
    user_id: str = Field(max_length=36, pattern=STORABLE)
    reason: str | None = Field(default=None, max_length=500, pattern=STORABLE)


class BanOut(Out):
    group_id: str
    user: UserOut
    banned_by: UserOut | None = None
    reason: str | None = None
    created_at: Timestamp


class BansOut(Out):
    bans: list[BanOut]


# Messages


class TextCreate(BaseModel):
    text: str = Field(min_length=1, max_length=4000, pattern=STORABLE)
    reply_to: str | None = Field(default=None, max_length=36, pattern=STORABLE)
    reply_to_offset_ms: StrictInt | None = Field(
        default=None, ge=0, le=2**31 - 1, description="the moment of the voice memo answered"
    )
    client_id: ClientId | None = None


class TextEdit(BaseModel):
    text: str = Field(min_length=1, max_length=4000, pattern=STORABLE)


class PositionIn(BaseModel):
    position_ms: StrictInt = Field(ge=0, le=2**31 - 1, description="at most the memo's length")


class PositionOut(Out):
    message_id: str
    position_ms: int
    updated_at: Timestamp


class ListenedIn(BaseModel):
    position_ms: int | None = Field(default=None, ge=0, le=2**31 - 1)


class TranscriptOut(Out):
    """Speech-to-text of a memo, made on the server; `off` when the group or server has it off."""

    status: Literal["pending", "ready", "failed", "off"]
    text: str | None = None
    language: str | None = None


class VoiceOut(Out):
    status: Literal["live", "processing", "ready", "failed"]
    duration_ms: int | None = None
    waveform: list[int] | None = None
    # Spans of silence the player may skip, once ready: [[start_ms, end_ms], ...] in order.
    silences: list[list[int]] | None = None
    mime: str | None = None
    size_bytes: int | None = None
    audio_url: str | None = None
    error: str | None = None
    listened_by_me: bool = False
    listen_count: int = 0
    transcript: TranscriptOut | None = None  # beyond the contract; once the memo is ready


class ReactionOut(Out):
    emoji: str
    count: int
    me: bool


class MessageOut(Out):
    id: str
    group_id: str
    seq: int
    sender: UserOut
    kind: Literal["text", "voice"]
    text: str | None = None
    reply_to: str | None = None
    reply_to_offset_ms: int | None = None
    # Threads: a reply's root; on a root, its replies (not deleted) and the newest one's
    # time as of now, and how many of its voice replies the viewer has not heard (0 in
    # event payloads).
    thread_root_id: str | None = None
    reply_count: int = 0
    last_reply_at: Timestamp | None = None
    thread_unheard_count: int = 0
    client_id: str | None = None
    created_at: Timestamp
    edited_at: Timestamp | None = None
    deleted: bool
    # A tombstone of a voice memo deleted while it was still live (a cancelled
    # recording): never a finished message, so clients show nothing for it.
    withdrawn: bool = False
    voice: VoiceOut | None = None
    reactions: list[ReactionOut] = []
    bookmarked: bool = False  # by the viewer; never set in event payloads
    # The viewer's listening position in a voice memo; never set in event payloads.
    my_position_ms: int | None = None
    # Beyond the contract: the viewer blocked the sender (never set in event payloads,
    # which are the same for every member; clients apply GET /me/blocks to those).
    sender_blocked: bool = False


class MessagesPage(Out):
    messages: list[MessageOut]
    has_more: bool


class ThreadPage(Out):
    root: MessageOut
    replies: list[MessageOut]
    has_more: bool


class BookmarkIn(BaseModel):
    note: str | None = Field(default=None, max_length=1000, pattern=STORABLE)
    offset_ms: int | None = Field(
        default=None, ge=0, le=2_147_483_647, description="a place in a voice memo"
    )


class BookmarkOut(Out):
    message: MessageOut
    note: str | None = None
    offset_ms: int | None = None
    created_at: Timestamp


class BookmarksPage(Out):
    bookmarks: list[BookmarkOut]
    has_more: bool


class GroupInfo(Out):
    """A group as every member sees it (the payload of group events)."""

    id: str
    name: str
    description: str
    created_at: Timestamp
    member_count: int
    last_seq: int
    retention_days: int | None = None
    transcripts: bool = True
    norms: str = ""
    export_policy: ExportPolicy = "nobody"
    pinned: list[str] = Field(
        default_factory=list, description="ids of the pinned messages, in pin order (at most 5)"
    )


class GroupOut(GroupInfo):
    role: Role
    unheard_count: int
    last_message: MessageOut | None = None


class GroupsOut(Out):
    groups: list[GroupOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page"
    )


class ReceiptOut(Out):
    message_id: str
    user_id: str
    listened_at: Timestamp


class ListenerOut(Out):
    user: UserOut
    listened_at: Timestamp


class ReceiptsOut(Out):
    receipts: list[ListenerOut]


class UnheardPage(Out):
    message_ids: list[str]
    has_more: bool


class UnheardItem(Out):
    message_id: str
    group_id: str
    created_at: Timestamp


class CatchUpPage(Out):
    items: list[UnheardItem]
    has_more: bool


class EventOut(Out):
    type: str
    group_id: str
    seq: int
    data: dict[str, Any]


class EventsPage(Out):
    events: list[EventOut]
    has_more: bool


class ModerationEntryOut(Out):
    """A line of the moderation log; `seq` is that of its `moderation.logged` event."""

    seq: int
    group_id: str
    action: Literal[
        "member.removed",
        "member.banned",
        "member.unbanned",
        "member.role_changed",
        "message.deleted",
        "invite.revoked",
        "group.retention_changed",
        "group.transcripts_changed",
        "group.norms_changed",
        "group.export_policy_changed",
        "report.resolved",
    ]
    actor: UserOut | None = None
    target: UserOut | None = None
    message_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    created_at: Timestamp


class ModerationLogPage(Out):
    entries: list[ModerationEntryOut]
    has_more: bool


class ErrorBody(Out):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorOut(Out):
    error: ErrorBody
