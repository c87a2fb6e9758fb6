"""Turn rows into the contract's shapes, batching the per-viewer counts in a few queries."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select

from app.kinds import VoiceStatus
from app.models import (
    Block,
    Bookmark,
    Group,
    Invite,
    ListeningPosition,
    Membership,
    Message,
    Pin,
    Reaction,
    Receipt,
    User,
)
from app.schemas import (
    GroupInfo,
    GroupOut,
    InviteOut,
    MemberOut,
    MessageOut,
    ReactionOut,
    TranscriptOut,
    UserOut,
    VoiceOut,
)
from app.services import signing, unheard
from app.services.context import Ctx


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user)


def member_out(membership: Membership) -> MemberOut:
    return MemberOut(
        user=user_out(membership.user),
        role=membership.role,
        joined_at=membership.joined_at,
        group_id=membership.group_id,
    )


def invite_out(invite: Invite, status: str) -> InviteOut:
    return InviteOut(
        code=invite.code,
        group_id=invite.group_id,
        expires_at=invite.expires_at,
        max_uses=invite.max_uses,
        uses=invite.uses,
        created_at=invite.created_at,
        creator=user_out(invite.creator) if invite.creator else None,
        status=status,
    )


def _transcript_out(message: Message) -> TranscriptOut | None:
    if message.transcript_status is None:
        return None
    return TranscriptOut(
        status=message.transcript_status,
        text=message.transcript_text,
        language=message.transcript_language,
    )


def _message_out(
    ctx: Ctx,
    message: Message,
    listened_by_me: bool,
    listen_count: int,
    sender_blocked: bool,
    reactions: list[ReactionOut],
    bookmarked: bool,
    my_position_ms: int | None,
    thread: "ThreadStats",
) -> MessageOut:
    voice = None
    if message.kind == "voice" and message.voice_status:
        url = None
        if message.voice_status == VoiceStatus.READY:
            s = ctx.settings
            url = signing.audio_url(s.resolved_secret, message.id, s.audio_url_ttl_s)
        voice = VoiceOut(
            status=message.voice_status,
            duration_ms=message.duration_ms,
            waveform=message.waveform,
            silences=message.silences if message.voice_status == VoiceStatus.READY else None,
            mime=message.mime,
            size_bytes=message.size_bytes,
            error=message.voice_error,
            audio_url=url,
            listened_by_me=listened_by_me,
            listen_count=listen_count,
            transcript=_transcript_out(message),
        )
    return MessageOut(
        id=message.id,
        group_id=message.group_id,
        seq=message.seq,
        sender=user_out(message.sender),
        kind=message.kind,
        text=None if message.deleted_at else message.text,
        reply_to=message.reply_to_id,
        reply_to_offset_ms=message.reply_to_offset_ms,
        thread_root_id=message.thread_root_id,
        reply_count=thread.replies,
        last_reply_at=thread.last_reply_at,
        thread_unheard_count=thread.unheard_count,
        client_id=message.client_id,
        created_at=message.created_at,
        edited_at=message.edited_at,
        deleted=message.deleted_at is not None,
        # A live memo's status stays `live` once deleted (finish_live skips a tombstone).
        withdrawn=message.deleted_at is not None and message.voice_status == VoiceStatus.LIVE,
        # (the same condition as WITHDRAWN, on a loaded row)
        voice=None if message.deleted_at else voice,
        reactions=reactions,
        bookmarked=bookmarked,
        my_position_ms=my_position_ms,
        sender_blocked=sender_blocked,
    )


async def _held_by(
    ctx: Ctx, viewer_id: str, owner: Any, item: Any, ids: Collection[str]
) -> set[str]:
    """Which of `ids` (values of the column `item`) the viewer has a row of, the rows
    whose `owner` column is the viewer (a block, a bookmark, a receipt): one query."""
    if not viewer_id or not ids:
        return set()
    return set(await ctx.db.scalars(select(item).where(owner == viewer_id, item.in_(ids))))


async def blocked_among(ctx: Ctx, viewer_id: str, user_ids: set[str]) -> set[str]:
    """Which of `user_ids` the viewer has blocked."""
    return await _held_by(ctx, viewer_id, Block.user_id, Block.blocked_id, user_ids)


async def reactions_of(
    ctx: Ctx, viewer_id: str, message_ids: list[str]
) -> dict[str, list[ReactionOut]]:
    """Each message's reactions in two queries, in the order each emoji first came."""
    if not message_ids:
        return {}
    rows = await ctx.db.execute(
        select(Reaction.message_id, Reaction.emoji, func.count(), func.min(Reaction.created_at))
        .where(Reaction.message_id.in_(message_ids))
        .group_by(Reaction.message_id, Reaction.emoji)
    )
    mine: set[tuple[str, str]] = set()
    if viewer_id:
        mine = set(
            (
                await ctx.db.execute(
                    select(Reaction.message_id, Reaction.emoji).where(
                        Reaction.message_id.in_(message_ids), Reaction.user_id == viewer_id
                    )
                )
            ).all()
        )
    found: dict[str, list[tuple[datetime, str, int]]] = {}
    for mid, emoji, count, first in rows.all():
        found.setdefault(mid, []).append((first, emoji, count))
    return {
        mid: [ReactionOut(emoji=e, count=n, me=(mid, e) in mine) for _, e, n in sorted(each)]
        for mid, each in found.items()
    }


