"""Who is told about a new message, by their own rules.

Per group, a member's level: "all" (default), "replies" (only replies to their own
messages) or "none". Per person: quiet hours in their time zone, when nothing is
pushed except live memos if they asked for those; and `notification_previews`
(off by default, because memos name students): only then does a push or the
podcast feed carry a message's text or transcript. Someone never hears of the
messages of a person they blocked.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Block, Membership, Message, User
from app.schemas import QuietHours
from app.schemas.notifications import NotificationsOut
from app.services.context import Ctx
from app.services.groups import require_role


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def quiet_hours_out(user: User) -> QuietHours | None:
    if user.quiet_start is None or user.quiet_end is None or not user.quiet_time_zone:
        return None
    return QuietHours(
        start=_clock(user.quiet_start),
        end=_clock(user.quiet_end),
        time_zone=user.quiet_time_zone,
        allow_live=user.quiet_allow_live,
    )


def preference_columns(user: User, changes: dict[str, Any]) -> dict[str, Any]:
    """User column values for the preferences in a PATCH /me body (fields sent only).

    A person has one time zone (`timezone`, None: UTC): quiet hours sent without a
    `time_zone` take it, and a new `timezone` moves the quiet hours to it."""
    values: dict[str, Any] = {}
    if changes.get("notification_previews") is not None:
        values["notification_previews"] = changes["notification_previews"]
    zone = changes["timezone"] if "timezone" in changes else user.timezone
    if "timezone" in changes:
        values["timezone"] = zone
        if user.quiet_start is not None:
            values["quiet_time_zone"] = zone or "UTC"
    if "quiet_hours" in changes:
        quiet = changes["quiet_hours"]
        values.update(
            quiet_start=_minutes(quiet["start"]) if quiet else None,
            quiet_end=_minutes(quiet["end"]) if quiet else None,
            quiet_time_zone=(quiet.get("time_zone") or zone or "UTC") if quiet else None,
            quiet_allow_live=bool(quiet and quiet.get("allow_live")),
        )
    return values


def in_quiet_hours(user: User, now: datetime) -> bool:
    if user.quiet_start is None or user.quiet_end is None or not user.quiet_time_zone:
        return False
    local = now.astimezone(ZoneInfo(user.quiet_time_zone))
    minute = local.hour * 60 + local.minute
    start, end = user.quiet_start, user.quiet_end
    return start <= minute < end if start < end else minute >= start or minute < end


async def set_level(ctx: Ctx, user: User, group_id: str, level: str) -> NotificationsOut:
    await require_role(ctx, group_id, user.id)
    await ctx.db.execute(
        update(Membership)
        .where(Membership.group_id == group_id, Membership.user_id == user.id)
        .values(notify=level)
    )
    await ctx.commit()
    return NotificationsOut(level=level)


async def get_level(ctx: Ctx, user: User, group_id: str) -> NotificationsOut:
    membership = await require_role(ctx, group_id, user.id)
    return NotificationsOut(level=membership.notify)


@dataclass
class Recipient:
    user_id: str
    reason: str  # "message", "reply" (to them) or "live"


async def recipients(
    db: AsyncSession, message: Message, live: bool, now: datetime
) -> list[Recipient]:
    """The members to push `message` to now: not its sender, nobody who blocked the
    sender, each by their level and quiet hours."""
    replied_to = None
    if message.reply_to_id:
        replied_to = await db.scalar(
            select(Message.sender_id).where(
                Message.id == message.reply_to_id, Message.deleted_at.is_(None)
            )
        )
    blocked = and_(Block.user_id == Membership.user_id, Block.blocked_id == message.sender_id)
    rows = (
        await db.execute(
            select(Membership.notify, User)
            .join(User, User.id == Membership.user_id)
            .outerjoin(Block, blocked)
            .where(
                Membership.group_id == message.group_id,
                Membership.user_id != message.sender_id,
                Membership.notify != "none",
                Block.user_id.is_(None),
            )
        )
    ).all()
    out = []
    for level, user in rows:
        reply = user.id == replied_to
        if level == "replies" and not reply:
            continue
        if in_quiet_hours(user, now) and not (live and user.quiet_allow_live):
            continue
        out.append(Recipient(user.id, "live" if live else "reply" if reply else "message"))
    return out
