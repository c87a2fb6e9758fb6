"""Which server process is responsible for a live or processing memo, and until when.

Several processes share one database. A memo being recorded (`live`) or converted
(`processing`) carries the id of the process working on it and the moment that
claim runs out; the process renews it while it works. Any process may take over
a memo whose claim ran out (its owner hung or its host died) or whose owner is a
process of this same host that no longer runs (a restart after a crash need not
wait). Taking over is a compare-and-set UPDATE, so each memo is converted once.
"""

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update

from app.aio import cancel_and_wait
from app.kinds import UNFINISHED
from app.models import Message, utcnow
from app.services.context import Runtime


def fresh(rt: Runtime) -> dict[str, Any]:
    """Column values for a lease held by this process from now."""
    return {"lease_owner": rt.process_id, "lease_until": _until(rt)}


def _until(rt: Runtime) -> datetime:
    return utcnow() + timedelta(seconds=rt.settings.lease_s)


async def claim(rt: Runtime, message_id: str, status: str, owner: str | None = None) -> bool:
    """Take the memo if it is in `status` and free, ours, expired (or held by `owner`)."""
    free = or_(
        Message.lease_owner.is_(None),
        Message.lease_owner == rt.process_id,
        Message.lease_until < utcnow(),
    )
    if owner is not None:
        free = or_(free, Message.lease_owner == owner)
    async with rt.sessions() as db:
        result = await db.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.voice_status == status,
                Message.deleted_at.is_(None),
                free,
            )
            .values(**fresh(rt))
        )
        await db.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


async def renew(rt: Runtime, message_id: str) -> bool:
    async with rt.sessions() as db:
        result = await db.execute(
            update(Message)
            .where(Message.id == message_id, Message.lease_owner == rt.process_id)
            .values(lease_until=_until(rt))
        )
        await db.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def kept(rt: Runtime, message_id: str) -> AsyncIterator[None]:
    """Renew this process's lease on the memo for as long as the block runs."""

    async def keep() -> None:
        while True:
            await asyncio.sleep(rt.settings.lease_s / 3)
            await renew(rt, message_id)

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        await cancel_and_wait([task])


RUNNING_HERE: set[str] = set()  # process ids of the servers running in this OS process


def _abandoned(owner: str) -> bool:
    """The owner was a server of this host that no longer runs."""
    host, pid, _ = owner.rsplit("-", 2)
    if host != socket.gethostname() or owner in RUNNING_HERE or not pid.isdigit():
        return False
    # In a container a restarted server often gets the old pid: same pid, not running here.
    return int(pid) == os.getpid() or not Path(f"/proc/{pid}").exists()


@dataclass
class Orphan:
    message_id: str
    status: str  # "live" or "processing"
    owner: str | None


async def orphans(rt: Runtime) -> list[Orphan]:
    """Live and processing memos that nobody is working on any more."""
    now = utcnow()
    async with rt.sessions() as db:
        rows = (
            await db.execute(
                select(Message.id, Message.voice_status, Message.lease_owner, Message.lease_until)
                .where(
                    Message.voice_status.in_(UNFINISHED),
                    Message.deleted_at.is_(None),
                )
                .order_by(Message.created_at)
            )
        ).all()
    return [
        Orphan(mid, status, owner)
        for mid, status, owner, until in rows
        if status is not None
        and (owner is None or until is None or until < now or _abandoned(owner))
    ]
