"""Bookmarks: messages a person keeps for later, with a note and, in a voice memo, a
place. Private: no events, nobody else sees them.

A bookmark is listed only while its message exists and its owner is a member of the
message's group: leaving the group hides it (it is back on rejoining), deleting the
message erases it with the message (`app.services.erasure`), notes included.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select

from app.errors import Conflict, Invalid, message_not_found
from app.models import Bookmark, Group, Membership, Message, User, utcnow
from app.schemas import BookmarkOut
from app.services import views
from app.services.context import Ctx
from app.services.messages import load_message

MAX_BOOKMARKS = 1000  # per person: bounds the list and the Markdown export


async def set_bookmark(
    ctx: Ctx, user: User, message_id: str, *, note: str | None, offset_ms: int | None
) -> BookmarkOut:
    """Bookmark a message, or change the note and place of one's bookmark of it."""
    message, _ = await load_message(ctx, user, message_id)
    if message.deleted_at is not None:
        raise Conflict("That message has been deleted.", code="message_deleted")
    if offset_ms is not None and (
        message.kind != "voice" or offset_ms > (message.duration_ms or 0)
    ):
        raise Invalid(
            "A place must lie within the voice memo's length.",
            details={"field": "offset_ms"},
        )
    key = (user.id, message_id)
    bookmark = await ctx.db.get(Bookmark, key)
    if bookmark is None:
        count = await ctx.db.scalar(
            select(func.count()).select_from(Bookmark).where(Bookmark.user_id == user.id)
        )
        if (count or 0) >= MAX_BOOKMARKS:
            raise Conflict(
                f"You have {MAX_BOOKMARKS} bookmarks already; remove some first.",
                code="too_many_bookmarks",
                details={"max": MAX_BOOKMARKS},
            )
        bookmark = Bookmark(user_id=user.id, message_id=message_id, created_at=utcnow())
        # A concurrent repeat that stored it first wins; this one updates that row.
        bookmark = (
            await ctx.add_unless_raced(bookmark, lambda: ctx.db.get(Bookmark, key)) or bookmark
        )
        reloaded = await ctx.db.get(Message, message_id)  # after such a race's rollback
        if reloaded is None:
            raise message_not_found()
        message = reloaded
    bookmark.note = note
    bookmark.offset_ms = offset_ms
    await ctx.db.flush()
    out = BookmarkOut(
        message=await views.message_out(ctx, user.id, message),
        note=bookmark.note,
        offset_ms=bookmark.offset_ms,
        created_at=bookmark.created_at,
    )
    await ctx.commit()
    return out


async def remove_bookmark(ctx: Ctx, user: User, message_id: str) -> None:
    """Forget a bookmark; not having one changes nothing."""
    await load_message(ctx, user, message_id)
    await ctx.db.execute(
        delete(Bookmark).where(Bookmark.user_id == user.id, Bookmark.message_id == message_id)
    )
    await ctx.commit()


def _visible(user: User):  # type: ignore[no-untyped-def]
    """The caller's bookmarks of messages in groups they are still a member of."""
    return (
        select(Bookmark, Message)
        .join(Message, Message.id == Bookmark.message_id)
        .join(
            Membership,
            and_(Membership.group_id == Message.group_id, Membership.user_id == user.id),
        )
        .where(Bookmark.user_id == user.id)
        .order_by(Bookmark.created_at.desc(), Bookmark.message_id.desc())
    )


async def _outs(
    ctx: Ctx, user: User, rows: Sequence[tuple[Bookmark, Message]]
) -> list[BookmarkOut]:
    messages = await views.message_outs(ctx, user.id, [m for _, m in rows])
    return [
        BookmarkOut(message=out, note=b.note, offset_ms=b.offset_ms, created_at=b.created_at)
        for (b, _), out in zip(rows, messages, strict=True)
    ]


async def list_bookmarks(
    ctx: Ctx, user: User, *, before: str | None, limit: int
) -> tuple[list[BookmarkOut], bool]:
    """Newest first; `before` is the message id of the previous page's last bookmark."""
    query = _visible(user)
    if before is not None:
        cursor = await ctx.db.get(Bookmark, (user.id, before))
        if cursor is None:
            raise Invalid(
                "`before` is not one of your bookmarks.",
                code="invalid_cursor",
                details={"field": "before"},
            )
        query = query.where(
            or_(
                Bookmark.created_at < cursor.created_at,
                and_(Bookmark.created_at == cursor.created_at, Bookmark.message_id < before),
            )
        )
    rows = [(b, m) for b, m in (await ctx.db.execute(query.limit(limit + 1))).all()]
    return await _outs(ctx, user, rows[:limit]), len(rows) > limit


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


async def markdown(ctx: Ctx, user: User) -> str:
    """Every bookmark (at most `MAX_BOOKMARKS`), newest first, as a Markdown document:
    the group, who said it and when, the text or transcript quoted, the note."""
    rows = (
        await ctx.db.execute(
            _visible(user).add_columns(Group.name).join(Group, Group.id == Message.group_id)
        )
    ).all()
    parts = ["# My Earshot bookmarks", ""]
    for bookmark, message, group_name in rows:
        parts.append(
            f"## {_one_line(group_name)}: {_one_line(message.sender.display_name)},"
            f" {_when(message.created_at)}"
        )
        parts.append("")
        if message.kind == "voice":
            length = f", {_clock(message.duration_ms)}" if message.duration_ms else ""
            at = f", from {_clock(bookmark.offset_ms)}" if bookmark.offset_ms is not None else ""
            parts.append(f"Voice memo{length}{at}.")
            parts.append("")
        words = message.text if message.kind == "text" else message.transcript_text
        if words:
            parts += [_quote(words), ""]
        if bookmark.note:
            parts += [f"Note: {bookmark.note.strip()}", ""]
    if not rows:
        parts += ["No bookmarks yet.", ""]
    return "\n".join(parts)
