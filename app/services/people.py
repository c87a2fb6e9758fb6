"""What a person controls about others reaching them: who may add them, and whom they block.

Adding someone to a group without their say is allowed only to someone who already
shares a group with them, unless they chose "anyone" (`who_can_add_me`); everyone
else sends an invite link, which the person may or may not open. Blocking someone
means they can never add you to a group, and their messages carry
`sender_blocked: true` in what you read, so a client can fold them away. A block is
private: the blocked person is never told (adding you fails as any refusal does).
"""

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from app.errors import Conflict, Invalid, NotFound
from app.models import Block, Membership, User, utcnow
from app.schemas import BlockOut, MeOut
from app.services import digest, emails, notify, views
from app.services.context import Ctx

MAX_BLOCKS = 1000  # per person: each is a row, and every message list checks them


async def may_add(ctx: Ctx, actor_id: str, person: User) -> bool:
    """Whether `actor_id` may add `person` to a group directly."""
    if await ctx.db.get(Block, (person.id, actor_id)):
        return False
    if person.who_can_add_me == "anyone":
        return True
    theirs = aliased(Membership)
    shared = await ctx.db.scalar(
        select(Membership.group_id)
        .join(theirs, theirs.group_id == Membership.group_id)
        .where(Membership.user_id == actor_id, theirs.user_id == person.id)
        .limit(1)
    )
    return shared is not None


def me_out(user: User) -> MeOut:
    out = MeOut.model_validate(user)
    out.quiet_hours = notify.quiet_hours_out(user)
    out.has_password = user.password_hash != ""
    return out


async def update_me(ctx: Ctx, user: User, changes: dict[str, Any]) -> MeOut:
    """Apply the fields of a PATCH /me body that were sent (`changes`, as JSON values)."""
    if "email" in changes:
        await emails.set_email(ctx, user, changes["email"])
    values = notify.preference_columns(user, changes)
    for name in ("who_can_add_me", "display_name", "bio"):
        if changes.get(name) is not None:
            values[name] = changes[name]
    values |= digest.preference_columns(ctx.settings, user, changes)
    if values:
        await ctx.db.execute(update(User).where(User.id == user.id).values(**values))
        for name, value in values.items():
            setattr(user, name, value)
    await ctx.commit()
    return me_out(user)


def _block_out(block: Block) -> BlockOut:
    return BlockOut(user=views.user_out(block.blocked), created_at=block.created_at)


async def block(ctx: Ctx, user: User, *, blocked_id: str) -> tuple[BlockOut, bool]:
    """Block someone; blocking them again returns the first block (created False)."""
    if blocked_id == user.id:
        raise Invalid("You cannot block yourself.", code="cannot_block_self")
    earlier = await ctx.db.get(Block, (user.id, blocked_id))
    if earlier is not None:
        return _block_out(earlier), False
    other = await ctx.db.get(User, blocked_id)
    if other is None:
        raise NotFound("Nobody has that id.", code="user_not_found")
    at_limit = await ctx.db.scalar(
        select(Block.blocked_id).where(Block.user_id == user.id).offset(MAX_BLOCKS - 1).limit(1)
    )
    if at_limit is not None:
        raise Conflict(f"You can block at most {MAX_BLOCKS} people.", code="too_many_blocks")
    new = Block(user_id=user.id, blocked_id=blocked_id, created_at=utcnow())
    new.blocked = other
    raced = await ctx.add_unless_raced(new, lambda: ctx.db.get(Block, (user.id, blocked_id)))
    if raced is not None:
        return _block_out(raced), False
    out = _block_out(new)
    await ctx.commit()
    return out, True


async def list_blocks(ctx: Ctx, user: User) -> list[BlockOut]:
    rows = await ctx.db.scalars(
        select(Block).where(Block.user_id == user.id).order_by(Block.created_at.desc())
    )
    return [_block_out(b) for b in rows]


async def unblock(ctx: Ctx, user: User, *, blocked_id: str) -> None:
    found = await ctx.db.get(Block, (user.id, blocked_id))
    if found is None:
        raise NotFound("You have not blocked that person.", code="block_not_found")
    await ctx.db.delete(found)
    await ctx.commit()
