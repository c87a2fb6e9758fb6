"""The outbox: a durable queue of things sent outside the server (pushes now, email later).

An item is a row, added in the same transaction as the change that causes it, so
a crash loses nothing and a rolled-back change sends nothing; nothing is sent in
the request path. A worker in every server process claims due items with a lease
(`claimed_by` until `claimed_until`, a compare-and-set UPDATE, `SKIP LOCKED` on
PostgreSQL), renewed while it works, so each is attempted by one process at a
time; a process that dies holding a claim loses it when the lease runs out and
another takes the item over.

Each channel has a handler that sends one item and says how it went:
`Sent` (the row is deleted), `Retry` (put off: the handler's `after_s`, e.g. from
`Retry-After`, else exponential backoff with jitter; after `MAX_ATTEMPTS` it is
given up) or `Failed` (given up at once: kept with `failed_at` and `last_error`
for PURGE_FAILED_AFTER, then deleted). Sending is at least once: a process that
dies after the far side accepted an item and before deleting it sends it again.
A handler that writes rows of its own completes its item with `finish` in the
same transaction, so those writes happen exactly once.
"""

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.aio import cancel_and_wait
from app.models import OutboxItem, utcnow
from app.services.context import Ctx, Runtime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BACKOFF_BASE_S = 5.0  # 5 s, 10 s, 20 s ... between attempts
BACKOFF_MAX_S = 3600.0
PURGE_FAILED_AFTER = timedelta(days=7)
MAX_ERROR_CHARS = 500
BATCHES_PER_CLAIM = 4  # a claim takes this many times the items sent at once


@dataclass
class Item:
    id: str
    channel: str
    payload: dict[str, Any]
    attempts: int  # earlier attempts
    claim: str  # this worker's claim on it


@dataclass
class Sent:
    pass


@dataclass
class Retry:
    error: str
    after_s: float | None = None  # None: exponential backoff


@dataclass
class Failed:
    error: str


Outcome = Sent | Retry | Failed
Handler = Callable[[Runtime, Item], Awaitable[Outcome]]


def enqueue(ctx: Ctx, channel: str, payload: dict[str, Any]) -> None:
    """Add an item to this transaction; the local worker looks at once after commit."""
    ctx.db.add(OutboxItem(channel=channel, payload=payload, attempts=0, next_attempt_at=utcnow()))
    rt = ctx.rt

    async def wake() -> None:
        rt.wake_outbox()

    ctx.after_commit(wake)


def add(db: AsyncSession, channel: str, payload: dict[str, Any]) -> None:
    """Add an item within a handler's own transaction (see `finish`)."""
    db.add(OutboxItem(channel=channel, payload=payload, attempts=0, next_attempt_at=utcnow()))


async def finish(db: AsyncSession, item: Item) -> bool:
    """Delete `item` in `db`'s transaction if this worker still holds it (else False:
    its claim ran out and another worker has it, so roll back)."""
    result = await db.execute(
        delete(OutboxItem).where(OutboxItem.id == item.id, OutboxItem.claimed_by == item.claim)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def backoff_s(attempts: int, base_s: float = BACKOFF_BASE_S) -> float:
    """The wait after the `attempts`-th failed attempt: doubling, capped, ±20% jitter."""
    wait = min(base_s * 2 ** (attempts - 1), BACKOFF_MAX_S)
    return wait * random.uniform(0.8, 1.2)


async def claim(rt: Runtime, limit: int, channels: Collection[str] | None = None) -> list[Item]:
    """Take up to `limit` due items that nobody holds (or whose holder's lease ran out),
    of `channels` only if given (a process sends only what it has handlers for)."""
    now = utcnow()
    token = f"{rt.process_id}/{uuid.uuid4().hex[:8]}"
    free = or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now)
    ready = [OutboxItem.next_attempt_at <= now, OutboxItem.failed_at.is_(None), free]
    if channels is not None:
        ready.append(OutboxItem.channel.in_(list(channels)))
    async with rt.read_sessions() as db:  # idle most of the time: look before locking
        if await db.scalar(select(OutboxItem.id).where(*ready).limit(1)) is None:
            return []
    due = (
        select(OutboxItem.id)
        .where(*ready)
        .order_by(OutboxItem.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with rt.sessions() as db:
        await db.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(due.scalar_subquery()), free)
            .values(claimed_by=token, claimed_until=now + timedelta(seconds=rt.settings.lease_s))
            .execution_options(synchronize_session=False)
        )
        rows = (await db.scalars(select(OutboxItem).where(OutboxItem.claimed_by == token))).all()
        await db.commit()
    return [Item(r.id, r.channel, r.payload, r.attempts, token) for r in rows]


