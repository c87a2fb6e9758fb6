"""Pinned messages: up to `MAX_PINS` per group, shown at its top in pin order.

Moderators and the owner pin and unpin; each change locks the group row, changes
the `pins` rows and emits `pin.added` or `pin.removed` carrying the whole new list
(`pinned`), in one transaction. Pinning a pinned message and unpinning one that is
not pinned change nothing and announce nothing, so a retried request is harmless.
A message that is erased leaves the list the same way (`drop`, called by
`app.services.erasure`); a deleted group takes its pins with it.
"""

from sqlalchemy import delete, func, select

from app.errors import Conflict, message_not_found
from app.kinds import EventType
from app.models import Message, Pin, User, utcnow
from app.schemas import GroupOut
from app.services import views
from app.services.context import Ctx
from app.services.groups import load_group, require_role

MAX_PINS = 5


async def _announce(ctx: Ctx, group_id: str, message_id: str, type_: str) -> None:
    pinned = (await views.pinned_ids(ctx, [group_id])).get(group_id, [])
    data = {"group_id": group_id, "message_id": message_id, "pinned": pinned}
    await ctx.emit(group_id, type_, data)


async def pin(ctx: Ctx, user: User, group_id: str, message_id: str) -> GroupOut:
    """Pin a message of the group (moderators); 409 `too_many_pins` past `MAX_PINS`."""
    membership = await require_role(ctx, group_id, user.id, "moderator", lock=True)
    message = await ctx.db.get(Message, message_id, populate_existing=True)
    if message is None or message.group_id != group_id or message.deleted_at is not None:
        raise message_not_found()
    if await ctx.db.get(Pin, (group_id, message_id)) is None:
        count, last = (
            await ctx.db.execute(
                select(func.count(), func.max(Pin.position)).where(Pin.group_id == group_id)
            )
        ).one()
        if count >= MAX_PINS:
            raise Conflict(
                f"A group has at most {MAX_PINS} pinned messages: unpin one first.",
                code="too_many_pins",
                details={"max": MAX_PINS},
            )
        ctx.db.add(
            Pin(
                group_id=group_id,
                message_id=message_id,
                position=(last or 0) + 1,
                pinned_by=user.id,
                pinned_at=utcnow(),
            )
        )
        await ctx.db.flush()
        await _announce(ctx, group_id, message_id, EventType.PIN_ADDED)
    out = await views.group_out(ctx, user.id, await load_group(ctx, group_id), membership.role)
    await ctx.commit()
    return out


async def unpin(ctx: Ctx, user: User, group_id: str, message_id: str) -> GroupOut:
    """Unpin a message of the group (moderators); unpinning one not pinned is a no-op."""
    membership = await require_role(ctx, group_id, user.id, "moderator", lock=True)
    in_group = await ctx.db.scalar(
        select(Message.id).where(Message.id == message_id, Message.group_id == group_id)
    )
    if in_group is None:
        raise message_not_found()
    await drop(ctx, group_id, message_id)
    out = await views.group_out(ctx, user.id, await load_group(ctx, group_id), membership.role)
    await ctx.commit()
    return out


async def drop(ctx: Ctx, group_id: str, message_id: str) -> None:
    """Take `message_id` off the group's pins and announce it, if it was pinned (the
    caller holds the group row and commits)."""
    removed = await ctx.db.execute(
        delete(Pin).where(Pin.group_id == group_id, Pin.message_id == message_id)
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        await _announce(ctx, group_id, message_id, EventType.PIN_REMOVED)