# A recording cancelled while live (deleted before it ended): never sent, so clients hide
# it, and it is no group's latest message.
# (`kind` first: a text's voice_status is NULL, which NOT would turn into no row at all)
WITHDRAWN = and_(
    Message.kind == "voice",
    Message.deleted_at.is_not(None),
    Message.voice_status == VoiceStatus.LIVE,
)


@dataclass(frozen=True)
class ThreadStats:
    replies: int = 0
    last_reply_at: datetime | None = None
    unheard_count: int = 0


NO_THREAD = ThreadStats()


async def thread_stats(ctx: Ctx, viewer_id: str, message_ids: list[str]) -> dict[str, ThreadStats]:
    """For each of these messages that has replies: how many (not deleted), the newest's
    time, and how many voice replies the viewer has not heard. Two grouped queries."""
    if not message_ids:
        return {}
    in_threads = and_(Message.thread_root_id.in_(message_ids), Message.deleted_at.is_(None))
    rows = await ctx.db.execute(
        select(Message.thread_root_id, func.count(), func.max(Message.created_at))
        .where(in_threads)
        .group_by(Message.thread_root_id)
    )
    counts: dict[str, tuple[int, datetime]] = {str(r): (n, last) for r, n, last in rows.all()}
    unheard_in: dict[str, int] = {}
    if viewer_id and counts:
        unheard_rows = await ctx.db.execute(
            select(Message.thread_root_id, func.count())
            .where(Message.thread_root_id.in_(list(counts)), unheard.unheard_by(viewer_id))
            .group_by(Message.thread_root_id)
        )
        unheard_in = {str(root): n for root, n in unheard_rows.all()}
    return {
        root: ThreadStats(n, last, unheard_in.get(root, 0)) for root, (n, last) in counts.items()
    }


async def message_outs(ctx: Ctx, viewer_id: str, messages: Sequence[Message]) -> list[MessageOut]:
    """Messages as `viewer_id` sees them (their own listened flag, senders they blocked,
    their reactions and bookmarks), in a fixed number of queries however many there are."""
    voice_ids = [m.id for m in messages if m.kind == "voice"]
    counts: dict[str, int] = {}
    mine: set[str] = set()
    positions: dict[str, int] = {}
    if voice_ids and viewer_id:
        rows = await ctx.db.execute(
            select(ListeningPosition.message_id, ListeningPosition.position_ms).where(
                ListeningPosition.user_id == viewer_id,
                ListeningPosition.message_id.in_(voice_ids),
            )
        )
        positions = {mid: ms for mid, ms in rows.all()}
    if voice_ids:
        rows = await ctx.db.execute(
            select(Receipt.message_id, func.count())
            .where(Receipt.message_id.in_(voice_ids))
            .group_by(Receipt.message_id)
        )
        counts = {mid: n for mid, n in rows.all()}
        mine = await _held_by(ctx, viewer_id, Receipt.user_id, Receipt.message_id, voice_ids)
    blocked = await blocked_among(ctx, viewer_id, {m.sender_id for m in messages})
    ids = [m.id for m in messages]
    reactions = await reactions_of(ctx, viewer_id, ids)
    threads = await thread_stats(ctx, viewer_id, [m.id for m in messages if not m.thread_root_id])
    bookmarked = await _held_by(ctx, viewer_id, Bookmark.user_id, Bookmark.message_id, ids)
    return [
        _message_out(
            ctx,
            m,
            m.id in mine,
            counts.get(m.id, 0),
            m.sender_id in blocked,
            reactions.get(m.id, []),
            m.id in bookmarked,
            positions.get(m.id),
            threads.get(m.id, NO_THREAD),
        )
        for m in messages
    ]


