"""A queue of message ids worked on by a few tasks: the one shape of both background queues
(`app.services.ingest` converts memos, `app.services.transcripts` transcribes them).

Each id is queued once at a time; a job that fails is handed to `failed` and never
stops the workers. What must survive a crash lives in the database, not here: each
queue finds its unfinished work again at start.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.aio import cancel_and_wait

log = logging.getLogger(__name__)


class JobQueue:
    def __init__(
        self,
        work: Callable[[str], Awaitable[None]],
        failed: Callable[[str], Awaitable[None]],
    ) -> None:
        self._work, self._failed = work, failed
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, workers: int) -> None:
        self._tasks += [asyncio.create_task(self._worker()) for _ in range(workers)]

    def also_run(self, task: asyncio.Task[None]) -> None:
        """Stop `task` with the workers (a sweeper, say)."""
        self._tasks.append(task)

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def submit(self, message_id: str) -> None:
        if message_id not in self._queued:
            self._queued.add(message_id)
            self._queue.put_nowait(message_id)

    def queued(self, message_id: str) -> bool:
        return message_id in self._queued

    @property
    def depth(self) -> int:
        return len(self._queued)

    async def idle(self) -> None:
        """Wait until everything submitted so far is done (for tests and benchmarks)."""
        await self._queue.join()

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def _worker(self) -> None:
        while True:
            message_id = await self._queue.get()
            try:
                await self._work(message_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                await self._failed(message_id)
            finally:
                self._queued.discard(message_id)
                self._queue.task_done()