async def renew(rt: Runtime, claim: str) -> None:
    """Extend this worker's claim on the items it is still sending."""
    async with rt.sessions() as db:
        await db.execute(
            update(OutboxItem)
            .where(OutboxItem.claimed_by == claim)
            .values(claimed_until=utcnow() + timedelta(seconds=rt.settings.lease_s))
        )
        await db.commit()


@contextlib.asynccontextmanager
async def kept(rt: Runtime, claim: str) -> AsyncIterator[None]:
    """Renew the claim every third of the lease for as long as the block runs: a batch
    may take longer than one lease, and only a dead worker's claim should run out."""

    async def keep() -> None:
        while True:
            await asyncio.sleep(rt.settings.lease_s / 3)
            try:
                await renew(rt, claim)
            except Exception:  # the database may be away a moment; the next try may work
                log.exception("renewing an outbox claim failed")

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        await cancel_and_wait([task])


async def settle(rt: Runtime, results: list[tuple[Item, Outcome]], base_s: float) -> None:
    """Record how attempts went, in one transaction (nothing for a claim lost meanwhile)."""
    sent = [item for item, outcome in results if isinstance(outcome, Sent)]
    async with rt.sessions() as db:
        if sent:
            await db.execute(
                delete(OutboxItem).where(
                    OutboxItem.id.in_([item.id for item in sent]),
                    OutboxItem.claimed_by.in_({item.claim for item in sent}),
                )
            )
        for item, outcome in results:
            if not isinstance(outcome, Sent):
                await db.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == item.id, OutboxItem.claimed_by == item.claim)
                    .values(**_put_off(item, outcome, base_s))
                )
        await db.commit()


def _put_off(item: Item, outcome: Retry | Failed, base_s: float) -> dict[str, Any]:
    """The column values after an attempt that failed: due again later, or given up."""
    attempts = item.attempts + 1
    error = outcome.error[:MAX_ERROR_CHARS]
    values: dict[str, Any] = {
        "attempts": attempts,
        "claimed_by": None,
        "claimed_until": None,
        "last_error": error,
    }
    if isinstance(outcome, Failed) or attempts >= MAX_ATTEMPTS:
        values["failed_at"] = utcnow()
        log.warning("outbox %s item %s given up: %s", item.channel, item.id, error)
    else:
        wait = outcome.after_s if outcome.after_s is not None else backoff_s(attempts, base_s)
        values["next_attempt_at"] = utcnow() + timedelta(seconds=min(wait, BACKOFF_MAX_S))
    return values


def _result(item: Item, outcome: Outcome) -> str:
    """How an attempt went, for the metrics: sent, retry (due again later) or given_up."""
    if isinstance(outcome, Sent):
        return "sent"
    if isinstance(outcome, Failed) or item.attempts + 1 >= MAX_ATTEMPTS:
        return "given_up"
    return "retry"


async def purge_failed(rt: Runtime) -> None:
    async with rt.sessions() as db:
        await db.execute(
            delete(OutboxItem).where(OutboxItem.failed_at < utcnow() - PURGE_FAILED_AFTER)
        )
        await db.commit()


class Worker:
    """Sends due items with the channel handlers, `concurrency` at a time, in this process."""

    def __init__(
        self,
        rt: Runtime,
        handlers: dict[str, Handler],
        *,
        concurrency: int,
        poll_s: float = 1.0,
        backoff_base_s: float = BACKOFF_BASE_S,
    ) -> None:
        self._rt = rt
        self._handlers = handlers
        self._concurrency = max(1, concurrency)
        self._poll_s = poll_s
        self._backoff_base_s = backoff_base_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def _run(self) -> None:
        last_purge = 0.0
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()  # a wake from here on is seen after this pass
            try:
                while await self.run_once():
                    pass
                if loop.time() - last_purge > self._rt.settings.sweep_interval_s:
                    last_purge = loop.time()
                    await purge_failed(self._rt)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away for a moment; try again later
                log.exception("the outbox worker failed; trying again")
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """Claim and send one batch; how many items it held."""
        items = await claim(self._rt, self._concurrency * BATCHES_PER_CLAIM, self._handlers)
        if items:
            slots = asyncio.Semaphore(self._concurrency)

            async def attempt(item: Item) -> Outcome:
                async with slots:
                    return await self._attempt(item)

            async with kept(self._rt, items[0].claim):
                outcomes = await asyncio.gather(*(attempt(item) for item in items))
            results = list(zip(items, outcomes, strict=True))
            await settle(self._rt, results, self._backoff_base_s)
            for item, outcome in results:
                self._rt.metrics.outbox_attempts.labels(item.channel, _result(item, outcome)).inc()
        return len(items)

    async def _attempt(self, item: Item) -> Outcome:
        try:
            outcome = await self._handlers[item.channel](self._rt, item)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug or an outage: try again later, never lose it
            log.exception("outbox %s item %s failed", item.channel, item.id)
            outcome = Retry(f"{type(error).__name__}: {error}")
        return outcome
