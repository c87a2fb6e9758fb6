"""Which voice memos of a group the caller has not heard yet, for "play unheard".

The same memos `group.unheard_count` counts: voice, by others, not deleted, not
failed, with no receipt of the caller's. Ids only, oldest first: a client plays them
in order and fetches each message when it comes to it.
"""

from sqlalchemy import select

from app.models import Message, Receipt, User
from app.services.context import Ctx
from app.services.groups import require_role


async def unheard_ids(ctx: Ctx, user: User, group_id: str, limit: int) -> tuple[list[str], bool]:
    await require_role(ctx, group_id, user.id)
    heard = select(Receipt.message_id).where(
        Receipt.message_id == Message.id, Receipt.user_id == user.id
    )
    rows = list(
        await ctx.db.scalars(
            select(Message.id)
            .where(
                Message.group_id == group_id,
                Message.kind == "voice",
                Message.sender_id != user.id,
                Message.deleted_at.is_(None),
                Message.voice_status != "failed",
                ~heard.exists(),
            )
            .order_by(Message.seq)
            .limit(limit + 1)
        )
    )
    return rows[:limit], len(rows) > limit