async def message_out(ctx: Ctx, viewer_id: str, message: Message) -> MessageOut:
    return (await message_outs(ctx, viewer_id, [message]))[0]


async def message_payload(ctx: Ctx, message: Message) -> dict[str, Any]:
    """A message as carried by events: the same for every member, so no `listened_by_me`."""
    out = (await message_outs(ctx, "", [message]))[0]
    return out.model_dump(mode="json")


async def member_count(ctx: Ctx, group_id: str) -> int:
    return (
        await ctx.db.scalar(
            select(func.count()).select_from(Membership).where(Membership.group_id == group_id)
        )
        or 0
    )


async def group_payload(ctx: Ctx, group: Group) -> dict[str, Any]:
    info = GroupInfo(
        id=group.id,
        name=group.name,
        description=group.description,
        created_at=group.created_at,
        member_count=await member_count(ctx, group.id),
        last_seq=group.last_seq,
        retention_days=group.retention_days,
        transcripts=group.transcripts,
        norms=group.norms,
        export_policy=group.export_policy,
        pinned=(await pinned_ids(ctx, [group.id])).get(group.id, []),
    )
    return info.model_dump(mode="json")


async def pinned_ids(ctx: Ctx, group_ids: Sequence[str]) -> dict[str, list[str]]:
    """The pinned message ids of each group, in pin order."""
    pinned: dict[str, list[str]] = {}
    rows = await ctx.db.execute(
        select(Pin.group_id, Pin.message_id)
        .where(Pin.group_id.in_(group_ids))
        .order_by(Pin.group_id, Pin.position)
    )
    for group_id, message_id in rows:
        pinned.setdefault(group_id, []).append(message_id)
    return pinned


async def group_outs(
    ctx: Ctx, viewer_id: str, groups: Sequence[tuple[Group, str]]
) -> list[GroupOut]:
    """Groups with the viewer's role, unheard count and the latest message."""
    ids = [g.id for g, _ in groups]
    if not ids:
        return []
    member_counts = dict(
        (
            await ctx.db.execute(
                select(Membership.group_id, func.count())
                .where(Membership.group_id.in_(ids))
                .group_by(Membership.group_id)
            )
        ).all()
    )
    unheard_counts = dict(
        (
            await ctx.db.execute(
                select(Message.group_id, func.count())
                .where(Message.group_id.in_(ids), unheard.unheard_by(viewer_id))
                .group_by(Message.group_id)
            )
        ).all()
    )
    newest = (
        select(Message.group_id, func.max(Message.seq).label("seq"))
        .where(Message.group_id.in_(ids), ~WITHDRAWN)
        .group_by(Message.group_id)
        .subquery()
    )
    latest = list(
        await ctx.db.scalars(
            select(Message).join(
                newest, and_(Message.group_id == newest.c.group_id, Message.seq == newest.c.seq)
            )
        )
    )
    latest_out = {m.group_id: m for m in await message_outs(ctx, viewer_id, latest)}
    pinned = await pinned_ids(ctx, ids)
    return [
        GroupOut(
            id=g.id,
            name=g.name,
            description=g.description,
            created_at=g.created_at,
            member_count=member_counts.get(g.id, 0),
            last_seq=g.last_seq,
            retention_days=g.retention_days,
            transcripts=g.transcripts,
            norms=g.norms,
            export_policy=g.export_policy,
            pinned=pinned.get(g.id, []),
            role=role,
            unheard_count=unheard_counts.get(g.id, 0),
            last_message=latest_out.get(g.id),
        )
        for g, role in groups
    ]


async def group_out(ctx: Ctx, viewer_id: str, group: Group, role: str) -> GroupOut:
    return (await group_outs(ctx, viewer_id, [(group, role)]))[0]
