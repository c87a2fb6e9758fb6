"""Subscribing people to the test push service, and waiting for the outbox to drain."""

import asyncio
import time
from typing import Any

from sqlalchemy import func, select

from app.models import OutboxItem
from tests.helpers import Api, Person
from tests.support.push_service import PushService, Subscription


async def subscribed(api: Api, push: PushService, who: Person) -> Subscription:
    """`who` subscribes a new browser, made with the server's VAPID key, as a client does."""
    key = (await api.ok(None, "GET", "/push/key"))["public_key"]
    sub = push.subscribe(application_server_key=key)
    r = await api.call(who, "POST", "/push/subscriptions", json=sub.info())
    assert r.status_code == 201, r.text
    return sub


async def pending(app: Any) -> int:
    """Outbox items not yet sent nor given up."""
    async with app.state.runtime.sessions() as db:
        return await db.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.failed_at.is_(None))
        )


async def drained(app: Any, timeout_s: float = 15) -> None:
    """Until every push queued so far was sent (or given up): what has not arrived by
    then never will."""
    deadline = time.monotonic() + timeout_s
    while await pending(app):
        assert time.monotonic() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.05)
