"""The processing queue for voice memos: bounded workers, and recovery at start-up.

The database is the queue's memory: a memo is `processing` until it is done, so
a memo whose process died mid-way is simply picked up again at the next start;
a live message whose process died is ended with what it had received.
"""

import asyncio
import logging

from sqlalchemy import select

from app.aio import cancel_and_wait
from app.models import Message
from app.services import voice
from app.services.context import Runtime
from app.services.live import finish_live

log = logging.getLogger(__name__)


class Ingest:
    def __init__(self, rt: Runtime, workers: int) -> None:
        self._rt = rt
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]
        async with self._rt.sessions() as db:
            interrupted = list(
                await db.scalars(select(Message.id).where(Message.voice_status == "live"))
            )
        for message_id in interrupted:  # their senders' connections died with the old process
            await finish_live(self._rt, message_id)
        async with self._rt.sessions() as db:
            pending = await db.scalars(
                select(Message.id)
                .where(Message.voice_status == "processing", Message.deleted_at.is_(None))
                .order_by(Message.created_at)
            )
            for message_id in pending:
                self.submit(message_id)

    def submit(self, message_id: str) -> None:
        if message_id not in self._queued:
            self._queued.add(message_id)
            self._queue.put_nowait(message_id)

    @property
    def depth(self) -> int:
        return len(self._queued)

    async def idle(self) -> None:
        """Wait until everything submitted so far is processed (for tests and benchmarks)."""
        await self._queue.join()

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def _work(self) -> None:
        while True:
            message_id = await self._queue.get()
            try:
                await voice.process(self._rt, message_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # stays `processing`; retried at the next start
                log.exception("processing voice memo %s failed", message_id)
            finally:
                self._queued.discard(message_id)
                self._queue.task_done()
