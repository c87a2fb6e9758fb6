"""Retention: a group may keep messages for `retention_days`; older ones are deleted.

Each sweep (see `app.services.ingest`) erases expired messages as any delete
does (`app.services.erasure`): members hear `message.deleted`, stored events keep
only the tombstone, and the audio leaves storage. A pass handles at most BATCH
messages per group, oldest first, so a newly shortened retention is worked off
over a few sweeps.
"""

import logging
from datetime import timedelta

from sqlalchemy import select

from app.models import Group, Message, utcnow
from app.services.context import Runtime, transaction
from app.services.erasure import erase_message

log = logging.getLogger(__name__)

BATCH = 200


async def sweep(rt: Runtime) -> int:
    """Delete the messages past their group's retention; returns how many."""
    now = utcnow()
    async with rt.sessions() as db:
        groups = (
            await db.execute(
                select(Group.id, Group.retention_days).where(Group.retention_days.is_not(None))
            )
        ).all()
    deleted = 0
    for group_id, days in groups:
        if days is None:  # filtered out above
            continue
        cutoff = now - timedelta(days=days)
        async with rt.sessions() as db:
            expired = list(
                await db.scalars(
                    select(Message.id)
                    .where(
                        Message.group_id == group_id,
                        Message.deleted_at.is_(None),
                        Message.created_at < cutoff,
                    )
                    .order_by(Message.seq)
                    .limit(BATCH)
                )
            )
        for message_id in expired:
            async with transaction(rt) as ctx:
                if await erase_message(ctx, message_id):
                    deleted += 1
                await ctx.commit()
    if deleted:
        log.info("retention removed %d messages", deleted)
    return deleted
