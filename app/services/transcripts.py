"""Transcripts of voice memos, made after a memo is `ready` and never delaying it.

A memo that becomes ready is marked `pending` (or `off` when the server or its
group has transcripts off) in the same commit, and submitted here. One task per
process takes pending memos in turn and runs `app.transcribe` in a pool of worker
processes (`transcribe_workers`), each holding the model loaded once, so the event
loop never waits on the engine. The result is written only if the memo is still
pending and not deleted, with a `message.updated` event. At start, this process
takes up the memos it finds pending (a crash loses no transcript request).
"""

import asyncio
import logging
import multiprocessing
import multiprocessing.pool
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import transcribe
from app.aio import cancel_and_wait
from app.models import Group, Message
from app.services import views
from app.services.context import Ctx, Runtime
from app.storage import audio
from app.storage.keys import audio_key

log = logging.getLogger(__name__)


def first_status(rt: Runtime, group: Group) -> str:
    """The transcript status of a memo that has just become ready."""
    return "pending" if rt.settings.transcripts and group.transcripts else "off"


class Transcripts:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._pool: multiprocessing.pool.Pool | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if not self._rt.settings.transcripts:
            return
        self._tasks = [
            asyncio.create_task(self._work()) for _ in range(self._rt.settings.transcribe_workers)
        ]
        async with self._rt.read_sessions() as db:
            pending = await db.scalars(
                select(Message.id)
                .where(Message.transcript_status == "pending", Message.deleted_at.is_(None))
                .order_by(Message.created_at)
            )
            for message_id in pending:
                self.submit(message_id)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self._pool is not None:  # its workers may be mid-job: end them, they hold nothing
            self._pool.terminate()
            self._pool = None

    def submit(self, message_id: str) -> None:
        if self._tasks and message_id not in self._queued:
            self._queued.add(message_id)
            self._queue.put_nowait(message_id)

    async def idle(self) -> None:
        """Wait until everything submitted so far is transcribed (for tests and benchmarks)."""
        await self._queue.join()

    async def _in_worker(self, *args: Any) -> transcribe.Transcript:
        """`transcribe.transcribe(*args)` in a worker process, awaited without blocking."""
        if self._pool is None:  # started on first use: a server with no memos loads no model
            self._pool = transcribe.worker_pool(self._rt.settings.transcribe_workers)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[transcribe.Transcript] = loop.create_future()

        def settle(outcome: Any, fail: bool = False) -> None:
            if not done.done():
                (done.set_exception if fail else done.set_result)(outcome)

        self._pool.apply_async(
            transcribe.transcribe,
            args,
            callback=lambda r: loop.call_soon_threadsafe(settle, r),
            error_callback=lambda e: loop.call_soon_threadsafe(settle, e, True),
        )
        return await done

    async def _work(self) -> None:
        while True:
            message_id = await self._queue.get()
            try:
                await self._transcribe(message_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("transcribing memo %s failed", message_id)
                await self._save(message_id, None)
            finally:
                self._queued.discard(message_id)
                self._queue.task_done()

    async def _transcribe(self, message_id: str) -> None:
        with tempfile.TemporaryDirectory(dir=self._rt.settings.work_dir) as tmp:
            path = Path(tmp) / "audio.ogg"
            try:
                await self._rt.blobs.fetch_to(audio_key(message_id), path)
            except FileNotFoundError:  # deleted meanwhile
                return
            result = await self._in_worker(path, audio.ffmpeg_binary())
        await self._save(message_id, result)

    async def _save(self, message_id: str, result: transcribe.Transcript | None) -> None:
        """Store the transcript (None: it failed) if the memo still waits for it."""
        async with self._rt.sessions() as db:
            ctx = Ctx(db=db, rt=self._rt)
            group_id = await db.scalar(select(Message.group_id).where(Message.id == message_id))
            if group_id is None:
                return
            # Lock the group row first: the same order as every other writer.
            await db.execute(select(Group.id).where(Group.id == group_id).with_for_update())
            message = await db.get(Message, message_id, populate_existing=True)
            if message is None or message.deleted_at or message.transcript_status != "pending":
                return
            if result is None:
                message.transcript_status = "failed"
            else:
                message.transcript_status = "ready"
                message.transcript_text = result.text
                message.transcript_language = result.language
            await db.flush()
            payload = await views.message_payload(ctx, message)
            await ctx.emit(group_id, "message.updated", payload)
            await ctx.commit()
