"""The outbox on a real database: each item handled once by competing workers, claims
that run out taken over, backoff, giving up, and handler writes tied to completion."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.aio import cancel_and_wait
from app.config import Settings
from app.models import OutboxItem, utcnow
from app.services import outbox
from app.services.context import Ctx, Runtime, open_runtime

CHANNEL = "test"


@pytest.fixture
async def runtimes(settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    """Runtimes on the same database, each with its own engine and process id, as two
    server processes have."""
    async with AsyncExitStack() as stack:

        async def make(**changes: Any) -> Runtime:
            return await stack.enter_async_context(
                open_runtime(settings.model_copy(update=changes), shared=False)
            )

        yield make


async def enqueue(rt: Runtime, count: int) -> None:
    async with rt.sessions() as db:
        ctx = Ctx(db=db, rt=rt)
        for n in range(count):
            outbox.enqueue(ctx, CHANNEL, {"n": n})
        await ctx.commit()


async def rows(rt: Runtime) -> list[OutboxItem]:
    async with rt.sessions() as db:
        return list((await db.scalars(select(OutboxItem).order_by(OutboxItem.created_at))).all())


async def test_competing_workers_handle_each_item_once(runtimes: Callable[..., Any]) -> None:
    a, b = await runtimes(), await runtimes()
    await enqueue(a, 60)
    handled: list[tuple[str, int]] = []

    def handler_for(name: str) -> outbox.Handler:
        async def handle(rt: Runtime, item: outbox.Item) -> outbox.Outcome:
            await asyncio.sleep(0.005)
            handled.append((name, item.payload["n"]))
            return outbox.Sent()

        return handle

    workers = [
        outbox.Worker(rt, {CHANNEL: handler_for(name)}, concurrency=4)
        for rt, name in ((a, "a"), (b, "b"))
    ]

    async def drain(worker: outbox.Worker) -> None:
        while await worker.run_once():
            pass

    await asyncio.gather(*(drain(w) for w in workers))
    assert sorted(n for _, n in handled) == list(range(60))
    assert await rows(a) == []


async def test_a_claim_that_ran_out_is_taken_over_and_the_late_owner_changes_nothing(
    runtimes: Callable[..., Any],
) -> None:
    # A lease long enough that b's first try surely comes while a's claim holds.
    a, b = await runtimes(lease_s=2), await runtimes(lease_s=2)
    await enqueue(a, 1)
    [held] = await outbox.claim(a, 10)  # then a hangs (or dies) without settling
    assert await outbox.claim(b, 10) == []
    await asyncio.sleep(2.2)
    [taken] = await outbox.claim(b, 10)
    assert taken.id == held.id and taken.claim != held.claim
    await outbox.settle(a, [(held, outbox.Retry("late"))], base_s=60)  # a wakes up: ignored
    [row] = await rows(a)
    assert row.claimed_by == taken.claim and row.attempts == 0
    await outbox.settle(b, [(taken, outbox.Sent())], base_s=60)
    assert await rows(a) == []


async def test_retries_back_off_or_wait_as_long_as_asked(runtimes: Callable[..., Any]) -> None:
    rt = await runtimes()
    await enqueue(rt, 2)
    first, second = await outbox.claim(rt, 10)
    before = utcnow()
    await outbox.settle(rt, [(first, outbox.Retry("429", after_s=30))], base_s=2)
    await outbox.settle(rt, [(second, outbox.Retry("503"))], base_s=2)
    by_id = {r.id: r for r in await rows(rt)}
    asked, backed_off = by_id[first.id], by_id[second.id]
    assert asked.attempts == backed_off.attempts == 1
    assert asked.claimed_by is None and asked.last_error == "429"
    assert timedelta(seconds=29) < asked.next_attempt_at - before < timedelta(seconds=31)
    assert timedelta(seconds=1.5) < backed_off.next_attempt_at - before < timedelta(seconds=2.5)
    assert await outbox.claim(rt, 10) == []  # neither is due yet
    assert 16 * 0.8 <= outbox.backoff_s(4, base_s=2) <= 16 * 1.2  # doubling
    assert outbox.backoff_s(40) <= outbox.BACKOFF_MAX_S * 1.2


async def test_an_item_is_given_up_after_its_last_attempt_and_purged_later(
    runtimes: Callable[..., Any],
) -> None:
    rt = await runtimes()
    await enqueue(rt, 1)
    for _ in range(outbox.MAX_ATTEMPTS):
        [item] = await outbox.claim(rt, 10)
        await outbox.settle(rt, [(item, outbox.Retry("503", after_s=0))], base_s=0)
    [row] = await rows(rt)
    assert row.failed_at is not None and row.attempts == outbox.MAX_ATTEMPTS
    assert await outbox.claim(rt, 10) == []
    await outbox.purge_failed(rt)
    assert len(await rows(rt)) == 1  # kept a while, for whoever looks into it
    async with rt.sessions() as db:
        await db.execute(update(OutboxItem).values(failed_at=utcnow() - timedelta(days=8)))
        await db.commit()
    await outbox.purge_failed(rt)
    assert await rows(rt) == []


async def test_a_handler_that_raises_is_retried_not_lost(runtimes: Callable[..., Any]) -> None:
    rt = await runtimes()
    await enqueue(rt, 1)
    calls = 0

    async def flaky(rt: Runtime, item: outbox.Item) -> outbox.Outcome:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the database went away")
        return outbox.Sent()

    worker = outbox.Worker(rt, {CHANNEL: flaky}, concurrency=1, backoff_base_s=0.01)
    assert await worker.run_once() == 1
    [row] = await rows(rt)
    assert "ConnectionError" in (row.last_error or "")
    await asyncio.sleep(0.05)
    assert await worker.run_once() == 1
    assert calls == 2 and await rows(rt) == []


async def test_nothing_is_queued_by_a_transaction_that_rolls_back(
    runtimes: Callable[..., Any],
) -> None:
    rt = await runtimes()
    async with rt.sessions() as db:
        outbox.enqueue(Ctx(db=db, rt=rt), CHANNEL, {"n": 1})
        await db.flush()
        await db.rollback()
    assert await rows(rt) == []


async def test_what_a_handler_writes_happens_only_with_its_completion(
    runtimes: Callable[..., Any],
) -> None:
    """A handler that lost its claim (another worker took over) writes nothing."""
    a, b = await runtimes(lease_s=0.2), await runtimes(lease_s=0.2)
    await enqueue(a, 1)
    [held] = await outbox.claim(a, 1)
    await asyncio.sleep(0.3)
    [taken] = await outbox.claim(b, 1)
    for rt, item in ((a, held), (b, taken)):
        async with rt.sessions() as db:
            outbox.add(db, "follow-up", {"by": rt.process_id})
            if await outbox.finish(db, item):
                await db.commit()
            else:
                await db.rollback()
    [follow_up] = await rows(a)
    assert follow_up.channel == "follow-up" and follow_up.payload == {"by": b.process_id}
    async with a.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(OutboxItem)) == 1


async def test_a_slow_send_keeps_its_claim_beyond_one_lease(runtimes: Callable[..., Any]) -> None:
    """The worker renews its claim while it works: nobody else takes the item over."""
    # Leases long enough that a renewal (every third of one) is never late on a loaded
    # machine, and a send that outlasts more than two of them.
    a, b = await runtimes(lease_s=1.5), await runtimes(lease_s=1.5)
    await enqueue(a, 1)
    calls: list[str] = []

    async def slow(rt: Runtime, item: outbox.Item) -> outbox.Outcome:
        calls.append(rt.process_id)
        await asyncio.sleep(4.0)
        return outbox.Sent()

    sending = asyncio.create_task(outbox.Worker(a, {CHANNEL: slow}, concurrency=1).run_once())
    try:
        await asyncio.sleep(0.25)
        for _ in range(14):
            assert await outbox.claim(b, 10) == []
            await asyncio.sleep(0.25)
        assert await sending == 1
    finally:
        if not sending.done():  # a failed check: no task left using the runtime
            await cancel_and_wait([sending])
    assert calls == [a.process_id] and await rows(a) == []


async def test_a_worker_leaves_channels_it_has_no_handler_for(
    runtimes: Callable[..., Any],
) -> None:
    """A process that does not know a channel yet (a rolling upgrade) leaves its items."""
    rt = await runtimes()
    await enqueue(rt, 1)
    handled: list[int] = []

    async def handle(rt: Runtime, item: outbox.Item) -> outbox.Outcome:
        handled.append(item.payload["n"])
        return outbox.Sent()

    assert await outbox.Worker(rt, {"other": handle}, concurrency=1).run_once() == 0
    [row] = await rows(rt)
    assert row.attempts == 0 and row.failed_at is None
    assert await outbox.Worker(rt, {CHANNEL: handle}, concurrency=1).run_once() == 1
    assert handled == [0] and await rows(rt) == []
